"""What a pretraining step reads: resident formula graphs and the structure side, live or cached.

:class:`TrainingData` is handed to every objective's ``batch_loss``. It gives

* :meth:`~TrainingData.stoichiometry` -- the stoichiometry graphs of a batch's formulas
  (an index gather from :class:`~polysrl_sklearn.resident.ResidentFormulas`);
* :meth:`~TrainingData.formula_gaussians` -- the stoichiometry encoder's mean and variance of a
  batch's formulas;
* :meth:`~TrainingData.structure_vectors` -- the structure-side vectors of a batch's
  structures: either the network's structure encoder run on resident crystal graphs
  (*joint* training, the paper's method) or rows of a cached matrix of vectors from a
  frozen encoder, through the network's trainable structure projection (*cached*
  training; see :mod:`polysrl_sklearn.structure_encoders`).

The objectives do not know which of the two they get, nor whether they run in one
process or data-parallel over several (:class:`polysrl_sklearn.ddp.ShardedTrainingData`
gives the same rows of the global batch, each rank encoding its share).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .resident import ResidentFormulas, ResidentGraphs
from .stoichiometry_graph import build_stoichiometry_batch

if TYPE_CHECKING:
    from .corpus import StructureCorpus
    from .crystal_graph import CrystalBatch
    from .network import PolySRLNetwork
    from .stoichiometry_graph import StoichiometryBatch


@dataclass
class ResidentBatch:
    """A sampler step with its indices both on the host and on the training device.

    Attributes
    ----------
    formulas, structures, owner : ndarray
        As in :class:`~polysrl_sklearn.sampler.PolymorphBatch` (host).
    formulas_on_device, structures_on_device, owner_on_device : LongTensor
        The same indices on the device.
    """

    formulas: np.ndarray
    structures: np.ndarray
    owner: np.ndarray
    formulas_on_device: torch.Tensor
    structures_on_device: torch.Tensor
    owner_on_device: torch.Tensor


#: Structures per forward pass when a frozen encoder's vectors are computed.
ENCODE_BATCH = 512


class TrainingData:
    """A corpus on the training device.

    Parameters
    ----------
    corpus : StructureCorpus
    device : torch.device
    with_graphs : bool
        Put the crystal graphs on the device (needed for joint training and for
        computing a frozen encoder's cache).
    """

    def __init__(self, corpus: StructureCorpus, device: torch.device, with_graphs: bool = True) -> None:
        self.corpus = corpus
        self.device = torch.device(device)
        self.formulas = ResidentFormulas(corpus.parsed, self.device)
        self.graphs = ResidentGraphs(corpus.graphs, self.device) if with_graphs and len(corpus.graphs) else None
        self.cached: torch.Tensor | None = None
        self.targets = None if corpus.targets is None else torch.from_numpy(
            np.asarray(corpus.targets, dtype=np.float32)).to(self.device)
        self._statistics: torch.Tensor | None = None

    @property
    def parsed(self):
        """Parsed compositions of the corpus formulas (for augmentations)."""
        return self.corpus.parsed

    def resident(self, steps: Sequence[Any]) -> list[ResidentBatch]:
        """Sampler steps (:class:`~polysrl_sklearn.sampler.PolymorphBatch`) with their indices on the device.

        The indices of all ``steps`` travel in one (pinned, asynchronous) copy,
        so that a training step on a GPU never waits for a host-to-device copy.
        """
        parts = [a for step in steps for a in (step.formulas, step.structures, step.owner)]
        if not parts:
            return []
        flat = torch.from_numpy(np.concatenate(parts).astype(np.int64))
        if self.device.type == "cuda":
            flat = flat.pin_memory()
        flat = flat.to(self.device, non_blocking=True)
        batches, start = [], 0
        for step in steps:
            views = []
            for array in (step.formulas, step.structures, step.owner):
                views.append(flat[start:start + len(array)])
                start += len(array)
            batches.append(ResidentBatch(step.formulas, step.structures, step.owner, *views))
        return batches

    def _on_device(self, step: Any) -> ResidentBatch:
        return step if isinstance(step, ResidentBatch) else self.resident([step])[0]

    def stoichiometry(self, step: Any) -> StoichiometryBatch:
        """Stoichiometry graphs of a step's formulas (a :class:`ResidentBatch` or a sampler step)."""
        step = self._on_device(step)
        return self.formulas.gather(step.formulas, step.formulas_on_device)

    def formula_gaussians(self, network: PolySRLNetwork, step: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance vectors of the step's formulas, (n_formulas, F) each, from the stoichiometry encoder."""
        return network.stoichiometry(self.stoichiometry(step))

    def encode_compositions(self, network: PolySRLNetwork, compositions: Sequence[Any],
                            step: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance vectors of ``compositions``, one per formula of ``step`` (e.g. augmented views).

        ``step`` says which batch the compositions belong to; a single process
        does not need it (:class:`polysrl_sklearn.ddp.ShardedTrainingData` does).
        """
        return network.stoichiometry(build_stoichiometry_batch(list(compositions)).to(self.device))

    def owner(self, step: Any) -> torch.Tensor:
        """Row of the step's formulas that owns each of its structures, on the device."""
        return self._on_device(step).owner_on_device

    def formula_targets(self, step: Any) -> torch.Tensor:
        """The corpus targets of the step's formulas (NaN where unknown), on the device."""
        return self.targets[self._on_device(step).formulas_on_device]

    def formula_statistics(self, step: Any) -> torch.Tensor:
        """Standardised Magpie statistics of the step's formulas (the ``element_statistics`` head's targets).

        The rows given to :meth:`use_statistics`: ``pretrain`` computes them once before the first
        epoch (standardised over the corpus formulas,
        :func:`~polysrl_sklearn.element_probes.standardised_element_statistics`, cached).
        """
        if self._statistics is None:
            raise RuntimeError("no element statistics: call use_statistics first (pretrain does)")
        return self._statistics[self._on_device(step).formulas_on_device]

    def use_statistics(self, statistics: torch.Tensor | np.ndarray) -> None:
        """Serve the ``element_statistics`` targets from ``statistics`` (one row per corpus formula)."""
        statistics = torch.as_tensor(statistics, dtype=torch.float32)
        if len(statistics) != len(self.corpus.formulas):
            raise ValueError(f"{len(statistics)} rows of element statistics for "
                             f"{len(self.corpus.formulas)} corpus formulas")
        self._statistics = statistics.to(self.device)

    def crystal_graphs(self, structure_ids: np.ndarray) -> CrystalBatch:
        """Crystal graphs of structures ``structure_ids`` (host indices)."""
        if self.graphs is None:
            raise RuntimeError("this training data holds no crystal graphs")
        return self.graphs.gather(structure_ids)

    def use_cached(self, vectors: torch.Tensor | np.ndarray | None) -> None:
        """Serve structure vectors from ``vectors`` (one row per structure); ``None``: encode live."""
        if vectors is None:
            self.cached = None
            return
        vectors = torch.as_tensor(vectors, dtype=torch.float32)
        if len(vectors) != len(self.corpus.formula_of_structure):
            raise ValueError(f"{len(vectors)} cached structure vectors for "
                             f"{len(self.corpus.formula_of_structure)} corpus structures")
        self.cached = vectors.to(self.device)

    def structure_vectors(self, network: PolySRLNetwork, step: Any) -> torch.Tensor:
        """Structure-side vectors of a step's structures: cached rows projected, or the live encoder."""
        step = self._on_device(step)
        if self.cached is not None:
            return network.structure_projection(self.cached[step.structures_on_device])
        if self.graphs is None:
            raise RuntimeError("this training data holds no crystal graphs")
        return network.structure(self.graphs.gather(step.structures, step.structures_on_device))

    @torch.no_grad()
    def encode_structures(self, network: PolySRLNetwork, structure_ids: np.ndarray,
                          batch_size: int = ENCODE_BATCH) -> torch.Tensor:
        """The network's structure encoder (eval mode) on structures ``structure_ids``, (n, F), float32.

        Runs ``batch_size`` structures at a time, so that the memory it needs does
        not grow with the number of structures (at F = 200, 4096 MP structures
        took about 10 GB of GPU memory).
        """
        was_training = network.structure.training
        network.structure.eval()
        parts = [network.structure(self.crystal_graphs(structure_ids[start:start + batch_size])).float()
                 for start in range(0, len(structure_ids), batch_size)]
        network.structure.train(was_training)
        return torch.cat(parts) if parts else torch.zeros(0, network.config.hidden_dim, device=self.device)

    def encode_all_structures(self, network: PolySRLNetwork, batch_size: int = ENCODE_BATCH) -> torch.Tensor:
        """:meth:`encode_structures` of every corpus structure."""
        return self.encode_structures(network, np.arange(len(self.corpus.formula_of_structure)), batch_size)
