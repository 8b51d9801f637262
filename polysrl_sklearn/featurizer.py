"""scikit-learn transformer: compositions -> PolySRL mean vector + uncertainty."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pymatgen.core import Composition
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .composition import as_composition_list, parse_composition
from .corpus import corpus_from_property_table, corpus_from_structures
from .network import ModelConfig, PolySRLNetwork, load_checkpoint, save_checkpoint
from .pretraining import TrainingSettings, pretrain, resolve_device
from .stoichiometry_graph import build_stoichiometry_batch

DEFAULT_CHECKPOINT = Path(__file__).parent / "pretrained" / "polysrl_mp.pt"

#: Models shipped with the package, by name (all pretrained on the same MP corpus and split;
#: see docs/pretraining.md). "default" is the PolySRL model.
SHIPPED_MODELS: dict[str, Path] = {
    "default": DEFAULT_CHECKPOINT,
    "polysrl": DEFAULT_CHECKPOINT,
    **{name: Path(__file__).parent / "pretrained" / "baselines" / f"{name}.pt"
       for name in ("polysrl_nosample", "infomax", "graphcl", "supervised")},
}


def resolve_pretrained(pretrained: str | os.PathLike) -> Path:
    """Path of a shipped model name (see ``SHIPPED_MODELS``) or of a checkpoint file.

    Raises
    ------
    FileNotFoundError
        If ``pretrained`` is neither a shipped model name nor an existing
        file; the message lists the shipped names.
    """
    if str(pretrained) in SHIPPED_MODELS:
        return SHIPPED_MODELS[str(pretrained)]
    if not Path(pretrained).is_file():
        raise FileNotFoundError(f"pretrained={str(pretrained)!r} is neither a shipped model "
                                f"({', '.join(SHIPPED_MODELS)}) nor an existing model file")
    return Path(pretrained)

#: The paper's Table 3 settings, for ``PolySRLFeaturizer(**PAPER_SETTINGS)`` (GPU recommended).
PAPER_SETTINGS: dict[str, Any] = {
    "hidden_dim": 200, "stoichiometry_layers": 3, "structure_layers": 3, "n_samples": 8,
    "beta": 1e-8, "init_c": 20.0, "init_d": 20.0, "batch_size": 256, "learning_rate": 5e-5,
    "epochs": 100, "grad_clip": 2.0, "structure_pooling": "sum",
}


class PolySRLFeaturizer(TransformerMixin, BaseEstimator):
    """Probabilistic stoichiometry representation (PolySRL) as a scikit-learn transformer.

    ``transform`` maps each composition to the mean of its learned Gaussian
    (``hidden_dim`` columns) plus one uncertainty column, the geometric mean of
    the Gaussian's variances.

    ``fit`` does one of two things:

    * ``fit(X)`` without structures does **no training**: it loads the
      ``pretrained`` weights (the shipped Materials-Project model by default;
      a checkpoint path; or ``None`` for a randomly initialised encoder seeded
      by ``random_state``). Inside a Pipeline fitted on a downstream task this
      is leak-free: the labels are never seen.
    * ``fit(X, structures=S)`` pretrains a new network from scratch on the
      composition-structure pairs with the chosen ``objective`` (default: the
      PolySRL soft contrastive loss), using the architecture and optimisation
      parameters below (``pretrained`` is then not used).
      ``fit(X, pretraining_targets=t)`` does the same for the ``supervised``
      objective (a DFT property per composition). The downstream ``y`` that a
      Pipeline passes to ``fit`` is never used.

    Parameters
    ----------
    pretrained : str, path or None, default="default"
        Weights loaded by ``fit`` when no structures are given: a shipped
        model name ("default"/"polysrl", or the baselines "polysrl_nosample",
        "infomax", "graphcl", "supervised"), a checkpoint path, or None for a
        randomly initialised encoder.
    objective : str, default="polysrl"
        Pretraining objective: "polysrl", "polysrl_nosample" (no sampling,
        ablation), "infomax" (NT-Xent against structures), "graphcl"
        (augmented stoichiometry graphs; uses only the compositions of the
        pairs) or "supervised" (needs ``pretraining_targets``).
    hidden_dim : int, default=64
        Representation width F (paper: 200).
    stoichiometry_layers, structure_layers : int, default=3
        GCN layers of the stoichiometry encoder / graph-network layers of the
        structure encoder.
    n_samples : int, default=8
        J, Monte-Carlo samples per stoichiometry in the loss (0: no sampling).
    beta : float, default=1e-8
        KL weight.
    init_c, init_d : float, default=20.0
        Initial soft-threshold parameters of the match probability.
    cutoff : float, default=6.0
        Crystal-graph radius in Angstrom.
    max_neighbors : int, default=12
        Neighbours kept per atom.
    structure_pooling : {"mean", "sum"}, default="mean"
        Crystal readout ("sum" is the paper's).
    epochs : int, default=20
    batch_size : int, default=256
        Formulas per pretraining batch.
    learning_rate : float, default=1e-3
    grad_clip : float, default=2.0
    max_polymorphs : int, default=4
        Polymorphs per formula drawn into each batch.
    device : str, default="auto"
        "auto" uses CUDA when available.
    transform_batch_size : int, default=8192
        Compositions per forward pass in ``transform``.
    graph_cache_dir : path or None, default=None
        Where crystal graphs are cached during ``fit`` with structures.
    n_jobs : int, default=-1
        Parallel workers for crystal-graph construction.
    random_state : int or None, default=None
        Seed for initialisation and pretraining.
    verbose : bool, default=False
        Progress bars during pretraining.

    Attributes
    ----------
    network_ : PolySRLNetwork
        The fitted network (on the CPU).
    history_ : list of dict
        Per-epoch pretraining log (empty when loaded).
    n_features_in_ : int
        Always 1 (one composition column).
    """

    def __init__(self, pretrained: str | os.PathLike | None = "default", objective: str = "polysrl",
                 hidden_dim: int = 64,
                 stoichiometry_layers: int = 3, structure_layers: int = 3, n_samples: int = 8,
                 beta: float = 1e-8, init_c: float = 20.0, init_d: float = 20.0,
                 cutoff: float = 6.0, max_neighbors: int = 12, structure_pooling: str = "mean",
                 epochs: int = 20, batch_size: int = 256, learning_rate: float = 1e-3,
                 grad_clip: float = 2.0, max_polymorphs: int = 4, device: str = "auto",
                 transform_batch_size: int = 8192,
                 graph_cache_dir: str | os.PathLike | None = None, n_jobs: int | None = -1,
                 random_state: int | None = None, verbose: bool = False) -> None:
        self.pretrained = pretrained
        self.objective = objective
        self.hidden_dim = hidden_dim
        self.stoichiometry_layers = stoichiometry_layers
        self.structure_layers = structure_layers
        self.n_samples = n_samples
        self.beta = beta
        self.init_c = init_c
        self.init_d = init_d
        self.cutoff = cutoff
        self.max_neighbors = max_neighbors
        self.structure_pooling = structure_pooling
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.grad_clip = grad_clip
        self.max_polymorphs = max_polymorphs
        self.device = device
        self.transform_batch_size = transform_batch_size
        self.graph_cache_dir = graph_cache_dir
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def _model_config(self) -> ModelConfig:
        return ModelConfig(
            hidden_dim=self.hidden_dim, stoichiometry_layers=self.stoichiometry_layers,
            structure_layers=self.structure_layers, n_samples=self.n_samples, beta=self.beta,
            init_c=self.init_c, init_d=self.init_d, cutoff=self.cutoff,
            max_neighbors=self.max_neighbors, structure_pooling=self.structure_pooling,
            objective=self.objective)

    def _seed(self) -> int:
        if self.random_state is None:
            return int(np.random.default_rng().integers(2**31 - 1))
        if isinstance(self.random_state, (int, np.integer)):
            return int(self.random_state)
        return int(self.random_state.randint(2**31 - 1))  # a RandomState

    def fit(self, X: Any, y: Any = None, structures: Sequence[Any] | None = None,
            pretraining_targets: Sequence[float] | None = None) -> "PolySRLFeaturizer":
        """Load pretrained weights, or pretrain on composition-structure pairs.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            Compositions (formula strings or pymatgen Composition). Without
            ``structures`` they are only validated.
        y : ignored
        structures : sequence of pymatgen Structure, optional
            ``structures[i]`` is a crystal of composition ``X[i]``. Several
            structures of one reduced formula are polymorphs.
        pretraining_targets : sequence of float, optional
            A DFT property of each composition, for ``objective="supervised"``.

        Returns
        -------
        self
        """
        items = as_composition_list(X)
        for i, item in enumerate(items):
            parse_composition(item, i)
        self.n_features_in_ = 1
        seed = self._seed()
        if (self.objective == "supervised") != (pretraining_targets is not None) and (
                structures is not None or pretraining_targets is not None):
            raise ValueError("objective='supervised' pretrains from pretraining_targets=; the other "
                             "objectives pretrain from structures=")
        if pretraining_targets is not None:
            corpus = corpus_from_property_table(items, pretraining_targets)
        elif structures is not None:
            corpus = corpus_from_structures(structures, items, self.cutoff, self.max_neighbors,
                                            self.n_jobs, self.graph_cache_dir, self.verbose)
        else:
            corpus = None
        if corpus is None:
            if self.pretrained is None:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    self.network_ = PolySRLNetwork(self._model_config())
            else:
                self.network_, payload = load_checkpoint(resolve_pretrained(self.pretrained))
                self.history_ = list(payload.get("history", []))
                self.network_.eval()
                return self
            self.history_ = []
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.network_ = PolySRLNetwork(self._model_config())
                settings = TrainingSettings(self.epochs, self.batch_size, self.learning_rate,
                                            self.grad_clip, self.max_polymorphs, seed)
                self.history_ = pretrain(self.network_, corpus, settings, self.device,
                                         verbose=self.verbose)
        self.network_.eval()
        return self

    # ------------------------------------------------------------ transform
    @torch.no_grad()
    def _encode(self, parsed: list, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
        encoder = self.network_.stoichiometry.to(device).eval()
        means, uncertainties = [], []
        for start in range(0, len(parsed), self.transform_batch_size):
            batch = build_stoichiometry_batch(parsed[start:start + self.transform_batch_size]).to(device)
            mean, variance = encoder(batch)
            means.append(mean.cpu().numpy())
            uncertainties.append(variance.log().mean(dim=1).exp().cpu().numpy())
        self.network_.stoichiometry.to("cpu")
        return np.concatenate(means), np.concatenate(uncertainties)

    def transform(self, X: Any) -> np.ndarray:
        """Featurize compositions.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            Formula strings or pymatgen Composition objects.

        Returns
        -------
        ndarray of shape (n_samples, hidden_dim + 1)
            Mean vector, then the uncertainty (geometric mean of variances).

        Raises
        ------
        ValueError
            Naming the first composition that cannot be featurized.
        """
        check_is_fitted(self, "network_")
        items = as_composition_list(X)
        width = self.network_.config.hidden_dim + 1
        if not items:
            return np.zeros((0, width))
        # parse and encode each distinct formula once; anything that is neither a str nor a
        # Composition is not deduplicated (parse_composition rejects it with its position)
        row_of_key: dict[str, int] = {}
        row_of = np.empty(len(items), dtype=np.int64)
        parsed = []
        for i, item in enumerate(items):
            key = item if isinstance(item, str) else item.formula if isinstance(item, Composition) else None
            if key is None or key not in row_of_key:
                parsed.append(parse_composition(item, i))
                if key is not None:
                    row_of_key[key] = len(parsed) - 1
                row_of[i] = len(parsed) - 1
            else:
                row_of[i] = row_of_key[key]
        means, uncertainty = self._encode(parsed, resolve_device(self.device))
        features = np.concatenate([means, uncertainty[:, None]], axis=1).astype(np.float64)
        return features[row_of]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns: ``polysrl_0..F-1`` then ``polysrl_uncertainty``."""
        check_is_fitted(self, "network_")
        width = self.network_.config.hidden_dim
        return np.array([f"polysrl_{i}" for i in range(width)] + ["polysrl_uncertainty"], dtype=object)

    # ------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted stoichiometry encoder to a checkpoint usable as ``pretrained=path``."""
        check_is_fitted(self, "network_")
        save_checkpoint(path, self.network_, extra={"history": self.history_})

    @classmethod
    def load(cls, path: str | os.PathLike, **params: Any) -> "PolySRLFeaturizer":
        """Return a fitted featurizer with the weights in ``path`` (no data needed)."""
        featurizer = cls(pretrained=str(path), **params)
        featurizer.network_, payload = load_checkpoint(path)
        featurizer.network_.eval()
        featurizer.history_ = list(payload.get("history", []))
        featurizer.n_features_in_ = 1
        return featurizer

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
