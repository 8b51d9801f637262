"""Validation measures of the representation study (docs/pretraining.md, "Representation study").

Selection of a pretraining recipe may use only validation data, never the
wet-lab tasks (the test). The measures, all computed from one model file:

* on the MP formulas held out of pretraining (stored in the model file):
  :func:`uncertainty_auroc` (formulas with >= 2 polymorphs against single-structure
  ones), :func:`effective_rank` of the centred mean vectors, and where the median
  uncertainty lies between the variance floor and ceiling;
* :func:`held_out_mixture_measures` -- synthetic doped/alloyed mixtures of pairs of held-out
  formulas (:mod:`polysrl_sklearn.mixtures`): AUROC of the uncertainty for a mixture against
  the held-out formulas themselves, and the share of mixtures more uncertain than both parents;
* :func:`held_out_mp_gap_mae` -- the MP DFT band gap of the held-out formulas that
  have one (frozen features + the paper's head, 5-fold CV), against Magpie on the same folds,
  and Spearman's rho between the uncertainty and the absolute out-of-fold error;
* :func:`matbench_validation_maes` -- the small Matbench DFT tasks on CrabNet's folds
  (:data:`MATBENCH_VALIDATION_TASKS`), frozen features + the paper's head (or, with
  ``head="rf"``, a random forest), against Magpie under the same head.

:func:`study_score` combines the four MAE ratios of the paper's head into the selection score
(geometric mean of MAE / Magpie MAE; lower is better); :func:`forest_score` the three of the
random forest (amendment 16).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

#: The Matbench DFT tasks used for selection (small; CrabNet's folds).
MATBENCH_VALIDATION_TASKS: tuple[str, ...] = ("jdft2d", "phonons", "dielectric")
#: Bounds of the uncertainty column (the variance head's log-variance bounds, -10 and 3).
VARIANCE_FLOOR, VARIANCE_CEILING = math.exp(-10.0), math.exp(3.0)


def effective_rank(vectors: np.ndarray) -> float:
    """exp of the entropy of the normalised singular values of the centred ``vectors``."""
    singular = np.linalg.svd(vectors - vectors.mean(axis=0), compute_uv=False)
    share = singular / singular.sum()
    share = share[share > 0]
    return float(np.exp(-(share * np.log(share)).sum()))


def held_out_formulas(model: str | os.PathLike) -> list[str]:
    """The MP formulas held out of ``model``'s pretraining (stored in its file)."""
    from .network import load_checkpoint
    from .shipped import resolve_pretrained

    _, payload = load_checkpoint(resolve_pretrained(model))
    formulas = payload.get("held_out_formulas")
    if not formulas:
        raise ValueError(f"{model} stores no held-out formulas (pretrain with polysrl pretrain --holdout)")
    return list(formulas)


def uncertainty_auroc(uncertainty: np.ndarray, polymorphic: np.ndarray) -> float:
    """AUROC of the uncertainty for flagging polymorphic formulas (True) against single-structure ones."""
    return float(roc_auc_score(np.asarray(polymorphic, dtype=bool), uncertainty))


def column_measures(compounds: np.ndarray, mixtures: np.ndarray, polymorphic: np.ndarray, with_gap: np.ndarray,
                    gap_errors: np.ndarray) -> tuple[float, float, float]:
    """The three checks of a candidate uncertainty column on held-out formulas, before a stage is trained.

    Parameters
    ----------
    compounds : ndarray (n,)
        The column (or its log) for the held-out formulas.
    mixtures : ndarray (m,)
        The same for the held-out mixtures (:func:`held_out_mixtures`).
    polymorphic : ndarray of bool (n,)
        Whether each formula has two or more MP structures.
    with_gap : ndarray of bool (n,)
        The formulas of :func:`held_out_mp_gap_errors`, in its order.
    gap_errors : ndarray
        Their absolute out-of-fold band-gap errors.

    Returns
    -------
    tuple of float
        Polymorph AUROC, mixture AUROC (mixtures against the formulas) and Spearman's rho
        between the column and the band-gap errors.
    """
    labels = np.r_[np.zeros(len(compounds), bool), np.ones(len(mixtures), bool)]
    return (uncertainty_auroc(compounds, polymorphic), uncertainty_auroc(np.r_[compounds, mixtures], labels),
            float(spearmanr(compounds[with_gap], gap_errors).statistic))


