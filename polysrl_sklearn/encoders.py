"""Neural encoders of PolySRL (paper Section 4, Appendix B), built from torch-geometric layers.

* :class:`StructureEncoder` -- graph network (node/edge MLP processor) over a
  species-agnostic crystal radius graph; every atom starts from one shared
  learnable vector, edges from a Gaussian expansion of their length.
* :class:`StoichiometryEncoder` -- GCN layers with jumping knowledge over the
  fully connected element graph, fraction-weighted sum pooling, and two
  separate Set2Set heads for the mean and the (bounded) variance.
"""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import GCNConv, JumpingKnowledge, MetaLayer, Set2Set
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.inits import reset
from torch_geometric.nn.models.schnet import GaussianSmearing
from torch_geometric.nn.pool import global_add_pool, global_mean_pool
from torch_geometric.utils import scatter

from .crystal_graph import CrystalBatch
from .recipes import DEFAULTS
from .stoichiometry_graph import StoichiometryBatch, build_stoichiometry_batch


def _mlp(in_features: int, hidden: int, out_features: int) -> nn.Sequential:
    """Two-layer MLP with a SiLU non-linearity (the paper's psi)."""
    return nn.Sequential(nn.Linear(in_features, hidden), nn.SiLU(), nn.Linear(hidden, out_features))


