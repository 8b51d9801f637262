"""The models shipped in the package: one canonical name each, plus the aliases that keep working.

All shipped models were pretrained by ``polysrl pretrain`` on the same Materials
Project corpus and held-out split. They fall into families by first-stage recipe; the
models of a family share the network, width and epochs and differ only in the objective
(:mod:`polysrl_sklearn.objectives`) or in a later variance stage, so comparisons inside a
family are equal-length:

* recipe ``"chgnet_mt"`` (:mod:`polysrl_sklearn.recipes`): ``polysrl_chgnet_mt`` (the
  representation study's C14) and the baselines named ``*_chgnet_mt``; and the previous
  defaults, ``polysrl_chgnet_mt`` with only its variance head trained further, so their mean
  vectors are ``polysrl_chgnet_mt``'s, bit for bit: ``polysrl_chgnet_mt_error`` (C39, recipe
  ``"chgnet_mt_error"``), ``polysrl_chgnet_mt_anchored`` (C28, recipe ``"chgnet_mt_anchored"``),
  ``polysrl_chgnet_mt_mixtures`` (C27, recipe ``"chgnet_mt_mixtures"``),
  ``polysrl_chgnet_mt_count`` (C25, recipe ``"chgnet_mt_count"``) and
  ``polysrl_chgnet_mt_variance`` (C22, recipe ``"chgnet_mt_variance"``);
* recipe ``"chgnet_mt_elements"``: ``polysrl_chgnet_mt_elements`` (the study's C41),
  ``polysrl_chgnet_mt``'s first stage with a head that reconstructs each formula's Magpie
  statistics, and the default, ``polysrl_chgnet_mt_elements_error`` (C43, recipe
  ``"chgnet_mt_elements_error"``, selected by the study's amendment 15): C39's two variance
  stages on it (a variance-head delta on ``polysrl_chgnet_mt_elements``, whose mean vectors it
  shares bit for bit);
* recipe ``"chgnet_mt_coordinates"``: ``polysrl_chgnet_mt_coordinates`` (the study's C45), the
  same first stage with the statistics on the mean vector's first 132 coordinates instead of
  behind a linear head, and ``polysrl_chgnet_mt_coordinates_error`` (C47), the default's two
  variance stages on it (a variance-head delta; amendment 16);
* recipe ``"cpu"``: the first default ``polysrl`` (F = 64, 22 epochs) and its
  baselines ``polysrl_nosample``, ``infomax``, ``graphcl``, ``mp_band_gap``.

See docs/pretraining.md.

Examples
--------
>>> from polysrl_sklearn.shipped import canonical_model_name
>>> canonical_model_name("default"), canonical_model_name("supervised"), canonical_model_name(None)
('polysrl_chgnet_mt_elements_error', 'mp_band_gap', 'rand_init')
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


#: The four baselines of a family: canonical name (before the family's suffix), file stem,
#: objective, what it is. Each family trains them with its default's recipe.
_BASELINES: list[tuple[str, str, str, str]] = [
    ("graphcl", "graphcl", "graphcl", "GraphCL baseline: augmented stoichiometry graphs, no structures"),
    ("mp_band_gap", "supervised", "supervised",
     "supervised baseline: L1 regression of the MP band gap (mp-non-metals.csv); the paper's MP Band G."),
    ("infomax", "infomax", "infomax", "3D-Infomax baseline: NT-Xent between stoichiometry and structure vectors"),
    ("polysrl_nosample", "polysrl_nosample", "polysrl_nosample", "PolySRL without sampling (ablation)"),
]


def _baselines(recipe: str, folder: str, suffix: str) -> list[ShippedModel]:
    """The four baselines of the family of ``recipe``, whose files are in ``folder``."""
    return [ShippedModel(name + suffix, f"{folder}/{stem}.pt", objective, recipe, f"{what} (recipe {recipe})")
            for name, stem, objective, what in _BASELINES]


#: Canonical name -> :class:`ShippedModel`, in the benchmark's column order.
SHIPPED: dict[str, ShippedModel] = {model.name: model for model in [
    *_baselines("cpu", "baselines", ""),
    ShippedModel("polysrl", "polysrl_mp.pt", "polysrl", "cpu",
                 "PolySRL, F=64, 22 epochs: the default model until the representation study's selection"),
    *_baselines("chgnet_mt", "baselines_chgnet_mt", "_chgnet_mt"),
    ShippedModel("polysrl_chgnet_mt", "polysrl_chgnet_mt.pt", "polysrl", "chgnet_mt",
                 "PolySRL with CHGNet structure targets and an MP band-gap head (the representation study's "
                 "C14; the default model until its variance stage was selected)"),
    ShippedModel("polysrl_chgnet_mt_variance", "polysrl_chgnet_mt_variance.pt", "polysrl", "chgnet_mt_variance",
                 "polysrl_chgnet_mt with its variance head trained for the spread of each formula's polymorphs "
                 "(variance matching); the same mean vectors (the study's C22; the default model until C25)"),
    ShippedModel("polysrl_chgnet_mt_count", "polysrl_chgnet_mt_count.pt", "polysrl", "chgnet_mt_count",
                 "polysrl_chgnet_mt with its variance head trained for the spread and the number of each "
                 "formula's polymorphs (variance matching, --variance-count 10); the same mean vectors (the "
                 "study's C25; the default model until C27)"),
    ShippedModel("polysrl_chgnet_mt_mixtures", "polysrl_chgnet_mt_mixtures.pt", "polysrl", "chgnet_mt_mixtures",
                 "as polysrl_chgnet_mt_count, with synthetic doped/alloyed mixtures of the batch's formulas in the "
                 "variance target (--variance-mixtures 0.3); the same mean vectors (the study's C27; the default "
                 "model until C28)"),
    ShippedModel("polysrl_chgnet_mt_anchored", "polysrl_chgnet_mt_anchored.pt", "polysrl", "chgnet_mt_anchored",
                 "as polysrl_chgnet_mt_mixtures, with polysrl_chgnet_mt's own log-variance "
                 "added to every variance target (--variance-anchor 1.0), so the column keeps the first stage's "
                 "error ranking under the polymorph and mixture signal; the same mean vectors (the study's C28; "
                 "the default model until C39)"),
    ShippedModel("polysrl_chgnet_mt_error", "polysrl_chgnet_mt_error.pt", "error_variance", "chgnet_mt_error",
                 "polysrl_chgnet_mt_anchored with its variance head trained further, without "
                 "structures, towards its own uncertainty plus 0.5 x the centred log squared error of a linear "
                 "band-gap head (--objective error_variance), so the column also ranks where a head on these "
                 "features errs; the same mean vectors (the study's C39; the default model until C43)"),
    ShippedModel("polysrl_chgnet_mt_elements", "polysrl_chgnet_mt_elements.pt", "polysrl", "chgnet_mt_elements",
                 "polysrl_chgnet_mt's first stage with a head that reconstructs each formula's Magpie statistics "
                 "from its mean vector (--element-statistics 1.0; the study's C41): effective rank 105.8 of 200"),
    ShippedModel("polysrl_chgnet_mt_elements_error", "polysrl_chgnet_mt_elements_error.pt", "error_variance",
                 "chgnet_mt_elements_error",
                 "the default model: polysrl_chgnet_mt_elements with polysrl_chgnet_mt_error's two variance "
                 "stages (anchored polymorph and "
                 "mixture matching, then the structure-free error stage; the study's C43, selected by amendment "
                 "15); the same mean vectors as polysrl_chgnet_mt_elements"),
    ShippedModel("polysrl_nosample_chgnet_mt_elements", "baselines_chgnet_mt/polysrl_nosample_elements.pt",
                 "polysrl_nosample", "chgnet_mt_elements",
                 "PolySRL without sampling (ablation) of the default's first stage, with its element-statistics "
                 "head (recipe chgnet_mt_elements); the other three baselines do not read that lever, so "
                 "infomax_chgnet_mt, graphcl_chgnet_mt and mp_band_gap_chgnet_mt serve both families"),
    ShippedModel("polysrl_chgnet_mt_coordinates", "polysrl_chgnet_mt_coordinates.pt", "polysrl",
                 "chgnet_mt_coordinates",
                 "polysrl_chgnet_mt's first stage with its first 132 mean coordinates trained to be each formula's "
                 "standardised Magpie statistics (--element-statistics 0.1 --element-statistics-head coordinates; "
                 "the study's C45, selected by amendment 16)"),
    ShippedModel("polysrl_chgnet_mt_coordinates_error", "polysrl_chgnet_mt_coordinates_error.pt", "error_variance",
                 "chgnet_mt_coordinates_error",
                 "polysrl_chgnet_mt_coordinates with the default's two variance stages (the study's C46 and C47); "
                 "the same mean vectors as polysrl_chgnet_mt_coordinates"),
]}

#: Canonical name of the default model (``PolySRLFeaturizer()``, alias ``"default"``).
DEFAULT_MODEL = "polysrl_chgnet_mt_elements_error"

#: Name of the randomly initialised encoder (``pretrained=None``), the paper's "Rand init.".
RANDOM_INIT = "rand_init"

#: Alias -> canonical name; the one alias table (also in docs/user_guide.md).
MODEL_ALIASES: dict[str | None, str] = {"default": DEFAULT_MODEL, "supervised": "mp_band_gap", None: RANDOM_INIT}

#: Every name ``pretrained=`` accepts for a shipped model (canonical names and aliases) -> file.
SHIPPED_MODELS: dict[str, Path] = {
    **{name: model.path for name, model in SHIPPED.items()},
    **{alias: SHIPPED[name].path for alias, name in MODEL_ALIASES.items() if name in SHIPPED},
}

#: The default model's checkpoint (``PolySRLFeaturizer()``).
DEFAULT_CHECKPOINT: Path = SHIPPED[DEFAULT_MODEL].path


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
