"""Does TF32 arithmetic train the paper's recipe as well as fp32? A CPU emulation.

The speed issue's 6 s goal for a joint F = 200 epoch on one H100 is met only with
``--precision tf32`` (docs/pretraining.md, "Goals of the speed issue"). A TF32 tensor core
multiplies float32 operands rounded to TF32 (10 explicit mantissa bits instead of 23, the same
8-bit exponent) and accumulates in float32. ``benchmarks/gpu/tf32_check.sh`` compares the two on
a lent GPU; where none is lent, this script emulates that arithmetic on the CPU: a
``TorchFunctionMode`` computes every float32 matrix product of the run (linear layers, ``@``,
``mm``, ``bmm``, and ``cdist`` the way ATen computes it, through one product) from operands
rounded to TF32 (round to nearest, ties to even), in the forward pass and in the backward pass's
products alike. Nothing else changes (see :class:`TF32MatrixProducts` for what is not covered).

Each run is ``polysrl pretrain --paper`` on the same formula sample (``benchmarks/gpu/
sample_formulas.py``) for ``--epochs`` epochs. To tell a TF32 effect from run-to-run noise, fp32
runs with other seeds are the yardstick: TF32 with seed 0 should differ from fp32 with seed 0 by
no more than fp32 seeds differ from one another. The table gives, per run, the loss of every
epoch and, on the run's own held-out formulas, the effective rank of the mean vectors and the
AUROC of the uncertainty for formulas with two or more structures in the sample.

Usage::

    python benchmarks/gpu/sample_formulas.py $POLYSRL_MP_STRUCTURES runs/mp_32nd.jsonl.gz --share 0.03125
    python benchmarks/tf32_emulation.py runs/mp_32nd.jsonl.gz --epochs 10 --runs fp32:0 tf32:0 fp32:1 \\
        --out runs/tf32
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch.overrides import TorchFunctionMode


def round_to_tf32(values: torch.Tensor) -> torch.Tensor:
    """Round float32 values to TF32's 10 mantissa bits, to nearest, ties to even.

    Parameters
    ----------
    values : torch.Tensor
        Any tensor; only float32 is rounded, other dtypes come back unchanged.

    Returns
    -------
    torch.Tensor
        A float32 tensor whose 13 lowest mantissa bits are zero. Infinities and NaNs stay
        what they are.
    """
    if values.dtype != torch.float32:
        return values
    bits = values.contiguous().view(torch.int32).to(torch.int64)
    lowest_kept = (bits >> 13) & 1
    rounded = ((bits + 0xFFF + lowest_kept) & ~0x1FFF) & 0xFFFFFFFF
    rounded = torch.where(rounded >= 2**31, rounded - 2**32, rounded).to(torch.int32)
    result = rounded.view(torch.float32)
    return torch.where(torch.isfinite(values), result, values)


class TF32Product(torch.autograd.Function):
    """``a @ b`` with both operands rounded to TF32, and so are the backward pass's products."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        rounded_a, rounded_b = round_to_tf32(a), round_to_tf32(b)
        ctx.save_for_backward(rounded_a, rounded_b)
        return torch.matmul(rounded_a, rounded_b)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        rounded_a, rounded_b = ctx.saved_tensors
        grad = round_to_tf32(grad)
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = torch.matmul(grad, rounded_b.mT).sum_to_size(rounded_a.shape)
        if ctx.needs_input_grad[1]:
            grad_b = torch.matmul(rounded_a.mT, grad).sum_to_size(rounded_b.shape)
        return grad_a, grad_b


def tf32_product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """TF32 ``a @ b`` for float32 operands of two or more dimensions; any other product exactly."""
    if a.dtype == b.dtype == torch.float32 and a.dim() >= 2 and b.dim() >= 2:
        return TF32Product.apply(a, b)
    return torch.matmul(a, b)


