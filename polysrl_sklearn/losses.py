"""Soft contrastive loss of PolySRL (paper Eqs. 4-6), as batched tensor code.

For every stoichiometry ``a`` and every polymorph set ``P(a')`` in the batch,
the match probability is the average over the J samples of ``z~_a`` and the
polymorphs ``p`` of ``a'`` of ``sigmoid(-c * ||z~_a - z_p|| + d)``. (The paper
writes a sum over polymorphs, which can exceed one; the average keeps it a
probability.) Positives are ``a == a'``; every other pair is a negative. All
pairs are computed at once with ``torch.cdist`` and a scatter log-sum-exp;
there is no Python loop over pairs.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F
from torch_geometric.utils import scatter


def _scatter_logsumexp(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Log-sum-exp of ``values[:, k]`` over columns grouped by ``index[k]``."""
    peak = scatter(values.detach(), index, dim=1, dim_size=size, reduce="max")
    summed = scatter((values - peak[:, index]).exp(), index, dim=1, dim_size=size, reduce="sum")
    return summed.log() + peak


def gaussian_kl(mean: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, diag(variance)) || N(0, I)) per row."""
    return 0.5 * (variance + mean.pow(2) - 1.0 - variance.log()).sum(dim=-1)


class SoftContrastiveLoss(nn.Module):
    """Soft contrastive matching loss with learnable ``c, d > 0`` plus a KL term.

    Parameters
    ----------
    n_samples : int
        J, samples drawn from each stoichiometry Gaussian (reparameterised).
        ``0`` disables sampling and matches the mean itself (ablation).
    beta : float
        Weight of the KL divergence to the standard normal.
    init_c, init_d : float
        Initial values of the soft threshold parameters (paper: 20, 20).
    """

    def __init__(self, n_samples: int = 8, beta: float = 1e-8, init_c: float = 20.0,
                 init_d: float = 20.0) -> None:
        super().__init__()
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        self.n_samples = n_samples
        self.beta = beta
        self.log_c = nn.Parameter(torch.tensor(math.log(init_c)))
        self.log_d = nn.Parameter(torch.tensor(math.log(init_d)))

    def forward(self, mean: torch.Tensor, variance: torch.Tensor, structure_vectors: torch.Tensor,
                owner: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Compute the loss.

        Parameters
        ----------
        mean, variance : Tensor (n_formulas, F)
            Stoichiometry Gaussians of the distinct formulas in the batch.
        structure_vectors : Tensor (n_structures, F)
            Crystal vectors of the polymorphs in the batch.
        owner : LongTensor (n_structures,)
            Row of ``mean`` that each structure is a polymorph of; every row
            must own at least one structure.

        Returns
        -------
        loss : Tensor (scalar)
        parts : dict
            Contrastive and KL values for logging.
        """
        n = mean.shape[0]
        if self.n_samples > 0 and self.training:
            noise = torch.randn(n, self.n_samples, mean.shape[1], device=mean.device, dtype=mean.dtype)
            samples = mean.unsqueeze(1) + variance.sqrt().unsqueeze(1) * noise
        else:
            samples = mean.unsqueeze(1)
        j = samples.shape[1]
        distances = torch.cdist(samples.reshape(n * j, -1), structure_vectors)  # (n*J, M)
        logits = (self.log_d.exp() - self.log_c.exp() * distances).view(n, j, -1)
        counts = torch.bincount(owner, minlength=n).to(mean.dtype)
        log_norm = torch.log(counts * j).unsqueeze(0)  # (1, n')
        log_match = _scatter_logsumexp(torch.logsumexp(F.logsigmoid(logits), dim=1), owner, n) - log_norm
        log_mismatch = _scatter_logsumexp(torch.logsumexp(F.logsigmoid(-logits), dim=1), owner, n) - log_norm
        positive = torch.eye(n, dtype=torch.bool, device=mean.device)
        contrastive = -torch.where(positive, log_match, log_mismatch).mean()
        kl = gaussian_kl(mean, variance).mean()
        loss = contrastive + self.beta * kl
        return loss, {"contrastive": float(contrastive.detach()), "kl": float(kl.detach())}
