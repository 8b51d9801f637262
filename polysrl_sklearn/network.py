"""Model configuration, the joint PolySRL network, and checkpoint files."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from .elements import element_table
from .encoders import StoichiometryEncoder, StructureEncoder
from .losses import SoftContrastiveLoss
from .model_files import STATE_CHECKSUM_KEY, ModelFileError, read_model_file, state_checksum
from .objectives import check_objective

CHECKPOINT_FORMAT = 1


@dataclass
class ModelConfig:
    """Architecture and objective settings of a PolySRL network.

    Defaults are the paper's Table 3 architecture (F=200, 3+3 layers, J=8,
    beta=1e-8, c=d=20) except where noted in ``docs/``.
    """

    hidden_dim: int = 200
    stoichiometry_layers: int = 3
    structure_layers: int = 3
    set2set_steps: int = 2
    n_samples: int = 8
    beta: float = 1e-8
    init_c: float = 20.0
    init_d: float = 20.0
    cutoff: float = 5.0
    max_neighbors: int = 12
    num_gaussians: int = 40
    structure_pooling: str = "sum"
    objective: str = "polysrl"
    element_symbols: tuple[str, ...] = field(default_factory=tuple)


class PolySRLNetwork(nn.Module):
    """Stoichiometry encoder, structure encoder and loss, trained jointly.

    Parameters
    ----------
    config : ModelConfig
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        symbols, features = element_table()
        if not config.element_symbols:
            config.element_symbols = symbols
        elif tuple(config.element_symbols) != symbols:
            raise ValueError("checkpoint element table differs from this matminer's matscholar table")
        self.config = config
        self.stoichiometry = StoichiometryEncoder(
            torch.from_numpy(features), config.hidden_dim, config.stoichiometry_layers,
            config.set2set_steps)
        self.structure = StructureEncoder(config.hidden_dim, config.structure_layers, config.cutoff,
                                          config.num_gaussians, config.structure_pooling)
        check_objective(config.objective)
        n_samples = 0 if config.objective == "polysrl_nosample" else config.n_samples
        self.loss = SoftContrastiveLoss(n_samples, config.beta, config.init_c, config.init_d)
        if config.objective == "supervised":
            self.property_head = nn.Linear(config.hidden_dim, 1)


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
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path}: the weights do not fit the stored configuration ({first})") from None
    stoich_missing = [k for k in missing if k.startswith("stoichiometry.")
                      and not k.endswith("element_features")]
    if stoich_missing or unexpected:
        raise ModelFileError(f"{path}: mismatched weights (missing {stoich_missing}, unexpected {unexpected})")
    return network, payload
