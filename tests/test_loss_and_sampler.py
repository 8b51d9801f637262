import math

import numpy as np
import torch

from polysrl_sklearn.sampler import PolymorphBatchSampler
from polysrl_sklearn.soft_contrastive import SoftContrastiveLoss, gaussian_kl


def reference_loss(samples, structures, owner, c, d):
    """Straightforward per-pair loop, used only to check the tensor code."""
    n = samples.shape[0]
    total = 0.0
    for a in range(n):
        for b in range(n):
            members = structures[owner == b]
            p = torch.stack([torch.sigmoid(-c * torch.linalg.norm(s - z) + d)
                             for s in samples[a] for z in members]).mean()
            total += -torch.log(p) if a == b else -torch.log(1 - p)
    return total / (n * n)


def test_vectorised_loss_matches_pair_loop():
    torch.manual_seed(0)
    n, f = 4, 5
    mean, variance = torch.randn(n, f) * 0.3, torch.rand(n, f) * 0.1 + 0.01
    structures = torch.randn(7, f) * 0.3
    owner = torch.tensor([0, 0, 1, 2, 2, 2, 3])
    loss_fn = SoftContrastiveLoss(n_samples=3, beta=0.0, init_c=2.0, init_d=1.0).train()
    torch.manual_seed(1)
    loss, _ = loss_fn(mean, variance, structures, owner)
    torch.manual_seed(1)
    noise = torch.randn(n, 3, f)
    samples = mean[:, None] + variance.sqrt()[:, None] * noise
    expected = reference_loss(samples, structures, owner, 2.0, 1.0)
    assert torch.allclose(loss, expected, rtol=1e-5)


def test_no_sampling_ablation_uses_means():
    loss_fn = SoftContrastiveLoss(n_samples=0, beta=0.0, init_c=2.0, init_d=1.0)
    mean = torch.zeros(2, 3)
    mean[1] += 5
    loss_fn(mean, torch.ones(2, 3), mean.clone(), torch.tensor([0, 1]))  # runs without sampling
    matched, _ = loss_fn(mean, torch.ones(2, 3), mean.clone(), torch.tensor([0, 1]))
    swapped, _ = loss_fn(mean, torch.ones(2, 3), mean.flip(0), torch.tensor([0, 1]))
    assert matched < swapped


def test_c_d_positive_and_kl():
    loss_fn = SoftContrastiveLoss(init_c=20.0, init_d=20.0)
    assert math.isclose(float(loss_fn.log_c.exp()), 20.0, rel_tol=1e-6)
    with torch.no_grad():
        loss_fn.log_c.fill_(-50.0)
    assert float(loss_fn.log_c.exp()) > 0
    assert torch.allclose(gaussian_kl(torch.zeros(1, 4), torch.ones(1, 4)), torch.zeros(1))
    assert float(gaussian_kl(torch.ones(1, 4), torch.ones(1, 4))) == 2.0


def test_sampler_keeps_polymorphs_together_and_covers_every_formula():
    formula_of_structure = np.array([0, 0, 0, 1, 2, 2, 3, 4, 4, 4, 4, 4, 4])
    sampler = PolymorphBatchSampler(formula_of_structure, batch_size=2, max_polymorphs=3, seed=0)
    seen = []
    for batch in sampler:
        assert len(set(batch.formulas.tolist())) == len(batch.formulas)
        assert np.array_equal(formula_of_structure[batch.structures], batch.formulas[batch.owner])
        counts = np.bincount(batch.owner)
        expected = np.minimum(np.bincount(formula_of_structure)[batch.formulas], 3)
        assert np.array_equal(counts, expected)
        seen.extend(batch.formulas.tolist())
    assert sorted(seen) == [0, 1, 2, 3, 4]
