"""benchmarks/tf32_emulation.py: TF32 rounding and the products it routes through it."""

from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).parents[1]


@pytest.fixture()
def emulation(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import tf32_emulation

    return tf32_emulation


def test_rounding_keeps_ten_mantissa_bits_to_nearest_even(emulation):
    step = 2.0**-10  # TF32's spacing just above 1
    values = torch.tensor([1 + step / 2, 1 + 3 * step / 2, -(1 + 3 * step / 2), 1 + step / 2 + 2**-20,
                           0.1, float("inf"), float("nan"), -0.0])
    rounded = emulation.round_to_tf32(values)
    expected = [1.0, 1 + 2 * step, -(1 + 2 * step), 1 + step]  # ties to even; above a tie rounds up
    assert rounded[:4].tolist() == expected
    assert abs(float(rounded[4]) - 0.1) <= 0.1 * 2**-11  # within half a TF32 unit
    assert torch.isinf(rounded[5]) and torch.isnan(rounded[6]) and str(float(rounded[7])) == "-0.0"
    random = emulation.round_to_tf32(torch.randn(1000))
    assert int((random.view(torch.int32) & 0x1FFF).abs().sum()) == 0  # the 13 dropped bits are zero
    assert emulation.round_to_tf32(torch.ones(2, dtype=torch.float64)).dtype == torch.float64  # untouched


def test_products_use_rounded_operands_forward_and_backward(emulation):
    torch.manual_seed(0)
    x = torch.randn(40, 30, requires_grad=True)
    layer = torch.nn.Linear(30, 20)
    with emulation.TF32MatrixProducts() as mode:
        out = layer(x)
        distances = torch.cdist(x, x[:30].detach())
        (out.sum() + distances.sum()).backward()
    rounded = emulation.round_to_tf32
    expected = rounded(x.detach()) @ rounded(layer.weight.detach()).T + layer.bias.detach()
    torch.testing.assert_close(out.detach(), expected)
    assert mode.products == 2
    exact = torch.cdist(x.detach(), x[:30].detach())
    off_diagonal = ~torch.eye(40, 30, dtype=torch.bool)
    np.testing.assert_allclose(distances.detach()[off_diagonal], exact[off_diagonal], rtol=5e-3)
    assert torch.isfinite(x.grad).all() and torch.isfinite(layer.weight.grad).all()
    grad_weight = rounded(torch.ones(40, 20)).T @ rounded(x.detach())
    torch.testing.assert_close(layer.weight.grad, grad_weight)