class _EdgeUpdate(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.mlp = _mlp(3 * hidden, hidden, hidden)

    def forward(self, src, dst, edge_attr, u, batch):  # noqa: D102 - MetaLayer signature
        return edge_attr + self.mlp(torch.cat([src, dst, edge_attr], dim=-1))


class _NodeUpdate(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.mlp = _mlp(2 * hidden, hidden, hidden)

    def forward(self, x, edge_index, edge_attr, u, batch):  # noqa: D102 - MetaLayer signature
        incoming = scatter(edge_attr, edge_index[1], dim=0, dim_size=x.size(0), reduce="sum")
        return x + self.mlp(torch.cat([x, incoming], dim=-1))


class StructureEncoder(nn.Module):
    r"""Graph-network encoder of crystal structures (f^b of the paper, Appendix B.1).

    Every atom starts from one shared learnable vector :math:`\mathbf{x}^b` and
    every bond from a Gaussian expansion :math:`\mathbf{B}^b_{ij}` of its length
    (Eq. 7):

    .. math::

        \mathbf{h}_i^{0,b} = \phi_{node}(\mathbf{x}^b), \qquad
        \mathbf{b}_{ij}^{0,b} = \phi_{edge}(\mathbf{B}^b_{ij})

    then each of the L' layers updates bonds and atoms with two-layer MLPs
    :math:`\psi` (Eq. 8; here with residual connections):

    .. math::

        \mathbf{b}_{ij}^{l+1,b} = \psi^l_{edge}(\mathbf{h}_i^{l,b}, \mathbf{h}_j^{l,b}, \mathbf{b}_{ij}^{l,b}),
        \qquad
        \mathbf{h}_i^{l+1,b} = \psi^l_{node}\Big(\mathbf{h}_i^{l,b}, \sum_{j \in \mathcal{N}(i)}
        \mathbf{b}_{ij}^{l+1,b}\Big)

    and the crystal vector :math:`\mathbf{z}^b` pools the atoms (``pooling``).

    Parameters
    ----------
    hidden : int
        Width F of atom, bond and output vectors.
    num_layers : int
        Message-passing steps (L').
    cutoff : float
        Largest edge length; the Gaussian basis spans ``[0, cutoff]``.
    num_gaussians : int
        Size of the Gaussian distance expansion.
    pooling : {"sum", "mean"}
        Readout over atoms. The paper uses ``"sum"``; ``"mean"`` makes the
        crystal vector independent of the unit-cell multiplicity.
    atom_features : Tensor (119, d), optional
        Species-aware variant: a fixed table of element features indexed by
        atomic number; each atom starts from ``node_encoder`` of its element's
        row instead of the shared vector (the graphs must carry ``species``).
    """

    def __init__(self, hidden: int, num_layers: int = DEFAULTS.structure_layers, cutoff: float = DEFAULTS.cutoff,
                 num_gaussians: int = DEFAULTS.num_gaussians, pooling: str = DEFAULTS.structure_pooling,
                 atom_features: torch.Tensor | None = None) -> None:
        super().__init__()
        if pooling not in ("sum", "mean"):
            raise ValueError(f"pooling must be 'sum' or 'mean', got {pooling!r}")
        self.pooling = pooling
        self.species_aware = atom_features is not None
        if self.species_aware:
            self.register_buffer("atom_features", atom_features.float(), persistent=False)
            self.node_encoder = nn.Linear(atom_features.shape[1], hidden)
        else:
            self.atom_vector = nn.Parameter(torch.randn(hidden) * 0.1)
            self.node_encoder = nn.Linear(hidden, hidden)
        self.distance_expansion = GaussianSmearing(0.0, cutoff, num_gaussians)
        self.edge_encoder = nn.Linear(num_gaussians, hidden)
        self.layers = nn.ModuleList(
            MetaLayer(_EdgeUpdate(hidden), _NodeUpdate(hidden)) for _ in range(num_layers)
        )

        self.hidden = hidden
        self.cutoff = float(cutoff)

    def reset_parameters(self) -> None:
        """Draw new weights (uses the torch RNG; construction does not call it)."""
        if not self.species_aware:
            nn.init.normal_(self.atom_vector, std=0.1)
        self.node_encoder.reset_parameters()
        self.edge_encoder.reset_parameters()
        # not MetaLayer.reset_parameters: the edge and node updates have no such method on purpose,
        # because MetaLayer's constructor calls it and a second initialisation would change what a
        # seed gives (the golden and seeded-pretraining results)
        for layer in self.layers:
            reset(layer.edge_model.mlp)
            reset(layer.node_model.mlp)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.hidden}, num_layers={len(self.layers)}, cutoff={self.cutoff:g}, "
                f"num_gaussians={self.edge_encoder.in_features}, pooling={self.pooling!r}"
                f"{', species_aware=True' if self.species_aware else ''})")

    def forward(self, graphs: CrystalBatch) -> torch.Tensor:
        """Return one vector per crystal, shape (num_graphs, hidden)."""
        if self.species_aware:
            if graphs.species is None:
                raise ValueError("the species-aware structure encoder needs crystal graphs with atomic numbers "
                                 "(graph caches written before version 0.4 lack them: rebuild the cache)")
            x = self.node_encoder(self.atom_features[graphs.species])
        else:
            x = self.node_encoder(self.atom_vector).expand(graphs.batch.numel(), -1)
        e = self.edge_encoder(self.distance_expansion(graphs.distance))
        for layer in self.layers:
            x, e, _ = layer(x, graphs.edge_index, e, None, graphs.batch)
        pool = global_add_pool if self.pooling == "sum" else global_mean_pool
        return pool(x, graphs.batch, size=graphs.num_graphs)


def batch_invariant_silu(x: torch.Tensor) -> torch.Tensor:
    """SiLU evaluated in float64 and rounded back to ``x``'s dtype (inference).

    On the CPU PyTorch computes the last elements of a tensor, and of each thread's share of
    it, with scalar code whose ``exp`` rounds differently from its vector code. In float32,
    with a width F that is not a multiple of 32 (F = 200), the rows that fall there would get
    other bits than in another pass, so chunked, Dask and in-process featurization would
    disagree by about 1e-7. In float64 the two paths differ by about 1e-16, far below float32's
    rounding, so after rounding an element's value no longer depends on where it lies (a flip
    needs a value within 1e-16 of a float32 rounding boundary, about one chance in 1e9 per tail
    element). Training keeps the float32 SiLU. Apple's MPS backend has no float64; there the
    float32 SiLU is used (the scalar-tail effect is a CPU one).
    """
    if x.device.type == "mps":
        return torch.nn.functional.silu(x)
    return torch.nn.functional.silu(x.double()).to(x.dtype)