def tf32_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``torch.nn.functional.linear`` with a TF32 product."""
    out = tf32_product(x.reshape(-1, x.shape[-1]), weight.mT).reshape(*x.shape[:-1], weight.shape[0])
    return out if bias is None else out + bias


def tf32_cdist(x1: torch.Tensor, x2: torch.Tensor, p: float = 2.0,
               compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> torch.Tensor:
    """``torch.cdist`` computed as ATen does through a matrix product (p = 2, over 25 rows), in TF32.

    ATen's ``_euclidean_dist``: one product of ``[-2 x1, |x1|^2, 1]`` and ``[x2, 1, |x2|^2]``,
    clamped at 0, then the square root. Every other case is computed exactly, as on the GPU.
    """
    uses_product = p == 2 and compute_mode != "donot_use_mm_for_euclid_dist" and (
        compute_mode == "use_mm_for_euclid_dist" or x1.shape[-2] > 25 or x2.shape[-2] > 25)
    if not uses_product or x1.dtype != torch.float32:
        return torch.cdist(x1, x2, p=p, compute_mode=compute_mode)
    norm1, norm2 = x1.pow(2).sum(-1, keepdim=True), x2.pow(2).sum(-1, keepdim=True)
    left = torch.cat([x1 * -2, norm1, torch.ones_like(norm1)], dim=-1)
    right = torch.cat([x2, torch.ones_like(norm2), norm2], dim=-1)
    return tf32_product(left, right.mT).clamp_min(0).sqrt()


class TF32MatrixProducts(TorchFunctionMode):
    """Compute every float32 matrix product (linear layers, ``@``, ``mm``, ``bmm``, ``cdist``) in TF32.

    Not covered: products inside a fused operator (the LSTM cells of PyG's Set2Set pooling),
    which stay float32 here while cuDNN runs them in TF32 on the GPU.
    """

    def __init__(self) -> None:
        super().__init__()
        self.products = 0
        self.handlers = {
            torch.nn.functional.linear: tf32_linear,
            torch.matmul: tf32_product, torch.Tensor.matmul: tf32_product,
            torch.Tensor.__matmul__: tf32_product,
            torch.Tensor.__rmatmul__: lambda a, b: tf32_product(b, a),
            torch.mm: tf32_product, torch.Tensor.mm: tf32_product,
            torch.bmm: tf32_product, torch.Tensor.bmm: tf32_product,
            torch.cdist: tf32_cdist,
        }

    def __torch_function__(self, func, types, args=(), kwargs=None):
        handler = self.handlers.get(func)
        if handler is None:
            return func(*args, **(kwargs or {}))
        self.products += 1
        return handler(*args, **(kwargs or {}))


def pretrain_run(data: str, precision: str, seed: int, epochs: int, out: Path, threads: int) -> tuple[Path, float, int]:
    """One ``polysrl pretrain --paper`` run, in TF32 emulation when ``precision == "tf32"``."""
    from polysrl_sklearn.cli import main

    model = out / f"{precision}_seed{seed}.pt"
    argv = ["pretrain", "--paper", "--data", data, "--device", "cpu", "--threads", str(threads),
            "--seed", str(seed), "--epochs", str(epochs), "--cache-dir", str(out / "cache"),
            "--export", str(model)]
    mode = TF32MatrixProducts() if precision == "tf32" else None
    start = time.perf_counter()
    if mode is None:
        main(argv)
    else:
        with mode:
            main(argv)
    return model, time.perf_counter() - start, (mode.products if mode else 0)


def sample_held_out_measures(model: Path, data: str, cache_dir: Path, device: str = "cpu"
                             ) -> tuple[list[float], float, float]:
    """Per-epoch losses, effective rank and polymorph AUROC on the model's held-out formulas.

    The AUROC's labels count the structures of each formula in the sample ``data`` (>= 2 against 1);
    ``benchmarks/gpu/tf32_check.sh`` calls this too, on its GPU models.
    """
    from polysrl_sklearn.corpus import corpus_from_mp_jsonl
    from polysrl_sklearn.featurizer import PolySRLFeaturizer
    from polysrl_sklearn.validation import effective_rank, held_out_formulas, uncertainty_auroc

    corpus = corpus_from_mp_jsonl(data, cache_dir=cache_dir, verbose=False)
    counts = Counter(corpus.formulas[i] for i in corpus.formula_of_structure)
    featurizer = PolySRLFeaturizer(pretrained=str(model), device=device).fit([])
    formulas = held_out_formulas(str(model))
    features = featurizer.transform(formulas)
    label = np.array([counts.get(formula, 1) >= 2 for formula in formulas])
    losses = [float(record["loss"]) for record in getattr(featurizer, "history_", [])]
    return losses, effective_rank(features[:, :-1]), uncertainty_auroc(features[:, -1], label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="MP JSON-lines structures (a formula sample)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--runs", nargs="+", default=["fp32:0", "tf32:0", "fp32:1"],
                        help="PRECISION:SEED pairs, PRECISION in fp32, tf32")
    parser.add_argument("--out", default="runs/tf32", help="folder for the models and the corpus cache")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for run in args.runs:
        precision, seed = run.split(":")
        if precision not in ("fp32", "tf32"):
            parser.error(f"unknown precision {precision!r} in {run!r}")
        model, seconds, products = pretrain_run(args.data, precision, int(seed), args.epochs, out, args.threads)
        losses, rank, auroc = sample_held_out_measures(model, args.data, out / "cache")
        rows.append((run, seconds, products, losses, rank, auroc))
        print(f"{run}: {seconds:.0f} s, {products} TF32 matrix products, final loss {losses[-1]:.6f}",
              flush=True)
    reference = rows[0][3]
    print()
    print(f"python benchmarks/tf32_emulation.py {args.data} --epochs {args.epochs} --runs {' '.join(args.runs)}")
    print()
    print("| run | seconds | final loss | largest relative loss gap to "
          f"{rows[0][0]} (any epoch) | effective rank (held out) | AUROC >= 2 structures (held out) |")
    print("|---|---:|---:|---:|---:|---:|")
    for run, seconds, _, losses, rank, auroc in rows:
        gap = max(abs(a - b) / abs(b) for a, b in zip(losses, reference))
        print(f"| {run} | {seconds:.0f} | {losses[-1]:.6f} | {gap:.2e} | {rank:.1f} | {auroc:.3f} |")
    print()
    print("| epoch | " + " | ".join(row[0] for row in rows) + " |")
    print("|---:|" + "---:|" * len(rows))
    for epoch in range(len(reference)):
        print(f"| {epoch + 1} | " + " | ".join(f"{row[3][epoch]:.6f}" for row in rows) + " |")


if __name__ == "__main__":
    main()