def scaled_sums(name: str, column: np.ndarray, column_mixtures: np.ndarray, added: str, addition: np.ndarray,
                addition_mixtures: np.ndarray, scales: Sequence[float]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Candidate columns ``column + s * (addition - mean(addition))``, one per scale, for :func:`column_table`.

    The formulas' mean of ``addition`` centres the mixtures' too, so that the addition moves
    the column's order, not its level. Each row is named ``"{name} + {s} x {added}"``.
    """
    centre = addition.mean()
    return [(f"{name} + {s:g} x {added}", column + s * (addition - centre),
             column_mixtures + s * (addition_mixtures - centre)) for s in scales]


def column_table(rows: Sequence[tuple[str, np.ndarray, np.ndarray]], polymorphic: np.ndarray, with_gap: np.ndarray,
                 gap_errors: np.ndarray) -> str:
    """A markdown table of :func:`column_measures` for candidate columns ``(name, compounds, mixtures)``."""
    lines = ["| column | polymorph AUROC | mixture AUROC | MP-gap Spearman |", "|---|---:|---:|---:|"]
    for name, compounds, mixtures in rows:
        measures = column_measures(compounds, mixtures, polymorphic, with_gap, gap_errors)
        lines.append(f"| {name} | " + " | ".join(f"{value:.3f}" for value in measures) + " |")
    return "\n".join(lines)


def held_out_measures(model: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> dict[str, float]:
    """AUROC, effective rank and uncertainty level on ``model``'s held-out MP formulas."""
    from .datasets import mp_polymorph_counts
    from .model_cache import cached_featurizer

    formulas = held_out_formulas(model)
    counts = mp_polymorph_counts(data_dir).reindex(formulas).fillna(1).astype(int).to_numpy()
    features = cached_featurizer(model).transform(formulas)
    uncertainty = features[:, -1]
    median = float(np.median(uncertainty))
    return {"held_out": len(formulas), "polymorphic": int((counts >= 2).sum()),
            "auroc": uncertainty_auroc(uncertainty, counts >= 2),
            "effective_rank": effective_rank(features[:, :-1]), "width": features.shape[1] - 1,
            "median_uncertainty": median, "median_over_floor": median / VARIANCE_FLOOR,
            "median_over_ceiling": median / VARIANCE_CEILING}


def held_out_mixtures(model: str | os.PathLike, seed: int = 0) -> tuple[list[str], list[str], np.ndarray]:
    """``model``'s held-out MP formulas, one synthetic mixture hosted by each, and each mixture's guest.

    The mixtures are drawn by :func:`polysrl_sklearn.mixtures.batch_mixtures`, as in training
    (another held-out formula as guest, share log-uniform in 1-50 %), seeded by ``seed``.
    """
    from .composition import parse_composition
    from .mixtures import batch_mixtures, composition_formula

    formulas = held_out_formulas(model)
    mixed_parsed, partner = batch_mixtures([parse_composition(f) for f in formulas], np.random.default_rng(seed))
    return formulas, [composition_formula(parsed) for parsed in mixed_parsed], np.asarray(partner)


def held_out_mixture_measures(model: str | os.PathLike, seed: int = 0) -> dict[str, float]:
    """Synthetic mixtures of the held-out MP formulas: is a mixture more uncertain than a compound?

    Each held-out formula is the host of one mixture, with another held-out formula as guest
    (:func:`polysrl_sklearn.mixtures.batch_mixtures`, as in training: guest share log-uniform
    in 1-50 %, seeded by ``seed``). Returns the AUROC of the uncertainty for the mixtures against the
    held-out formulas, and the share of mixtures more uncertain than both of their parents.
    """
    from .model_cache import cached_featurizer

    formulas, mixtures, partner = held_out_mixtures(model, seed)
    featurizer = cached_featurizer(model)
    compounds, mixed = featurizer.transform(formulas)[:, -1], featurizer.transform(mixtures)[:, -1]
    labels = np.r_[np.zeros(len(compounds), bool), np.ones(len(mixed), bool)]
    return {"mixture_auroc": uncertainty_auroc(np.r_[compounds, mixed], labels),
            "mixture_above_parents": float(np.mean(mixed > np.maximum(compounds, compounds[partner])))}


def held_out_mp_gap_errors(model: str | os.PathLike, data_dir: str | os.PathLike | None = None, seed: int = 0
                           ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """MP DFT band gap of ``model``'s held-out formulas under its frozen features + the paper's head (5-fold CV).

    Returns
    -------
    formulas : list of str
        The held-out formulas that have an MP band gap.
    y : ndarray
        Their band gaps.
    fold_maes : ndarray
        The MAE of each fold.
    errors : ndarray
        The absolute out-of-fold error of each formula.
    """
    from .benchmark import representation_maes
    from .datasets import load_mp_dft_band_gap

    gaps = load_mp_dft_band_gap(data_dir).set_index("composition")["target"]
    formulas = [f for f in held_out_formulas(model) if f in gaps.index]
    y = gaps.loc[formulas].to_numpy()
    fold_maes, predictions = representation_maes(str(model), formulas, y, [seed], head="paper")
    return formulas, y, np.asarray(fold_maes), np.abs(predictions[seed] - y)


def held_out_mp_gap_mae(model: str | os.PathLike, data_dir: str | os.PathLike | None = None, seed: int = 0,
                        magpie_cache: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """MP DFT band gap of the held-out formulas: frozen features + the paper's head, 5-fold CV MAE, and Magpie's.

    Also Spearman's rho between the model's uncertainty column and the absolute out-of-fold
    error (``mp_gap_spearman``; the validation counterpart of the wet-lab band-gap check).
    """
    from .benchmark import MAGPIE, representation_maes
    from .model_cache import cached_featurizer

    formulas, y, model_maes, errors = held_out_mp_gap_errors(model, data_dir, seed)
    magpie_maes, _ = representation_maes(MAGPIE, formulas, y, [seed], magpie_cache, head="paper")
    uncertainty = cached_featurizer(model).transform(formulas)[:, -1]
    rho = spearmanr(uncertainty, errors).statistic
    return {"mp_gap_rows": len(formulas), "mp_gap_mae": float(np.mean(model_maes)),
            "mp_gap_magpie_mae": float(np.mean(magpie_maes)), "mp_gap_spearman": float(rho)}


def matbench_validation_maes(model: str | os.PathLike, data_dir: str | os.PathLike | None = None,
                             tasks: Sequence[str] = MATBENCH_VALIDATION_TASKS, seed: int = 0,
                             magpie_maes: dict[str, float] | None = None, head: str = "paper") -> dict[str, float]:
    """MAE over CrabNet's 5 folds of each task, frozen features + ``head``; Magpie's beside it.

    ``magpie_maes`` (task -> MAE) is filled with Magpie's results the first time and
    reused for later models (they do not depend on the model). Under another head than the
    paper's the keys are prefixed with the head's name (``rf_matbench_phonons_mae``).
    """
    from .benchmark import MAGPIE, matbench_fold_mae

    result: dict[str, float] = {}
    magpie_maes = {} if magpie_maes is None else magpie_maes
    prefix = "" if head == "paper" else f"{head}_"
    for task in tasks:
        result[f"{prefix}{task}_mae"] = float(np.mean([
            matbench_fold_mae(task, str(model), fold, data_dir, seed=seed, head=head) for fold in range(5)]))
        if task not in magpie_maes:
            cache: dict[str, np.ndarray] = {}
            magpie_maes[task] = float(np.mean([matbench_fold_mae(task, MAGPIE, fold, data_dir, seed=seed,
                                                                 magpie_cache=cache, head=head)
                                               for fold in range(5)]))
        result[f"{prefix}{task}_magpie_mae"] = magpie_maes[task]
    return result


def study_score(row: dict[str, float], tasks: Sequence[str] = MATBENCH_VALIDATION_TASKS) -> float:
    """Selection score: geometric mean of MAE / Magpie MAE over the MP band gap and ``tasks`` (lower is better)."""
    ratios = [row["mp_gap_mae"] / row["mp_gap_magpie_mae"]]
    ratios += [row[f"{task}_mae"] / row[f"{task}_magpie_mae"] for task in tasks]
    return _geometric_mean(ratios)


def forest_score(row: dict[str, float], tasks: Sequence[str] = MATBENCH_VALIDATION_TASKS) -> float:
    """Geometric mean of MAE / Magpie MAE over ``tasks`` under the random forest (``rf_`` keys of
    :func:`matbench_validation_maes`; lower is better, 1 is Magpie's)."""
    return _geometric_mean([row[f"rf_{task}_mae"] / row[f"rf_{task}_magpie_mae"] for task in tasks])


def _geometric_mean(ratios: Sequence[float]) -> float:
    return float(np.exp(np.mean(np.log(ratios))))


def select(rows: pd.DataFrame, tie: float = 0.01) -> str:
    """The pre-registered selection rule: lowest :func:`study_score`; candidates within ``tie``
    (relative) of the best are decided by the higher AUROC, then the higher effective rank / F."""
    best = rows["score"].min()
    tied = rows[rows["score"] <= best * (1 + tie)]
    tied = tied.assign(rank_share=tied["effective_rank"] / tied["width"])
    return str(tied.sort_values(["auroc", "rank_share"], ascending=False).iloc[0]["candidate"])
