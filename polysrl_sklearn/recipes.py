"""Named pretraining recipes: the single source of architecture and optimisation defaults.

A recipe fixes every setting that decides what a pretrained PolySRL network
is: the architecture of :class:`~polysrl_sklearn.network.ModelConfig` and the
optimisation of :class:`~polysrl_sklearn.pretraining.TrainingSettings`. The
objective and the seed are not part of a recipe.

* ``"cpu"`` -- the recipe of a new network (:data:`DEFAULT_RECIPE`; the defaults of
  ``PolySRLFeaturizer(pretrained=None)``, ``fit(X, structures=S)`` and ``polysrl pretrain``):
  the paper's recipe at F = 64, 22 epochs, trained jointly; it needs no optional extra and
  no property table. The first default model ``polysrl`` and its baselines.
* ``"paper"`` -- the paper's Table 3 (:data:`~polysrl_sklearn.datasets.paper.TABLE3`);
  a GPU is recommended.
* ``"chgnet_mt"`` -- the representation study's selected candidate (C14 in
  docs/pretraining.md): CHGNet structure targets, element skip, both element
  tables and an MP band-gap head; the default model ``polysrl_chgnet_mt``
  (``PolySRLFeaturizer()``) and its baselines. Pretraining with it needs the
  ``chgnet`` extra and the band gaps (``pretraining_targets=`` / ``--property-table``).

Use a recipe with :meth:`PolySRLFeaturizer.from_recipe
<polysrl_sklearn.featurizer.PolySRLFeaturizer.from_recipe>` or
``polysrl pretrain --recipe NAME``.

Examples
--------
>>> from polysrl_sklearn.recipes import get_recipe
>>> get_recipe("paper").hidden_dim
200
>>> get_recipe("cpu").replace(epochs=2).epochs
2
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .datasets.paper import TABLE3, TEXT_SETTINGS
from .structure_encoders import DEFAULT_STRUCTURE_ENCODER

#: Recipe fields that are :class:`~polysrl_sklearn.network.ModelConfig` fields.
ARCHITECTURE_FIELDS: tuple[str, ...] = (
    "hidden_dim", "stoichiometry_layers", "structure_layers", "set2set_steps", "n_samples", "beta",
    "init_c", "init_d", "cutoff", "max_neighbors", "num_gaussians", "structure_pooling", "structure_encoder",
    "element_features", "element_skip", "positive_weight", "polymorph_spread", "variance_matching", "variance_count",
    "variance_mixtures", "variance_anchor", "variance_error", "variance_error_floor", "decorrelation", "multitask_weight",
    "element_statistics", "element_statistics_head")
#: Recipe fields that are :class:`~polysrl_sklearn.pretraining.TrainingSettings` fields.
TRAINING_FIELDS: tuple[str, ...] = ("epochs", "batch_size", "learning_rate", "grad_clip", "max_polymorphs",
                                    "warmup_epochs", "refresh_every", "lr_schedule", "train_only")
#: ``element_statistics_head`` choices: a linear map from the whole mean vector to the statistics,
#: or the statistics read off the mean vector's first 132 coordinates one-to-one.
ELEMENT_STATISTICS_HEADS: tuple[str, ...] = ("linear", "coordinates")
#: ``TrainingSettings.lr_schedule`` choices.
LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine")
#: ``TrainingSettings.train_only`` choices: train every parameter, or only the stoichiometry
#: encoder's variance head (a stage that starts from a pretrained network's full checkpoint).
TRAINABLE_PARTS: tuple[str, ...] = ("all", "variance_head")
#: ``TrainingSettings.precision`` choices (CUDA arithmetic; not part of a recipe).
PRECISIONS: tuple[str, ...] = ("fp32", "tf32", "bf16")
#: How the rows of one formula in a property table become its multi-task target (not part of a recipe).
TARGET_REDUCTIONS: tuple[str, ...] = ("mean", "min")
#: Recipe fields that ``PolySRLFeaturizer`` does not expose as parameters (fixed by the recipe).
_NOT_FEATURIZER_PARAMETERS: frozenset[str] = frozenset({"set2set_steps", "num_gaussians", "train_only"})


@dataclass(frozen=True)
class Recipe:
    """Architecture and optimisation settings of one pretraining recipe.

    Parameters
    ----------
    name : str
        Registry name (see :data:`RECIPES`).
    description : str
        One line on where the values come from.
    hidden_dim : int
        Representation width F.
    stoichiometry_layers, structure_layers : int
        GCN layers of the stoichiometry encoder, graph-network layers of the
        structure encoder (L').
    set2set_steps : int
        Processing steps of the two Set2Set heads.
    n_samples : int
        J, Monte-Carlo samples per stoichiometry in the loss.
    beta : float
        KL weight.
    init_c, init_d : float
        Initial soft-threshold parameters of the match probability.
    cutoff : float
        Crystal-graph radius r in Angstrom (not stated in the paper).
    max_neighbors : int
        Neighbours kept per atom.
    num_gaussians : int
        Size of the Gaussian expansion of edge lengths.
    structure_pooling : {"sum", "mean"}
        Crystal readout.
    epochs, batch_size : int
        Passes over the corpus; distinct formulas per batch.
    learning_rate, grad_clip : float
        Adam learning rate; largest gradient norm.
    max_polymorphs : int
        Polymorphs of one formula drawn into a batch.
    structure_encoder : str
        The structure side (:mod:`polysrl_sklearn.structure_encoders`); the paper's is
        ``"graph_network"``.
    warmup_epochs, refresh_every : int
        Joint epochs before a frozen structure side is cached; joint refresh
        period after that (0: never).
    element_features : {"matscholar", "magpie", "both"}
        Element input table (:mod:`polysrl_sklearn.elements`).
    element_skip : bool
        Fraction-pooled input-feature skip into the mean vector.
    positive_weight, polymorph_spread, variance_matching, decorrelation : float
        Loss levers of :class:`~polysrl_sklearn.soft_contrastive.SoftContrastiveLoss`
        (1, 0, 0, 0: the paper's loss).
    variance_count : float
        With variance matching: how many levels each further polymorph of a formula in the
        batch adds to its target (:func:`~polysrl_sklearn.variance_targets.spread_log_variance_target`;
        0: the target is the spread alone).
    variance_mixtures : float
        Weight of the mixture term: a synthetic doped or alloyed composition between two
        of a batch's formulas (:mod:`~polysrl_sklearn.mixtures`) is pulled to the variance
        target of its two parents' polymorphs together (0: off).
    variance_anchor : float
        With variance matching in a stage that continues a pretrained network: its own
        log-variance at the stage's start, centred on the batch and times this scale, is
        added to every variance target (the formulas' and the mixtures'), so the stage adds
        the structure signal to the first stage's uncertainty instead of replacing it
        (0: off; see :func:`~polysrl_sklearn.variance_targets.variance_matching_loss`).
    variance_error : float
        With the ``error_variance`` objective (a structure-free stage of a pretrained
        network): the scale of the property head's centred log squared error added to
        each formula's stage-start log-variance (0: off; see
        :mod:`~polysrl_sklearn.error_variance`).
    variance_error_floor : float
        With the ``error_variance`` objective: added to each squared error of the property
        head before its log (in the property's unit squared; 1e-4 eV^2 = 0.01 eV for band
        gaps), so errors below its square root count alike (amendment 19).
    multitask_weight : float
        Weight of an auxiliary L1 head on a per-formula DFT property (0: off).
    element_statistics : float
        Weight of an auxiliary linear head that reconstructs the composition's 132 Magpie
        statistics (standardised over the pretraining formulas) from the mean vector, L1
        averaged over formulas and statistics (0: off; see
        :func:`~polysrl_sklearn.auxiliary_terms.add_element_statistics_term`).
    element_statistics_head : {"linear", "coordinates"}
        How the mean vector reconstructs those statistics: ``"linear"``, a trained linear map
        from the whole vector (the statistics end up in rotated directions); ``"coordinates"``,
        the vector's first 132 coordinates themselves, one statistic each (no head; needs
        ``hidden_dim >= 132``), so that a model that splits on single features, such as a
        random forest, finds each statistic on its own axis.
    lr_schedule : {"constant", "cosine"}
        Learning-rate schedule over the epochs.
    train_only : {"all", "variance_head"}
        ``"variance_head"``: a stage that trains only the variance head of a pretrained
        network (``polysrl pretrain --init-from FULL.ckpt``); its mean vectors stay as they are.
    """

    name: str
    description: str
    hidden_dim: int
    stoichiometry_layers: int
    structure_layers: int
    set2set_steps: int
    n_samples: int
    beta: float
    init_c: float
    init_d: float
    cutoff: float
    max_neighbors: int
    num_gaussians: int
    structure_pooling: str
    epochs: int
    batch_size: int
    learning_rate: float
    grad_clip: float
    max_polymorphs: int
    structure_encoder: str = DEFAULT_STRUCTURE_ENCODER
    warmup_epochs: int = 1
    refresh_every: int = 0
    element_features: str = "matscholar"
    element_skip: bool = False
    positive_weight: float = 1.0
    polymorph_spread: float = 0.0
    variance_matching: float = 0.0
    variance_count: float = 0.0
    variance_mixtures: float = 0.0
    variance_anchor: float = 0.0
    variance_error: float = 0.0
    variance_error_floor: float = 1e-4
    decorrelation: float = 0.0
    multitask_weight: float = 0.0
    element_statistics: float = 0.0
    element_statistics_head: str = "linear"
    lr_schedule: str = "constant"
    train_only: str = "all"

    def architecture(self) -> dict[str, Any]:
        """The :class:`~polysrl_sklearn.network.ModelConfig` keyword arguments (no objective)."""
        return {key: getattr(self, key) for key in ARCHITECTURE_FIELDS}

    def training(self) -> dict[str, Any]:
        """The :class:`~polysrl_sklearn.pretraining.TrainingSettings` keyword arguments (no seed)."""
        return {key: getattr(self, key) for key in TRAINING_FIELDS}

    def featurizer_params(self) -> dict[str, Any]:
        """The :class:`~polysrl_sklearn.featurizer.PolySRLFeaturizer` parameters the recipe sets."""
        return {key: getattr(self, key) for key in ARCHITECTURE_FIELDS + TRAINING_FIELDS
                if key not in _NOT_FEATURIZER_PARAMETERS}

    def replace(self, **changes: Any) -> "Recipe":
        """A copy with some settings changed (unknown names raise ``TypeError``)."""
        return dataclasses.replace(self, **changes)


# Settings the paper does not state, shared by both recipes: the crystal-graph radius and
# neighbour count, the Set2Set steps, the Gaussian edge expansion and the polymorphs per batch.
_UNSTATED_IN_PAPER: dict[str, Any] = {"set2set_steps": 2, "cutoff": 6.0, "max_neighbors": 12,
                                      "num_gaussians": 40, "max_polymorphs": 4}

#: Recipe name -> :class:`Recipe`.
RECIPES: dict[str, Recipe] = {
    "paper": Recipe(
        name="paper", description="the paper's Table 3 and text (F=200, 100 epochs, lr 5e-5, sum pooling); "
        "what the paper does not state as in 'cpu'; use a GPU",
        **TABLE3, **TEXT_SETTINGS, **_UNSTATED_IN_PAPER),
    "cpu": Recipe(
        name="cpu", description="the first default's recipe and a new network's: the paper's, but F=64, "
        "22 epochs, lr 1e-3 and mean pooling (about 3 hours on 2 CPU cores; see docs/pretraining.md)",
        **{**TABLE3, **TEXT_SETTINGS, **_UNSTATED_IN_PAPER,
           "hidden_dim": 64, "epochs": 22, "learning_rate": 1e-3, "structure_pooling": "mean"}),
    "chgnet_mt": Recipe(
        name="chgnet_mt", description="the representation study's selected candidate C14: F=200, 40 epochs, "
        "CHGNet structure side, element skip, matscholar + Magpie element table, MP band-gap head (weight 0.1; "
        "pass --property-table mp-non-metals.csv); about 26 min on one CPU core once the CHGNet vectors are cached",
        **{**TABLE3, **TEXT_SETTINGS, **_UNSTATED_IN_PAPER,
           "hidden_dim": 200, "epochs": 40, "learning_rate": 1e-3, "structure_pooling": "mean",
           "structure_encoder": "chgnet", "warmup_epochs": 2, "element_skip": True, "element_features": "both",
           "multitask_weight": 0.1}),
}
RECIPES["chgnet_mt_variance"] = RECIPES["chgnet_mt"].replace(
    name="chgnet_mt_variance", description="the default model's: a 40-epoch stage on a 'chgnet_mt' network "
    "(--init-from its full checkpoint) that trains only the variance head, with variance matching 1.0, so "
    "its mean vectors stay exactly the chgnet_mt network's (the representation study's C22); about 14 min on "
    "one CPU core", variance_matching=1.0, epochs=40, train_only="variance_head")
RECIPES["chgnet_mt_count"] = RECIPES["chgnet_mt_variance"].replace(
    name="chgnet_mt_count", description="an earlier default's: as 'chgnet_mt_variance', but each further "
    "polymorph of a formula in the batch adds 10 levels to its variance target (--variance-count 10), so "
    "polymorphs that CHGNet's vectors place together still count (the representation study's C25); about "
    "14 min on one CPU core", variance_count=10.0)
RECIPES["chgnet_mt_mixtures"] = RECIPES["chgnet_mt_count"].replace(
    name="chgnet_mt_mixtures", description="an earlier default's: as 'chgnet_mt_count', plus a synthetic "
    "doped/alloyed mixture of each batch formula with another, pulled to the variance target of both parents' "
    "polymorphs together (--variance-mixtures 0.3), so that compositions between known compounds are more "
    "uncertain than either (the representation study's C27); 51 min on one CPU core shared with two other jobs",
    variance_mixtures=0.3)
RECIPES["chgnet_mt_anchored"] = RECIPES["chgnet_mt_mixtures"].replace(
    name="chgnet_mt_anchored", description="an earlier default's: as 'chgnet_mt_mixtures', but every variance "
    "target adds the starting chgnet_mt network's own centred log-variance (--variance-anchor 1.0), so the "
    "stage adds the polymorph and mixture signal to the first stage's uncertainty instead of replacing it (the "
    "representation study's C28); 38 min on one CPU core beside another stage", variance_anchor=1.0)
RECIPES["chgnet_mt_error"] = RECIPES["chgnet_mt_mixtures"].replace(
    name="chgnet_mt_error", description="the previous default's: a structure-free variance stage (--objective "
    "error_variance, --init-from the polysrl_chgnet_mt_anchored model file, --property-table "
    "mp-non-metals.csv): 20 epochs, variance head only, towards the starting uncertainty plus 0.5 x the linear "
    "band-gap head's centred log squared error, mixtures kept at their starting uncertainty (weight 0.3); the "
    "representation study's C39; 30 min on one CPU core beside another stage",
    variance_matching=0.0, variance_count=0.0, variance_error=0.5, multitask_weight=0.0, epochs=20)

def _variance_stages_on(first: Recipe, anchored_description: str, error_description: str) -> None:
    """Register the default's two variance stages on the first stage ``first`` (one with an
    element-statistics term): ``<first>_anchored``, C28's stage, which carries ``first``'s
    element-statistics settings because it starts from its full checkpoint, and ``<first>_error``,
    C39's structure-free stage on that stage's model file."""
    RECIPES[f"{first.name}_anchored"] = RECIPES["chgnet_mt_anchored"].replace(
        name=f"{first.name}_anchored", description=anchored_description,
        element_statistics=first.element_statistics, element_statistics_head=first.element_statistics_head)
    RECIPES[f"{first.name}_error"] = RECIPES["chgnet_mt_error"].replace(
        name=f"{first.name}_error", description=error_description)


RECIPES["chgnet_mt_elements"] = RECIPES["chgnet_mt"].replace(
    name="chgnet_mt_elements", description="the default model's first stage: as 'chgnet_mt', plus a linear head "
    "that reconstructs each formula's 132 standardised Magpie statistics from its mean vector "
    "(--element-statistics 1.0), so the features keep their input's chemistry (the representation study's C41); "
    "21 min on one CPU core beside another candidate",
    element_statistics=1.0)
_variance_stages_on(
    RECIPES["chgnet_mt_elements"],
    "the variance stage of 'chgnet_mt_anchored' on a 'chgnet_mt_elements' network (--init-from its full "
    "checkpoint, --anchor-from the polysrl_chgnet_mt model file; the representation study's C42); 24 min on "
    "two CPU threads",
    "the default model's last stage: the structure-free stage of 'chgnet_mt_error' on the "
    "'chgnet_mt_elements_anchored' model file (the representation study's C43); 10 min on two CPU threads")
RECIPES["chgnet_mt_coordinates"] = RECIPES["chgnet_mt"].replace(
    name="chgnet_mt_coordinates", description="as 'chgnet_mt', with the mean vector's first 132 coordinates "
    "trained to be each formula's standardised Magpie statistics, one each (--element-statistics 0.1 "
    "--element-statistics-head coordinates), so that a random forest finds every statistic on an axis of its "
    "own (the representation study's C45); 22 min on one CPU core beside another candidate",
    element_statistics=0.1, element_statistics_head="coordinates")
_variance_stages_on(
    RECIPES["chgnet_mt_coordinates"],
    "the variance stage of 'chgnet_mt_anchored' on a 'chgnet_mt_coordinates' network (--init-from its full "
    "checkpoint, --anchor-from the polysrl_chgnet_mt model file; the representation study's C46); 25 min on "
    "two CPU threads",
    "the structure-free stage of 'chgnet_mt_error' on the 'chgnet_mt_coordinates_anchored' model file (the "
    "representation study's C47); 11 min on two CPU threads")

#: The recipe of a new network: ``PolySRLFeaturizer(pretrained=None)``, ``ModelConfig()``,
#: ``TrainingSettings()`` and ``polysrl pretrain`` without ``--recipe``. (The default *model*,
#: ``PolySRLFeaturizer()``'s loaded weights, was trained with ``"chgnet_mt_elements"`` and its
#: two variance stages.)
DEFAULT_RECIPE = "cpu"


def get_recipe(name: str | Recipe) -> Recipe:
    """Return the recipe called ``name`` (a :class:`Recipe` is returned as is).

    Raises
    ------
    ValueError
        If no recipe has that name; the message lists the names.
    """
    if isinstance(name, Recipe):
        return name
    try:
        return RECIPES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown recipe {name!r}; choose one of {list(RECIPES)}") from None


#: The default recipe (module-level shortcut for signatures that take their defaults from it).
DEFAULTS: Recipe = RECIPES[DEFAULT_RECIPE]
