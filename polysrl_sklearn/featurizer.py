"""scikit-learn transformer: compositions -> PolySRL mean vector + uncertainty."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from pymatgen.core import Composition
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .architecture import architecture_params, check_agrees_with_checkpoint, with_defaults
from .composition import as_composition_list, parse_composition
from .corpus import corpus_from_property_table, corpus_from_structures, with_formula_targets
from .elements import ELEMENT_TABLES
from .network import ModelConfig, PolySRLNetwork, load_checkpoint, save_checkpoint
from .objectives import OBJECTIVES, get_objective
from .param_constraints import DEVICE, NON_NEGATIVE_INT, POSITIVE_INT, POSITIVE_REAL, PRETRAINED
from .pretraining import TrainingSettings, pretrain, resolve_device
from .recipes import DEFAULTS, ELEMENT_STATISTICS_HEADS, LR_SCHEDULES, PRECISIONS, RECIPES, get_recipe
from .resume import structures_fingerprint
from .shipped import DEFAULT_CHECKPOINT, RANDOM_INIT, SHIPPED_MODELS, resolve_pretrained  # noqa: F401 - re-exported
from .stoichiometry_graph import build_stoichiometry_batch
from .structure_encoders import STRUCTURE_ENCODERS, get_structure_encoder
from .torch_threads import threads_for

#: The paper's settings (the ``"paper"`` recipe), for ``PolySRLFeaturizer(**PAPER_SETTINGS)``
#: (GPU recommended); the same as ``PolySRLFeaturizer.from_recipe("paper")``.
PAPER_SETTINGS: dict[str, Any] = RECIPES["paper"].featurizer_params()


class PolySRLFeaturizer(TransformerMixin, BaseEstimator):
    """Probabilistic stoichiometry representation (PolySRL) as a scikit-learn transformer.

    ``transform`` maps each composition to the mean of its learned Gaussian
    (``hidden_dim`` columns) plus one uncertainty column, the geometric mean of
    the Gaussian's variances.

    ``fit`` does one of two things:

    * ``fit(X)`` without structures does **no training**: it loads the
      ``pretrained`` weights (the shipped Materials-Project model
      ``polysrl_chgnet_mt_elements_error`` by default, F = 200;
      a checkpoint path; or ``None`` for a randomly initialised encoder seeded
      by ``random_state``). Inside a Pipeline fitted on a downstream task this
      is leak-free: the labels are never seen.
    * ``fit(X, structures=S)`` pretrains a new network from scratch on the
      composition-structure pairs with the chosen ``objective`` (default: the
      PolySRL soft contrastive loss), using the architecture and optimisation
      parameters below (``pretrained`` is then not used). With
      ``checkpoint=path`` it writes a full checkpoint after every epoch and,
      when that file exists, resumes from it.
      ``fit(X, pretraining_targets=t)`` does the same for the ``supervised``
      objective (a DFT property per composition). The downstream ``y`` that a
      Pipeline passes to ``fit`` is never used.

    The architecture and objective parameters (``objective`` through
    ``structure_pooling``) default to None: "as the weights were trained".
    Loaded weights keep their checkpoint's values, and a value set
    explicitly must agree with the checkpoint (a conflict raises
    ``ValueError`` naming the parameter, instead of being ignored). A new
    network (``pretrained=None`` or pretraining) takes them from the
    ``"cpu"`` recipe (:mod:`polysrl_sklearn.recipes`: F = 64, no optional
    extra, no property table), as do the optimisation defaults;
    :meth:`from_recipe` starts from another recipe, and
    ``from_recipe("chgnet_mt_elements")`` is the default model's network (CHGNet
    structure targets: the ``chgnet`` extra; an MP band-gap head:
    ``pretraining_targets=``; a head reconstructing Magpie's statistics), before the
    stages that trained its variance head (recipes ``"chgnet_mt_elements_anchored"``
    and ``"chgnet_mt_elements_error"``, run by ``polysrl pretrain --init-from``).

    ``fit`` is atomic: the fitted attributes are set only once it has
    finished, so an interrupted ``fit`` (Ctrl-C) leaves the estimator as it
    was. Parameters are validated by scikit-learn's ``_parameter_constraints``
    when ``fit`` starts.

    Parameters
    ----------
    pretrained : str, path or None, default="default"
        Weights loaded by ``fit`` when no structures are given: a shipped
        model name ("polysrl_chgnet_mt_elements_error", alias "default"; before
        its variance stages "polysrl_chgnet_mt_elements", and its ablation
        without sampling "polysrl_nosample_chgnet_mt_elements"; the statistics on
        coordinates of their own "polysrl_chgnet_mt_coordinates_error", before its
        variance stages "polysrl_chgnet_mt_coordinates"; the previous default
        "polysrl_chgnet_mt_error" and the same network with earlier defaults'
        variance stages "polysrl_chgnet_mt_anchored", "polysrl_chgnet_mt_mixtures",
        "polysrl_chgnet_mt_count" and "polysrl_chgnet_mt_variance"; before their
        variance stages "polysrl_chgnet_mt" and its baselines
        "polysrl_nosample_chgnet_mt", "infomax_chgnet_mt", "graphcl_chgnet_mt",
        "mp_band_gap_chgnet_mt"; the F = 64 model "polysrl" and its
        baselines "polysrl_nosample", "infomax", "graphcl", "mp_band_gap", alias
        "supervised"; see :mod:`polysrl_sklearn.shipped`), a checkpoint path,
        or None (alias "rand_init") for a randomly initialised encoder.
    objective : str or None, default=None (new networks: "polysrl")
        Pretraining objective, a key of :data:`polysrl_sklearn.objectives.OBJECTIVES`:
        "polysrl", "polysrl_nosample" (no sampling,
        ablation), "infomax" (NT-Xent against structures), "graphcl"
        (augmented stoichiometry graphs; uses only the compositions of the
        pairs) or "supervised" (needs ``pretraining_targets``).
    hidden_dim : int or None, default=None (new networks: 64)
        Representation width F (paper: 200). This and the parameters down to
        ``max_polymorphs`` default to the ``"cpu"`` recipe (None: see above).
    stoichiometry_layers, structure_layers : int or None, default=None (new networks: 3)
        GCN layers of the stoichiometry encoder / graph-network layers of the
        structure encoder.
    n_samples : int or None, default=None (new networks: 8)
        J, Monte-Carlo samples per stoichiometry in the loss (0: no sampling).
    beta : float or None, default=None (new networks: 1e-8)
        KL weight.
    init_c, init_d : float or None, default=None (new networks: 20.0)
        Initial soft-threshold parameters of the match probability.
    cutoff : float or None, default=None (new networks: 6.0)
        Crystal-graph radius in Angstrom.
    max_neighbors : int or None, default=None (new networks: 12)
        Neighbours kept per atom.
    structure_pooling : {"mean", "sum"} or None, default=None (new networks: "mean")
        Crystal readout ("sum" is the paper's).
    structure_encoder : str or None, default=None (new networks: "graph_network")
        What the stoichiometry encoder is matched against, a key of
        :data:`polysrl_sklearn.structure_encoders.STRUCTURE_ENCODERS`:
        "graph_network" (the paper's, trained jointly), "graph_network_frozen"
        (frozen and cached after ``warmup_epochs``), "species_graph_network"
        (atoms start from their element embedding), "species_graph_network_frozen",
        or "chgnet" (CHGNet crystal vectors; ``pip install polysrl-sklearn[chgnet]``).
    element_features : {"matscholar", "magpie", "both"} or None, default=None (new networks: "matscholar")
        Element input table of the stoichiometry graph (:mod:`polysrl_sklearn.elements`).
    element_skip : bool or None, default=None (new networks: False)
        Add a linear map of the fraction-weighted mean of the input element
        features to the mean vector (keeps the input's chemistry).
    positive_weight : float or None, default=None (new networks: 1.0)
        Weight of a positive pair against a negative one in the soft contrastive loss.
    polymorph_spread : float or None, default=None (new networks: 0.0)
        Weight of the polymorph-spread term (negative log-likelihood of each
        polymorph vector under its formula's Gaussian).
    variance_matching : float or None, default=None (new networks: 0.0)
        Weight of the variance-matching term: each formula's mean log-variance is
        pulled towards the log of its polymorphs' spread in the structure space
        (plus a small level, so single-structure formulas sit above the floor).
    variance_count : float or None, default=None (new networks: 0.0)
        With ``variance_matching``: how many levels each further polymorph of a
        formula in the batch adds to its variance target, so that polymorphs
        whose structure vectors coincide still count (0: the spread alone).
    variance_mixtures : float or None, default=None (new networks: 0.0)
        Weight of the mixture term: for each formula of a batch, a synthetic doped or
        alloyed composition with another batch formula as guest (share 1-50 %,
        :mod:`polysrl_sklearn.mixtures`) is pulled to the variance target of the two
        parents' polymorphs together, so that compositions between known compounds
        are more uncertain than either (0: off). Eager steps only (not ``cuda_graphs``).
    variance_anchor : float or None, default=None (new networks: 0.0)
        With ``variance_matching``, in a stage that continues a pretrained network
        (``polysrl pretrain --init-from``): the scale of that network's own
        log-variance, centred on each batch, added to every variance target, so that the
        stage adds the structure signal to the first stage's uncertainty instead of
        replacing it (0: off). ``fit`` trains new networks only, so it refuses a value > 0.
    variance_error : float or None, default=None (new networks: 0.0)
        With ``objective="error_variance"``, a structure-free stage that continues a
        pretrained network (``polysrl pretrain --objective error_variance --init-from
        MODEL``; :mod:`polysrl_sklearn.error_variance`): the scale of the property head's
        centred log squared error added to each formula's stage-start log-variance, so that
        the uncertainty also learns where a head on the features goes wrong (0: off).
        ``fit`` trains new networks only, so it refuses that objective.
    variance_error_floor : float or None, default=None (new networks: 1e-4)
        With ``objective="error_variance"``: added to each squared error of the property
        head before its log, in the property's unit squared, so that errors below its
        square root count alike (1e-4 eV^2: 0.01 eV for band gaps).
    decorrelation : float or None, default=None (new networks: 0.0)
        Weight of the VICReg-style variance-covariance penalty on the batch's mean vectors.
    multitask_weight : float or None, default=None (new networks: 0.0)
        Weight of each auxiliary L1 head on a DFT property during contrastive
        pretraining; the properties are ``pretraining_targets`` given to
        ``fit`` beside ``structures``, one head per column (NaN where unknown).
    element_statistics : float or None, default=None (new networks: 0.0)
        Weight of an auxiliary linear head that reconstructs each pretraining formula's
        132 Magpie statistics (matminer's ``ElementProperty`` preset, standardised over the
        formulas) from its mean vector: the features then keep the chemistry of their own
        input (:mod:`polysrl_sklearn.element_probes`). Needs no other data; the ``polysrl``
        objectives only, eager steps only.
    element_statistics_head : {"linear", "coordinates"} or None, default=None (new networks: "linear")
        How the mean vector reconstructs those statistics: a trained linear head on the
        whole vector, or its first 132 coordinates one-to-one (``"coordinates"``; needs
        ``hidden_dim >= 132``), which keeps each statistic on an axis of its own for
        models that split on single features (random forests).
    epochs : int, default=22
    batch_size : int, default=256
        Formulas per pretraining batch.
    learning_rate : float, default=1e-3
    grad_clip : float, default=2.0
    max_polymorphs : int, default=4
        Polymorphs per formula drawn into each batch.
    warmup_epochs : int, default=1
        Frozen structure sides: joint epochs before the encoder is frozen and cached.
    refresh_every : int, default=0
        Frozen structure sides: every ``refresh_every``-th epoch after the
        warm-up trains the structure encoder again and refreshes the cache (0: never).
    lr_schedule : {"constant", "cosine"}, default="constant"
        Learning rate over the epochs.
    precision : {"fp32", "tf32", "bf16"}, default="fp32"
        Arithmetic of pretraining on CUDA (ignored on the CPU). ``"tf32"`` trains as
        fp32 does in a CPU emulation of its arithmetic (docs/pretraining.md, "Does TF32
        train as well as fp32?"); ``"bf16"``'s effect on quality has not been measured.
    cuda_graphs : bool, default=False
        Pretraining on CUDA: replay each step from one captured CUDA graph
        (:mod:`polysrl_sklearn.graphed_steps`; in fp32 1.4-2.2x faster joint and 6-8x
        faster cached epochs). Objectives ``"polysrl"`` and ``"polysrl_nosample"``
        with any lever but ``element_statistics`` (and the variance stages'
        mixtures and anchor); ``fit`` refuses it otherwise and on the CPU.
    device : str, default="auto"
        "auto" uses CUDA when available; otherwise any torch device string
        ("cpu", "cuda", "cuda:1").
    transform_batch_size : int, default=8192
        Compositions per forward pass in ``transform``. The features do not
        depend on it beyond float32 rounding (differences of order 1e-7:
        matrix products of another shape sum in another order). Calls of at
        most 64 compositions run on one torch thread.
    graph_cache_dir : path or None, default=None
        Where crystal graphs (and frozen or CHGNet structure vectors) are
        cached during ``fit`` with structures.
    n_jobs : int, default=-1
        Parallel workers for crystal-graph construction.
    random_state : int or None, default=None
        Seed for initialisation and pretraining.
    verbose : bool, default=False
        Progress bars during pretraining.

    Notes
    -----
    The uncertainty column is the geometric mean over the F dimensions of
    the Gaussian's variances. The variance head squashes each log-variance
    smoothly into ``[-10, 3]``, so the uncertainty lies between
    ``exp(-10) = 4.5e-5`` (floor) and ``exp(3) = 20.1`` (ceiling). A model
    pretrained with a small KL weight (the paper's beta = 1e-8, the shipped
    model) puts most compositions close to the floor, around 5e-5 to 1e-4:
    read it as a ranking (larger: more polymorphic, less certain), not on an
    absolute scale.

    Attributes
    ----------
    network_ : PolySRLNetwork
        The fitted network (on the CPU).
    history_ : list of dict
        Per-epoch pretraining log (empty when loaded).
    n_features_in_ : int
        Always 1 (one composition column).
    """

    _parameter_constraints: dict = {
        "pretrained": PRETRAINED,
        "objective": [StrOptions(set(OBJECTIVES)), None],
        "hidden_dim": [POSITIVE_INT, None],
        "stoichiometry_layers": [POSITIVE_INT, None],
        "structure_layers": [POSITIVE_INT, None],
        "n_samples": [NON_NEGATIVE_INT, None],
        "beta": [Interval(Real, 0, None, closed="left"), None],
        "init_c": [POSITIVE_REAL, None],
        "init_d": [POSITIVE_REAL, None],
        "cutoff": [POSITIVE_REAL, None],
        "max_neighbors": [POSITIVE_INT, None],
        "structure_pooling": [StrOptions({"mean", "sum"}), None],
        "structure_encoder": [StrOptions(set(STRUCTURE_ENCODERS)), None],
        "element_features": [StrOptions(set(ELEMENT_TABLES)), None],
        "element_skip": ["boolean", None],
        "positive_weight": [POSITIVE_REAL, None],
        "polymorph_spread": [Interval(Real, 0, None, closed="left"), None],
        "variance_matching": [Interval(Real, 0, None, closed="left"), None],
        "variance_count": [Interval(Real, 0, None, closed="left"), None],
        "variance_mixtures": [Interval(Real, 0, None, closed="left"), None],
        "variance_anchor": [Interval(Real, 0, None, closed="left"), None],
        "variance_error": [Interval(Real, 0, None, closed="left"), None],
        "variance_error_floor": [Interval(Real, 0, None, closed="neither"), None],
        "decorrelation": [Interval(Real, 0, None, closed="left"), None],
        "multitask_weight": [Interval(Real, 0, None, closed="left"), None],
        "element_statistics": [Interval(Real, 0, None, closed="left"), None],
        "element_statistics_head": [StrOptions(set(ELEMENT_STATISTICS_HEADS)), None],
        "epochs": [POSITIVE_INT],
        "batch_size": [POSITIVE_INT],
        "learning_rate": [POSITIVE_REAL],
        "grad_clip": [POSITIVE_REAL],
        "max_polymorphs": [POSITIVE_INT],
        "warmup_epochs": [NON_NEGATIVE_INT],
        "refresh_every": [NON_NEGATIVE_INT],
        "precision": [StrOptions(set(PRECISIONS))],
        "cuda_graphs": ["boolean"],
        "lr_schedule": [StrOptions(set(LR_SCHEDULES))],
        "device": DEVICE,
        "transform_batch_size": [POSITIVE_INT],
        "graph_cache_dir": [str, os.PathLike, None],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, pretrained: str | os.PathLike | None = "default", objective: str | None = None,
                 hidden_dim: int | None = None,
                 stoichiometry_layers: int | None = None, structure_layers: int | None = None,
                 n_samples: int | None = None, beta: float | None = None, init_c: float | None = None,
                 init_d: float | None = None, cutoff: float | None = None,
                 max_neighbors: int | None = None, structure_pooling: str | None = None,
                 structure_encoder: str | None = None, element_features: str | None = None,
                 element_skip: bool | None = None, positive_weight: float | None = None,
                 polymorph_spread: float | None = None, variance_matching: float | None = None,
                 variance_count: float | None = None, variance_mixtures: float | None = None,
                 variance_anchor: float | None = None, variance_error: float | None = None,
                 variance_error_floor: float | None = None, decorrelation: float | None = None,
                 multitask_weight: float | None = None, element_statistics: float | None = None,
                 element_statistics_head: str | None = None,
                 epochs: int = DEFAULTS.epochs, batch_size: int = DEFAULTS.batch_size,
                 learning_rate: float = DEFAULTS.learning_rate, grad_clip: float = DEFAULTS.grad_clip,
                 max_polymorphs: int = DEFAULTS.max_polymorphs, warmup_epochs: int = DEFAULTS.warmup_epochs,
                 refresh_every: int = DEFAULTS.refresh_every, lr_schedule: str = DEFAULTS.lr_schedule,
                 precision: str = "fp32", cuda_graphs: bool = False, device: str = "auto",
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
        self.structure_encoder = structure_encoder
        self.element_features = element_features
        self.element_skip = element_skip
        self.positive_weight = positive_weight
        self.polymorph_spread = polymorph_spread
        self.variance_matching = variance_matching
        self.variance_count = variance_count
        self.variance_mixtures = variance_mixtures
        self.variance_anchor = variance_anchor
        self.variance_error = variance_error
        self.variance_error_floor = variance_error_floor
        self.decorrelation = decorrelation
        self.multitask_weight = multitask_weight
        self.element_statistics = element_statistics
        self.element_statistics_head = element_statistics_head
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.grad_clip = grad_clip
        self.max_polymorphs = max_polymorphs
        self.warmup_epochs = warmup_epochs
        self.refresh_every = refresh_every
        self.lr_schedule = lr_schedule
        self.precision = precision
        self.cuda_graphs = cuda_graphs
        self.device = device
        self.transform_batch_size = transform_batch_size
        self.graph_cache_dir = graph_cache_dir
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @classmethod
    def from_recipe(cls, name: str, **overrides: Any) -> "PolySRLFeaturizer":
        """A featurizer whose architecture and optimisation follow a named recipe.

        Parameters
        ----------
        name : str
            A key of :data:`polysrl_sklearn.recipes.RECIPES` (``"cpu"``, ``"paper"``).
        **overrides
            Any other constructor parameter, or a recipe value to change.

        Returns
        -------
        PolySRLFeaturizer
            Unfitted; ``fit(X, structures=S)`` pretrains with the recipe.

        Raises
        ------
        ValueError
            For a stage recipe such as ``"chgnet_mt_variance"``, which continues a
            pretrained network's full checkpoint (``polysrl pretrain --init-from``)
            instead of training a new network.

        Examples
        --------
        >>> from polysrl_sklearn import PolySRLFeaturizer
        >>> featurizer = PolySRLFeaturizer.from_recipe("paper", epochs=5)
        >>> featurizer.hidden_dim, featurizer.structure_pooling, featurizer.epochs
        (200, 'sum', 5)
        """
        recipe = get_recipe(name)
        if recipe.train_only != "all":
            raise ValueError(f"recipe {recipe.name!r} trains only the {recipe.train_only.replace('_', ' ')} of a "
                             f"pretrained network; run it with polysrl pretrain --recipe {recipe.name} "
                             "--init-from FULL_CHECKPOINT")
        return cls(**{**recipe.featurizer_params(), **overrides})

    # ------------------------------------------------------------------ fit
    def _model_config(self) -> ModelConfig:
        """Configuration of a new network: the parameters, None replaced by the defaults."""
        return ModelConfig(**with_defaults(architecture_params(self)))

    def _load_weights(self, path: str | os.PathLike, source: str) -> tuple[PolySRLNetwork, list[dict]]:
        """Network and history of a model file, after checking the architecture parameters."""
        network, payload = load_checkpoint(path)
        check_agrees_with_checkpoint(architecture_params(self), network.config, source)
        return network.eval(), list(payload.get("history", []))

    def _seed(self) -> int:
        if self.random_state is None:
            return int(np.random.default_rng().integers(2**31 - 1))
        if isinstance(self.random_state, (int, np.integer)):
            return int(self.random_state)
        return int(self.random_state.randint(2**31 - 1))  # a RandomState

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None, structures: Sequence[Any] | None = None,
            pretraining_targets: Sequence[float] | None = None,
            checkpoint: str | os.PathLike | None = None) -> "PolySRLFeaturizer":
        """Load pretrained weights, or pretrain on composition-structure pairs.

        The fitted attributes are set only when ``fit`` has finished; an
        interrupted ``fit`` leaves the estimator unchanged.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            Compositions (formula strings or pymatgen Composition). Without
            ``structures`` they are only validated.
        y : ignored
        structures : sequence of pymatgen Structure, optional
            ``structures[i]`` is a crystal of composition ``X[i]``. Several
            structures of one reduced formula are polymorphs.
        pretraining_targets : array-like of shape (n_samples,) or (n_samples, n_properties), optional
            A DFT property of each composition, for ``objective="supervised"``
            (one property); with ``multitask_weight > 0``, the targets of the
            property heads, one column per head (NaN where unknown; the rows of
            one formula are averaged).
        checkpoint : path, optional
            When pretraining: write a full checkpoint here after every epoch,
            and resume from it if the file exists (as ``polysrl pretrain
            --resume`` does). A checkpoint of another corpus, architecture or
            optimisation setting raises
            :class:`~polysrl_sklearn.resume.ResumeError`.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If an explicitly set architecture parameter conflicts with the
            loaded weights, if the training data are empty or of different
            lengths, or if a composition cannot be featurized.
        """
        items = as_composition_list(X)
        for i, item in enumerate(items):
            parse_composition(item, i)
        pretraining = structures is not None or pretraining_targets is not None
        config = self._model_config()
        if pretraining and (config.objective == "error_variance" or config.variance_error > 0
                            or self.variance_error_floor is not None):
            raise ValueError("objective='error_variance' (with its variance_error and variance_error_floor) is a "
                             "variance stage of a pretrained network; fit trains a new network, so run the stage "
                             "with polysrl pretrain --objective error_variance --init-from MODEL --property-table CSV")
        multitask = config.multitask_weight > 0
        if multitask and pretraining and (structures is None or pretraining_targets is None):
            raise ValueError("multitask_weight > 0 pretrains from structures= and pretraining_targets= together "
                             "(the property of each composition, NaN where unknown)")
        if pretraining and not multitask and (
                (get_objective(config.objective).pretrains_from == "targets") != (pretraining_targets is not None)):
            raise ValueError("objective='supervised' pretrains from pretraining_targets=; the other "
                             "objectives pretrain from structures= (with pretraining_targets= only when "
                             "multitask_weight > 0)")
        if checkpoint is not None and not pretraining:
            raise ValueError("checkpoint= is for pretraining; pass structures= (or pretraining_targets=)")
        if pretraining and config.variance_anchor > 0:
            raise ValueError("variance_anchor > 0 anchors a variance stage to a pretrained network's own "
                             "log-variance; fit trains a new network, so run the stage with polysrl pretrain "
                             "--variance-anchor S --init-from FULL_CHECKPOINT")
        if pretraining:
            if len(items) == 0:
                raise ValueError("fit(X, structures=...) needs at least one composition; X is empty")
            for name, given in (("structures", structures), ("pretraining_targets", pretraining_targets)):
                if given is not None and len(given) != len(items):
                    raise ValueError(f"X has {len(items)} compositions but {name} has {len(given)} entries")
        seed = self._seed()
        if structures is not None:
            corpus = corpus_from_structures(structures, items, config.cutoff, config.max_neighbors,
                                            self.n_jobs, self.graph_cache_dir, self.verbose)
            if multitask:
                corpus = with_formula_targets(corpus, items, np.asarray(pretraining_targets, dtype=float))
                config = dataclasses.replace(config, property_count=corpus.property_count)
        elif pretraining_targets is not None:
            if np.ndim(pretraining_targets) != 1:
                raise ValueError("objective='supervised' pretrains on one property: pretraining_targets must be "
                                 f"one-dimensional, got shape {np.shape(pretraining_targets)}")
            corpus = corpus_from_property_table(items, pretraining_targets)
        else:
            corpus = None
        if corpus is None and self.pretrained is not None and self.pretrained != RANDOM_INIT:
            network, history = self._load_weights(resolve_pretrained(self.pretrained),
                                                  f"pretrained={str(self.pretrained)!r}")
        elif corpus is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                network, history = PolySRLNetwork(config).eval(), []
        else:
            vectors = None
            if (get_structure_encoder(config.structure_encoder).external and structures is not None
                    and get_objective(config.objective).uses_structures):
                from .chgnet_vectors import chgnet_structure_vectors

                # corpus structures are in input order (corpus_from_structures)
                vectors = chgnet_structure_vectors(list(structures), cache_dir=self.graph_cache_dir,
                                                   key_parts=(structures_fingerprint(corpus),), verbose=self.verbose)
                config = dataclasses.replace(config, structure_target_dim=int(vectors.shape[1]))
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                network = PolySRLNetwork(config)
                settings = TrainingSettings(
                    epochs=self.epochs, batch_size=self.batch_size, learning_rate=self.learning_rate,
                    grad_clip=self.grad_clip, max_polymorphs=self.max_polymorphs, seed=seed,
                    warmup_epochs=self.warmup_epochs, refresh_every=self.refresh_every,
                    precision=self.precision, lr_schedule=self.lr_schedule, cuda_graphs=self.cuda_graphs)
                history = pretrain(network, corpus, settings, self.device, checkpoint,
                                   resume=checkpoint is not None, verbose=self.verbose,
                                   structure_vectors=vectors, cache_dir=self.graph_cache_dir)
            network.eval()
        # the fitted attributes appear together, only now that everything has succeeded
        self.network_, self.history_, self.n_features_in_ = network, history, 1
        return self

    # ------------------------------------------------------------ transform
    @torch.no_grad()
    def _encode(self, parsed: list, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
        with threads_for(len(parsed), device):
            return self._encode_batches(parsed, device)

    def _encode_batches(self, parsed: list, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
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
        """Names of the output columns: ``polysrl_0..F-1`` then ``polysrl_uncertainty``.

        For a network whose first 132 mean coordinates were trained to be the standardised
        Magpie statistics (``element_statistics_head="coordinates"``, e.g. the shipped
        ``polysrl_chgnet_mt_coordinates``), those columns also name their statistic, as
        matminer does with spaces as underscores: ``polysrl_0_MagpieData_minimum_Number``.
        """
        check_is_fitted(self, "network_")
        config = self.network_.config
        names = [f"polysrl_{i}" for i in range(config.hidden_dim)]
        if config.element_statistics > 0 and config.element_statistics_head == "coordinates":
            from .element_probes import element_statistics_labels

            for i, label in enumerate(element_statistics_labels()):
                names[i] = f"polysrl_{i}_{label.replace(' ', '_')}"
        return np.array(names + ["polysrl_uncertainty"], dtype=object)

    # ------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted stoichiometry encoder to a checkpoint usable as ``pretrained=path``."""
        check_is_fitted(self, "network_")
        save_checkpoint(path, self.network_, extra={"history": self.history_})

    @classmethod
    def load(cls, path: str | os.PathLike, **params: Any) -> "PolySRLFeaturizer":
        """Return a fitted featurizer with the weights in ``path`` (no data needed).

        Parameters
        ----------
        path : path
            A model file written by :meth:`save` or ``polysrl pretrain``.
        **params
            Other parameters of the featurizer. Architecture parameters must
            agree with the file's (a conflict raises ``ValueError``).

        Returns
        -------
        PolySRLFeaturizer
        """
        featurizer = cls(pretrained=str(path), **params)
        featurizer._validate_params()
        featurizer.network_, featurizer.history_ = featurizer._load_weights(path, str(path))
        featurizer.n_features_in_ = 1
        return featurizer

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
