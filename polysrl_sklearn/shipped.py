"""The models shipped in the package: one canonical name each, plus the aliases that keep working.

All shipped models were pretrained by ``polysrl pretrain`` on the same Materials
Project corpus and held-out split. The default and the four baselines share the
``"cpu"`` recipe (:mod:`polysrl_sklearn.recipes`) and differ only in the objective
(:mod:`polysrl_sklearn.objectives`); ``polysrl_chgnet_mt`` is the representation
study's selected candidate, recipe ``"chgnet_mt"``. See docs/pretraining.md.

Examples
--------
>>> from polysrl_sklearn.shipped import canonical_model_name
>>> canonical_model_name("default"), canonical_model_name("supervised"), canonical_model_name(None)
('polysrl', 'mp_band_gap', 'rand_init')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Folder of the shipped checkpoint files.
PRETRAINED_DIR = Path(__file__).parent / "pretrained"


@dataclass(frozen=True)
class ShippedModel:
    """One shipped checkpoint.

    Attributes
    ----------
    name : str
        Canonical name (the benchmark's column label).
    file : str
        Path of the checkpoint inside :data:`PRETRAINED_DIR`.
    objective : str
        Its pretraining objective (a key of :data:`polysrl_sklearn.objectives.OBJECTIVES`).
    recipe : str
        Its recipe (a key of :data:`polysrl_sklearn.recipes.RECIPES`).
    description : str
    """

    name: str
    file: str
    objective: str
    recipe: str
    description: str

    @property
    def path(self) -> Path:
        """Absolute path of the checkpoint file."""
        return PRETRAINED_DIR / self.file


#: Canonical name -> :class:`ShippedModel`, in the benchmark's column order.
SHIPPED: dict[str, ShippedModel] = {model.name: model for model in [
    ShippedModel("graphcl", "baselines/graphcl.pt", "graphcl", "cpu",
                 "GraphCL baseline: augmented stoichiometry graphs, no structures"),
    ShippedModel("mp_band_gap", "baselines/supervised.pt", "supervised", "cpu",
                 "supervised baseline: L1 regression of the MP band gap (mp-non-metals.csv); the paper's MP Band G."),
    ShippedModel("infomax", "baselines/infomax.pt", "infomax", "cpu",
                 "3D-Infomax baseline: NT-Xent between stoichiometry and structure vectors"),
    ShippedModel("polysrl_nosample", "baselines/polysrl_nosample.pt", "polysrl_nosample", "cpu",
                 "PolySRL without sampling (ablation)"),
    ShippedModel("polysrl", "polysrl_mp.pt", "polysrl", "cpu",
                 "PolySRL: the default model"),
    ShippedModel("polysrl_chgnet_mt", "polysrl_chgnet_mt.pt", "polysrl", "chgnet_mt",
                 "PolySRL with CHGNet structure targets and an MP band-gap head: the representation study's "
                 "selected candidate (C14), not yet the default"),
]}

#: Name of the randomly initialised encoder (``pretrained=None``), the paper's "Rand init.".
RANDOM_INIT = "rand_init"

#: Alias -> canonical name; the one alias table (also in docs/user_guide.md).
MODEL_ALIASES: dict[str | None, str] = {"default": "polysrl", "supervised": "mp_band_gap", None: RANDOM_INIT}

#: Every name ``pretrained=`` accepts for a shipped model (canonical names and aliases) -> file.
SHIPPED_MODELS: dict[str, Path] = {
    **{name: model.path for name, model in SHIPPED.items()},
    **{alias: SHIPPED[name].path for alias, name in MODEL_ALIASES.items() if name in SHIPPED},
}

#: The default model's checkpoint (``PolySRLFeaturizer()``).
DEFAULT_CHECKPOINT: Path = SHIPPED["polysrl"].path


def canonical_model_name(name: str | None) -> str | None:
    """The canonical name of a shipped model name or alias (``None`` and ``"rand_init"``:
    ``"rand_init"``); anything else (a checkpoint path) is returned unchanged."""
    return MODEL_ALIASES.get(name, name)


def resolve_pretrained(pretrained: str | os.PathLike) -> Path:
    """Path of a shipped model name (see :data:`SHIPPED_MODELS`) or of a checkpoint file.

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