def normalised_with_self_loops(edge_index: torch.Tensor, edge_weight: torch.Tensor, num_nodes: int,
                               dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """GCN normalisation (``gcn_norm``) of a graph without self-loops, after adding one of weight 1 per node.

    Stoichiometry graphs have no self-loops by construction (every edge joins two
    different elements), so the loops are appended directly: the same edges and weights,
    in the same order, as ``gcn_norm(..., add_self_loops=True)`` makes, without its
    search for existing loops (a boolean mask, whose size a GPU must report back to the
    host: a synchronisation per step, and no CUDA-graph capture).
    """
    loops = torch.arange(num_nodes, device=edge_index.device)
    edge_index = torch.cat([edge_index, torch.stack([loops, loops])], dim=1)
    edge_weight = torch.cat([edge_weight, edge_weight.new_ones(num_nodes)])
    return gcn_norm(edge_index, edge_weight, num_nodes, add_self_loops=False, dtype=dtype)


class StoichiometryEncoder(nn.Module):
    r"""Probabilistic stoichiometry encoder (f^a, f^a_mu, f^a_sigma of the paper, Appendix B.2).

    GCN layers over the fully connected element graph (Eq. 9) and jumping
    knowledge (Eq. 10) give the element representations :math:`\mathbf{Z}^a`;
    their fraction-weighted sum is :math:`\mathbf{z}^a`. Two Set2Set heads give
    the mean and the variance (Eqs. 11-12):

    .. math::

        \mathbf{z}^a_\mu = \operatorname{Set2set}_\mu(\mathbf{Z}^a) + \mathbf{z}^a, \qquad
        \mathbf{z}^a_\sigma = \operatorname{Set2set}_\sigma(\mathbf{Z}^a) + \mathbf{z}^a

    (here each Set2Set output goes through a linear layer back to width F, and
    the variance is ``exp`` of :math:`\mathbf{z}^a_\sigma` squashed into
    ``log_variance_bounds``). Training samples
    :math:`\tilde{\mathbf{z}}^a = \mathbf{z}^a_\mu + \sqrt{\mathbf{z}^a_\sigma} \odot \epsilon`
    (Eq. 3); ``transform`` uses the mean and the geometric mean of the variances.

    Parameters
    ----------
    element_features : Tensor (n_elements, d)
        Fixed element embedding table (matscholar).
    hidden : int
        Width F of the representation.
    num_layers : int
        GCN message-passing steps (L').
    set2set_steps : int
        Processing steps of both Set2Set heads.
    log_variance_bounds : (float, float)
        The variance head outputs ``exp(log_var)`` with ``log_var`` squashed
        smoothly into these bounds, so variances can neither explode nor
        reach zero.
    element_skip : bool
        Add a linear map of the fraction-weighted mean of the *input* element
        features to the mean vector, a path around the message passing that
        keeps the chemistry of the input in the representation.
    """

    def __init__(self, element_features: torch.Tensor, hidden: int,
                 num_layers: int = DEFAULTS.stoichiometry_layers, set2set_steps: int = DEFAULTS.set2set_steps,
                 log_variance_bounds: tuple[float, float] = (-10.0, 3.0), element_skip: bool = False) -> None:
        super().__init__()
        self.register_buffer("element_features", element_features.float())
        self.input = nn.Linear(element_features.shape[1], hidden)
        # the layers share one normalisation of the graph, computed once per forward (gcn_norm)
        self.convs = nn.ModuleList(GCNConv(hidden, hidden, normalize=False) for _ in range(num_layers))
        self.jump = JumpingKnowledge(mode="cat")
        self.reduce = nn.Linear((num_layers + 1) * hidden, hidden)
        self.mean_pool = Set2Set(hidden, processing_steps=set2set_steps)
        self.var_pool = Set2Set(hidden, processing_steps=set2set_steps)
        self.mean_out = nn.Linear(2 * hidden, hidden)
        self.var_out = nn.Linear(2 * hidden, hidden)
        self.log_variance_bounds = tuple(float(b) for b in log_variance_bounds)
        self.hidden = hidden
        self.set2set_steps = set2set_steps
        self.element_skip = nn.Linear(element_features.shape[1], hidden) if element_skip else None

    def reset_parameters(self) -> None:
        """Draw new weights (uses the torch RNG; construction does not call it)."""
        for module in (self.input, *self.convs, self.reduce, self.mean_pool, self.var_pool, self.mean_out,
                       self.var_out, self.element_skip):
            if module is not None:
                module.reset_parameters()

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.element_features.shape[0]} elements, {self.hidden}, "
                f"num_layers={len(self.convs)}, set2set_steps={self.set2set_steps})")

    def variance_head(self) -> tuple[nn.Module, ...]:
        """The modules that only the variance reads (its Set2Set pooling and output layer)."""
        return self.var_pool, self.var_out

    def node_embeddings(self, graphs: StoichiometryBatch) -> torch.Tensor:
        """Element representations Z^a after GCN + jumping knowledge."""
        h = self.input(self.element_features[graphs.element])
        states = [h]
        edge_index, edge_weight = normalised_with_self_loops(graphs.edge_index, graphs.edge_weight, h.size(0),
                                                             h.dtype)
        # at inference a composition's features must not depend on the other rows of its pass
        activation = torch.nn.functional.silu if self.training else batch_invariant_silu
        for conv in self.convs:
            h = activation(conv(h, edge_index, edge_weight))
            states.append(h)
        return self.reduce(self.jump(states))

    def _fraction_pool(self, z_nodes: torch.Tensor, graphs: StoichiometryBatch) -> torch.Tensor:
        """Fraction-weighted sum of element representations (one row per composition)."""
        return scatter(graphs.fraction.unsqueeze(-1) * z_nodes, graphs.batch, dim=0,
                       dim_size=graphs.num_graphs, reduce="sum")

    def _mean_head(self, z_nodes: torch.Tensor, pooled: torch.Tensor, graphs: StoichiometryBatch) -> torch.Tensor:
        mean = self.mean_out(self.mean_pool(z_nodes, graphs.batch, dim_size=graphs.num_graphs)) + pooled
        if self.element_skip is not None:
            mean = mean + self.element_skip(self._fraction_pool(self.element_features[graphs.element], graphs))
        return mean

    def mean_vector(self, graphs: StoichiometryBatch) -> torch.Tensor:
        """The mean vectors alone, (num_graphs, hidden); skips the variance head (fine-tuning)."""
        z_nodes = self.node_embeddings(graphs)
        return self._mean_head(z_nodes, self._fraction_pool(z_nodes, graphs), graphs)

    def forward(self, graphs: StoichiometryBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the mean and variance vectors, each (num_graphs, hidden)."""
        z_nodes = self.node_embeddings(graphs)
        pooled = self._fraction_pool(z_nodes, graphs)
        mean = self._mean_head(z_nodes, pooled, graphs)
        raw = self.var_out(self.var_pool(z_nodes, graphs.batch, dim_size=graphs.num_graphs)) + pooled
        low, high = self.log_variance_bounds
        log_var = low + (high - low) * torch.sigmoid(raw)
        return mean, log_var.exp()


#: Compositions per forward pass when computing mean vectors for prediction or a frozen encoder.
ENCODE_CHUNK = 8192


@torch.no_grad()
def mean_vectors(encoder: nn.Module, parsed: list, device: torch.device | str = "cpu") -> torch.Tensor:
    """Mean vectors of parsed compositions under ``encoder`` (eval mode, no gradient), on the CPU.

    The encoder is left in eval mode and on the CPU.
    """
    encoder.to(device).eval()
    out = [encoder.mean_vector(build_stoichiometry_batch(parsed[start:start + ENCODE_CHUNK]).to(device)).cpu()
           for start in range(0, len(parsed), ENCODE_CHUNK)]
    encoder.to("cpu")
    return torch.cat(out) if out else torch.zeros((0, 0))
