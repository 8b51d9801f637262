"""What a pretraining step reads: resident formula graphs and the structure side, live or cached.

:class:`TrainingData` is handed to every objective's ``batch_loss``. It gives

* :meth:`~TrainingData.stoichiometry` -- the stoichiometry graphs of a batch's formulas
  (an index gather from :class:`~polysrl_sklearn.resident.ResidentFormulas`);
* :meth:`~TrainingData.structure_vectors` -- the structure-side vectors of a batch's
  structures: either the network's structure encoder run on resident crystal graphs
  (*joint* training, the paper's method) or rows of a cached matrix of vectors from a
  frozen encoder, through the network's trainable structure projection (*cached*
  training; see :mod:`polysrl_sklearn.structure_encoders`).

The objectives do not know which of the two they get.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from .resident import ResidentFormulas, ResidentGraphs

if TYPE_CHECKING:
    from .corpus import StructureCorpus
    from .crystal_graph import CrystalBatch
    from .network import PolySRLNetwork
    from .stoichiometry_graph import StoichiometryBatch


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

    @property
    def parsed(self):
        """Parsed compositions of the corpus formulas (for augmentations)."""
        return self.corpus.parsed

    def index(self, ids: np.ndarray) -> torch.Tensor:
        """``ids`` as an int64 tensor on the device."""
        return torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int64)).to(self.device, non_blocking=True)

    def stoichiometry(self, formula_ids: np.ndarray) -> StoichiometryBatch:
        """Stoichiometry graphs of formulas ``formula_ids``."""
        return self.formulas.gather(self.index(formula_ids))

    def crystal_graphs(self, structure_ids: np.ndarray) -> CrystalBatch:
        """Crystal graphs of structures ``structure_ids``."""
        if self.graphs is None:
            raise RuntimeError("this training data holds no crystal graphs")
        return self.graphs.gather(self.index(structure_ids))

    def use_cached(self, vectors: torch.Tensor | np.ndarray | None) -> None:
        """Serve structure vectors from ``vectors`` (one row per structure); ``None``: encode live."""
        if vectors is None:
            self.cached = None
            return
        vectors = torch.as_tensor(np.asarray(vectors, dtype=np.float32) if isinstance(vectors, np.ndarray)
                                  else vectors, dtype=torch.float32)
        if len(vectors) != len(self.corpus.formula_of_structure):
            raise ValueError(f"{len(vectors)} cached structure vectors for "
                             f"{len(self.corpus.formula_of_structure)} corpus structures")
        self.cached = vectors.to(self.device)

    def structure_vectors(self, network: PolySRLNetwork, structure_ids: np.ndarray) -> torch.Tensor:
        """Structure-side vectors of ``structure_ids``: cached rows projected, or the live encoder."""
        if self.cached is not None:
            return network.structure_projection(self.cached[self.index(structure_ids)])
        return network.structure(self.crystal_graphs(structure_ids))

    @torch.no_grad()
    def encode_all_structures(self, network: PolySRLNetwork, batch_size: int = 4096) -> torch.Tensor:
        """The network's structure encoder (eval mode) on every corpus structure, (n_structures, F)."""
        was_training = network.structure.training
        network.structure.eval()
        n = len(self.corpus.formula_of_structure)
        parts = [network.structure(self.crystal_graphs(np.arange(start, min(start + batch_size, n))))
                 for start in range(0, n, batch_size)]
        network.structure.train(was_training)
        return torch.cat(parts).float()
