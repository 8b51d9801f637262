"""Model configuration, the joint PolySRL network, and checkpoint files."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from .element_probes import ELEMENT_STATISTICS_COUNT
from .elements import element_features, element_table, element_table_by_atomic_number
from .encoders import StoichiometryEncoder, StructureEncoder
from .model_files import STATE_CHECKSUM_KEY, ModelFileError, read_model_file, state_checksum
from .objectives import get_objective
from .recipes import DEFAULTS
from .soft_contrastive import SoftContrastiveLoss
from .structure_encoders import get_structure_encoder

CHECKPOINT_FORMAT = 1


@dataclass
class ModelConfig:
    """Architecture and objective settings of a PolySRL network.

    Defaults are the architecture of the default recipe (``"cpu"``, the shipped
    models'; see :mod:`polysrl_sklearn.recipes`). ``ModelConfig(**get_recipe(name).architecture())``
    builds another recipe's.
    """

    hidden_dim: int = DEFAULTS.hidden_dim
    stoichiometry_layers: int = DEFAULTS.stoichiometry_layers
    structure_layers: int = DEFAULTS.structure_layers
    set2set_steps: int = DEFAULTS.set2set_steps
    n_samples: int = DEFAULTS.n_samples
    beta: float = DEFAULTS.beta
    init_c: float = DEFAULTS.init_c
    init_d: float = DEFAULTS.init_d
    cutoff: float = DEFAULTS.cutoff
    max_neighbors: int = DEFAULTS.max_neighbors
    num_gaussians: int = DEFAULTS.num_gaussians
    structure_pooling: str = DEFAULTS.structure_pooling
    objective: str = "polysrl"
    element_symbols: tuple[str, ...] = field(default_factory=tuple)
    #: Structure side (see :mod:`polysrl_sklearn.structure_encoders`).
    structure_encoder: str = DEFAULTS.structure_encoder
    #: Width of externally computed structure vectors (``structure_encoder="chgnet"``); 0 otherwise.
    structure_target_dim: int = 0
    #: Element input table (:data:`polysrl_sklearn.elements.ELEMENT_TABLES`).
    element_features: str = DEFAULTS.element_features
    #: Fraction-pooled input-feature skip into the mean vector.
    element_skip: bool = DEFAULTS.element_skip
    #: Loss levers of :class:`~polysrl_sklearn.soft_contrastive.SoftContrastiveLoss` (1, 0, 0, 0: the paper's loss).
    positive_weight: float = DEFAULTS.positive_weight
    polymorph_spread: float = DEFAULTS.polymorph_spread
    variance_matching: float = DEFAULTS.variance_matching
    variance_count: float = DEFAULTS.variance_count
    #: Weight of the variance target of synthetic mixtures of a batch's formulas (0: off).
    variance_mixtures: float = DEFAULTS.variance_mixtures
    #: Scale of the stage-start log-variance added to the variance targets (0: off).
    variance_anchor: float = DEFAULTS.variance_anchor
    #: ``error_variance`` objective: scale of the property head's centred log squared error in the targets.
    variance_error: float = DEFAULTS.variance_error
    #: ``error_variance`` objective: added to each squared error before its log (property unit squared).
    variance_error_floor: float = DEFAULTS.variance_error_floor
    decorrelation: float = DEFAULTS.decorrelation
    #: Weight of each auxiliary L1 head on a per-formula DFT property (multi-task pretraining; 0: off).
    multitask_weight: float = DEFAULTS.multitask_weight
    #: Number of those heads (one output of ``property_head`` per property column of the targets).
    property_count: int = 1
    #: Weight of the auxiliary head that reconstructs the composition's 132 Magpie statistics (0: off).
    element_statistics: float = DEFAULTS.element_statistics
    #: ``"linear"``: a head from the mean vector; ``"coordinates"``: its first 132 coordinates.
    element_statistics_head: str = DEFAULTS.element_statistics_head


class PolySRLNetwork(nn.Module):
    """Stoichiometry encoder, structure encoder and loss, trained jointly.

    Parameters
    ----------
    config : ModelConfig
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        symbols, _ = element_table()
        features = element_features(config.element_features)
        if not config.element_symbols:
            config.element_symbols = symbols
        elif tuple(config.element_symbols) != symbols:
            raise ValueError("checkpoint element table differs from this matminer's matscholar table")
        self.config = config
        self.stoichiometry = StoichiometryEncoder(
            torch.from_numpy(features), config.hidden_dim, config.stoichiometry_layers,
            config.set2set_steps, element_skip=config.element_skip)
        side = get_structure_encoder(config.structure_encoder)
        objective = get_objective(config.objective)
        atom_features = torch.from_numpy(element_table_by_atomic_number()) if side.species_aware else None
        # an external structure side (CHGNet) has no encoder in the network, only the projection below
        self.structure = nn.Identity() if side.external else StructureEncoder(
            config.hidden_dim, config.structure_layers, config.cutoff, config.num_gaussians,
            config.structure_pooling, atom_features)
        # every network holds the soft contrastive loss (its c and d are logged in the history and
        # saved in full checkpoints, whatever the objective); the other objectives' losses have no
        # parameters (see objectives.objective_loss)
        n_samples = 0 if objective.loss is SoftContrastiveLoss and not objective.samples else config.n_samples
        self.loss = SoftContrastiveLoss(n_samples, config.beta, config.init_c, config.init_d,
                                        config.positive_weight, config.polymorph_spread, config.decorrelation,
                                        config.variance_matching, config.variance_count,
                                        config.variance_mixtures, config.variance_anchor)
        if objective.pretrains_from == "targets" or config.multitask_weight > 0:
            self.property_head = nn.Linear(config.hidden_dim, config.property_count)
        if config.element_statistics > 0 and config.element_statistics_head == "linear":
            self.statistics_head = nn.Linear(config.hidden_dim, ELEMENT_STATISTICS_COUNT)
        elif config.element_statistics > 0 and config.hidden_dim < ELEMENT_STATISTICS_COUNT:
            raise ValueError(f"element_statistics_head='coordinates' reads the {ELEMENT_STATISTICS_COUNT} statistics "
                             f"off the first {ELEMENT_STATISTICS_COUNT} coordinates of the mean vector, so it needs "
                             f"hidden_dim >= {ELEMENT_STATISTICS_COUNT}; got hidden_dim={config.hidden_dim}")
        # cached vectors of another width reach the loss through a trainable linear map; without
        # their width (a random init, an objective that reads no structures) there is none to train
        self.structure_projection = (nn.Linear(config.structure_target_dim, config.hidden_dim)
                                     if side.external and config.structure_target_dim > 0 else nn.Identity())

    def reset_parameters(self) -> None:
        """Draw new weights for every part (uses the torch RNG; construction does not call it)."""
        for part in (self.stoichiometry, self.structure, self.loss, self.structure_projection,
                     getattr(self, "property_head", None), getattr(self, "statistics_head", None)):
            if hasattr(part, "reset_parameters"):
                part.reset_parameters()

    def extra_repr(self) -> str:
        return f"objective={self.config.objective!r}"


def save_checkpoint(path: str | os.PathLike, network: PolySRLNetwork, *, full: bool = False,
                    extra: dict | None = None) -> None:
    """Save a network.

    Parameters
    ----------
    path : path
    network : PolySRLNetwork
    full : bool
        Also save the structure encoder and loss parameters (for resuming
        pretraining). Without it only the stoichiometry encoder is kept, which
        is all that featurization needs and keeps shipped files small.
    extra : dict, optional
        More entries (optimizer state, epoch, history...).
    """
    state = network.state_dict() if full else {
        f"stoichiometry.{k}": v for k, v in network.stoichiometry.state_dict().items()
        if k != "element_features"}
    payload = {"format": CHECKPOINT_FORMAT, "config": asdict(network.config), "state_dict": state,
               STATE_CHECKSUM_KEY: state_checksum(state)}
    payload.update(extra or {})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(f"{path}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu"
                    ) -> tuple[PolySRLNetwork, dict]:
    """Load a network saved by :func:`save_checkpoint` (tensors and plain data only).

    See :func:`polysrl_sklearn.model_files.read_model_file` for the checks
    (shipped-model sha256, stored weight checksum, format).

    Returns
    -------
    network : PolySRLNetwork
    payload : dict
        The whole file content (config, history, optimizer state...).

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ModelFileError
        A ``ValueError`` whose message starts with ``path``: an empty,
        truncated, corrupted, unsafe or foreign file.
    """
    payload = read_model_file(path, CHECKPOINT_FORMAT, map_location)
    config = dict(payload["config"])
    config["element_symbols"] = tuple(config.get("element_symbols", ()))
    try:
        network = PolySRLNetwork(ModelConfig(**config))
        missing, unexpected = network.load_state_dict(payload["state_dict"], strict=False)
    except (TypeError, ValueError, RuntimeError) as exc:  # unknown config keys, shape mismatches
        reason = " ".join(str(exc).split())[:400] or type(exc).__name__
        raise ModelFileError(f"{path}: the weights do not fit the stored configuration ({reason})") from None
    stoich_missing = [k for k in missing if k.startswith("stoichiometry.")
                      and not k.endswith("element_features")]
    if stoich_missing or unexpected:
        raise ModelFileError(f"{path}: mismatched weights (missing {stoich_missing}, unexpected {unexpected})")
    return network, payload
