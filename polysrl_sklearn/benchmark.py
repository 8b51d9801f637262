"""``polysrl benchmark``: representation-learning MAE on the paper's wet-lab tasks.

For every task, method and evaluation head (:data:`~polysrl_sklearn.evaluation.HEADS`:
``paper``, ``mlp``, ``rf``), frozen features (an encoder's, or Magpie's) feed the
head under 5-fold CV repeated over seeds. MAEs are reported in the paper's units
(x10 where the paper does).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from .datasets import MAE_SCALE, MATBENCH_MP_TASKS, TASKS, load_matbench, seebeck_from_scaled, thermoelectric_zt
from .datasets.paper import PAPER_POLYSRL, PAPER_POLYSRL_TL, PAPER_RAND_INIT  # noqa: F401 - re-exported
from .evaluation import HEADS, PAPER_HEAD_LEARNING_RATES, MagpieFeatures, mlp_head, paper_feature_head, repeated_cv_mae, rf_head
from .featurizer import PolySRLFeaturizer
from .fold_log import FoldLog
from .regressor import PolySRLRegressor
from .shipped import RANDOM_INIT, SHIPPED

#: Method name -> ``pretrained`` argument of PolySRLFeaturizer (None = random init): the
#: canonical names of :mod:`polysrl_sklearn.shipped`.
FEATURIZER_METHODS: dict[str, str | None] = {RANDOM_INIT: None, **{name: name for name in SHIPPED}}
MAGPIE = "magpie"


def pretrained_for(method: str) -> str | None:
    """The ``pretrained`` value of ``method``: a :data:`FEATURIZER_METHODS` name, or else the
    method itself taken as a ``pretrained`` value (a shipped model name or a checkpoint path)."""
    return FEATURIZER_METHODS.get(method, method)


def frozen_featurizer(method: str, hidden_dim: int | None = None) -> PolySRLFeaturizer:
    """A fitted featurizer for ``method`` (weights loaded, or seeded random init); see :func:`pretrained_for`."""
    return PolySRLFeaturizer(pretrained=pretrained_for(method), hidden_dim=hidden_dim,
                             random_state=0).fit([])


def magpie_rows(compositions: Sequence[str], cache: dict[str, np.ndarray]) -> np.ndarray:
    """Magpie features of ``compositions``, computing only those not yet in ``cache`` (updated)."""
    missing = list(dict.fromkeys(c for c in compositions if c not in cache))
    if missing:
        cache.update(zip(missing, MagpieFeatures().transform(missing)))
    return np.stack([cache[c] for c in compositions])


#: Head name -> the head for a feature matrix, given a seed (see :mod:`polysrl_sklearn.evaluation`).
FEATURE_HEADS = {"paper": paper_feature_head, "mlp": mlp_head, "rf": rf_head}


def check_head(head: str) -> None:
    """Raise ValueError unless ``head`` is one of :data:`~polysrl_sklearn.evaluation.HEADS`."""
    if head not in HEADS:
        raise ValueError(f"unknown evaluation head {head!r}; choose from {list(HEADS)}")


def frozen_model(method: str, head: str, seed: int, feature_head=None):
    """The estimator that maps compositions to predictions for an encoder ``method`` under ``head``.

    ``paper``: :class:`PolySRLRegressor` with ``finetune=False`` (the encoder's mean vectors,
    standardised on the training rows, into the paper's head at its fixed learning rate).
    ``mlp`` / ``rf``: the featurizer's output (mean vector and uncertainty column) into that head,
    with the featurizer frozen by ``FrozenEstimator``; ``feature_head`` replaces the head's
    default estimator there (the Matbench MP tasks stop the ``mlp`` head early).
    A random-init encoder is seeded by ``seed`` under ``paper`` and by 0 under the other heads.
    """
    check_head(head)
    if head == "paper":
        return PolySRLRegressor(pretrained=pretrained_for(method), finetune=False,
                                learning_rates=PAPER_HEAD_LEARNING_RATES, random_state=seed)
    return Pipeline([("polysrl", FrozenEstimator(frozen_featurizer(method))),
                     ("head", FEATURE_HEADS[head](seed) if feature_head is None else feature_head)])


def representation_maes(method: str, X: Sequence[str], y: np.ndarray, seeds: Sequence[int],
                        magpie_cache: dict[str, np.ndarray] | None = None,
                        head: str = "paper") -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Fold MAEs (unscaled) and out-of-fold predictions of ``method`` under ``head`` on one task.

    ``magpie_cache`` (composition -> Magpie row, see :func:`magpie_rows`) lets tasks share
    Magpie features; Magpie is stateless, so computing it once equals computing it per fold.
    """
    check_head(head)
    if method == MAGPIE:
        features = magpie_rows(list(X), {} if magpie_cache is None else magpie_cache)
        return repeated_cv_mae(FEATURE_HEADS[head], features, y, seeds)
    return repeated_cv_mae(lambda seed: frozen_model(method, head, seed), np.asarray(X, dtype=object), y, seeds)


def transfer_maes(method: str, X: Sequence[str], y: np.ndarray, seeds: Sequence[int], epochs: int = 300,
                  device: str = "auto") -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Fold MAEs of fine-tuning (PolySRLRegressor) the encoder of ``method``; lr chosen per fold on an inner split."""
    def make(seed: int) -> PolySRLRegressor:
        return PolySRLRegressor(pretrained=pretrained_for(method), epochs=epochs, device=device,
                                random_state=seed)
    return repeated_cv_mae(make, np.asarray(X, dtype=object), y, seeds)


def zt_mae(frames: dict[str, pd.DataFrame], predictions: dict[str, dict[int, np.ndarray]],
           temperature: float) -> float:
    """MAE of ZT computed from predicted E.C., T.C. and Seebeck, against ZT from measured ones.

    Parameters
    ----------
    frames : dict target -> task frame (``ec``, ``tc``, ``seebeck``), same compositions.
    predictions : dict target -> seed -> out-of-fold predictions.
    temperature : float
    """
    ec, tc, sb = frames["ec"], frames["tc"], frames["seebeck"]
    measured = thermoelectric_zt(sb["seebeck_uV_per_K"].to_numpy(), ec["electrical_conductivity"].to_numpy(),
                                 tc["thermal_conductivity"].to_numpy(), temperature)
    errors = []
    for seed in predictions["ec"]:
        seebeck = seebeck_from_scaled(predictions["seebeck"][seed], sb.attrs)
        zt = thermoelectric_zt(seebeck, np.exp(predictions["ec"][seed]), np.exp(predictions["tc"][seed]),
                               temperature)
        errors.append(np.abs(zt - measured).mean())
    return float(np.mean(errors))


def score_row(task: str, method: str, head: str, maes: np.ndarray, n: int, started: float) -> dict:
    """One results row: fold MAEs scaled to the paper's units, their mean and std, and the wall time."""
    scaled = np.asarray(maes) * MAE_SCALE[task]
    return {"task": task, "method": method, "head": head, "mae_mean": scaled.mean(), "mae_std": scaled.std(),
            "n": n, "seconds": time.time() - started}


def zt_rows(frames: dict[str, pd.DataFrame],
            predictions: dict[tuple[str, str, str], dict[int, np.ndarray]]) -> list[dict]:
    """``zt300``/``zt600`` rows for every (method, head) with predictions for all three ESTM targets."""
    rows = []
    labels = list(dict.fromkeys((method, head) for _, method, head in predictions))
    for temperature in (300, 600):
        names = {t: f"estm{temperature}_{t}" for t in ("ec", "tc", "seebeck")}
        if not all(name in frames for name in names.values()):
            continue
        for method, head in labels:
            if all((name, method, head) in predictions for name in names.values()):
                value = zt_mae({t: frames[n] for t, n in names.items()},
                               {t: predictions[(n, method, head)] for t, n in names.items()}, temperature)
                rows.append({"task": f"zt{temperature}", "method": method, "head": head, "mae_mean": value,
                             "mae_std": np.nan, "n": len(frames[names["ec"]]), "seconds": 0.0})
    return rows


def run_benchmark(tasks: Sequence[str], methods: Sequence[str], seeds: Sequence[int] = (0, 1, 2),
                  data_dir: str | None = None, log=print, transfer: bool = False, transfer_epochs: int = 300,
                  device: str = "auto", representation: bool = True,
                  heads: Sequence[str] = ("paper",)) -> pd.DataFrame:
    """Representation-learning and/or transfer-learning benchmark.

    Every method runs under every head in ``heads`` (frozen features). With
    ``transfer=True`` every featurizer method is also fine-tuned with the paper's
    head (method name suffixed ``+TL``, head ``paper``); Magpie has no encoder to
    fine-tune. ``representation=False`` skips the frozen-feature runs (transfer only).

    Returns
    -------
    DataFrame
        One row per (task, method, head): ``mae_mean``, ``mae_std`` (over all
        folds and seeds, in the paper's units), ``n``, ``seconds``; plus
        ``zt300``/``zt600`` rows for every (method, head) whose three ESTM
        targets of that temperature all ran.
    """
    for head in heads:
        check_head(head)
    rows, magpie_cache = [], {}
    predictions: dict[tuple[str, str, str], dict[int, np.ndarray]] = {}
    frames: dict[str, pd.DataFrame] = {}
    for task in tasks:
        frame = TASKS[task](data_dir=data_dir)
        frames[task] = frame
        X, y = frame["composition"].tolist(), frame["target"].to_numpy(dtype=np.float64)
        for method in methods:
            runs = []
            if representation:
                runs += [(method, head, lambda m=method, h=head: representation_maes(m, X, y, seeds, magpie_cache, h))
                         for head in heads]
            if transfer and method != MAGPIE:
                runs.append((f"{method}+TL", "paper",
                             lambda m=method: transfer_maes(m, X, y, seeds, transfer_epochs, device)))
            for label, head, evaluate in runs:
                started = time.time()
                maes, predictions[(task, label, head)] = evaluate()
                rows.append(score_row(task, label, head, maes, len(y), started))
                log(f"{task:<20} {label:<18} {head:<6} MAE {rows[-1]['mae_mean']:.3f} ({rows[-1]['mae_std']:.3f})  "
                    f"n={len(y)}  {rows[-1]['seconds']:.0f}s")
    return pd.DataFrame(rows + zt_rows(frames, predictions))


def matbench_fold_predictions(task: str, method: str, fold: int, data_dir: str | None = None, seed: int = 0,
                              magpie_cache: dict[str, np.ndarray] | None = None,
                              head: str = "paper") -> tuple[pd.DataFrame, np.ndarray]:
    """One Matbench test fold and its predictions (fit on its train + val splits), frozen features + ``head``.

    ``magpie_cache`` (composition -> Magpie row) lets the folds of one task share Magpie
    features; Magpie is stateless, so this equals featurizing each fold. Under the ``mlp``
    head, on the two large Materials Project tasks, the head stops early on 10 % of train + val
    (the 72/8/20 protocol's validation share); elsewhere it runs its fixed 300 epochs. The
    ``paper`` head chooses its learning rate on an inner 20 % of train + val.

    Returns
    -------
    test : DataFrame
        The test split (``composition``, ``target``, ...).
    predictions : ndarray
    """
    check_head(head)
    splits = load_matbench(task, fold, data_dir)
    train = pd.concat([splits["train"], splits["val"]], ignore_index=True)
    test = splits["test"]
    feature_head = mlp_head(seed, early_stopping=task in MATBENCH_MP_TASKS) if head == "mlp" else \
        FEATURE_HEADS[head](seed)
    if method == MAGPIE:
        cache = {} if magpie_cache is None else magpie_cache
        model = feature_head
        X_train = magpie_rows(list(train["composition"]), cache)
        X_test = magpie_rows(list(test["composition"]), cache)
    else:
        model = frozen_model(method, head, seed, feature_head)
        X_train = np.asarray(train["composition"], dtype=object)
        X_test = np.asarray(test["composition"], dtype=object)
    model.fit(X_train, train["target"].to_numpy())
    return test, model.predict(X_test)


def matbench_fold_mae(task: str, method: str, fold: int, data_dir: str | None = None, seed: int = 0,
                      magpie_cache: dict[str, np.ndarray] | None = None, head: str = "paper") -> float:
    """MAE on one Matbench test fold: :func:`matbench_fold_predictions` against the fold's targets."""
    test, predictions = matbench_fold_predictions(task, method, fold, data_dir, seed, magpie_cache, head)
    return float(np.abs(predictions - test["target"].to_numpy()).mean())


def run_matbench(tasks: Sequence[str], methods: Sequence[str], folds: Sequence[int] = range(5),
                 data_dir: str | None = None, log=print, seeds: Sequence[int] = (0,),
                 heads: Sequence[str] = ("paper",), fold_log: str | Path | None = None) -> pd.DataFrame:
    """Matbench DFT tasks (paper Table 6): CrabNet's fixed folds, or seeded 72/8/20 folds for the
    two Materials Project tasks (see :func:`~polysrl_sklearn.datasets.load_matbench`); MAE on the
    (logged, where noted) target, mean (std) over ``seeds`` (of the head) x ``folds``, for every
    method under every head.

    With ``fold_log`` (a :class:`~polysrl_sklearn.fold_log.FoldLog` file) every finished fold is
    appended to it at once, and the folds it already holds are read from it instead of being
    run again, so an interrupted run resumes; a row's ``seconds`` then add the logged folds' times.
    """
    for head in heads:
        check_head(head)
    done = FoldLog(fold_log) if fold_log is not None else None
    rows = []
    for task in tasks:
        magpie_cache: dict[str, np.ndarray] = {}
        for method in methods:
            for head in heads:
                started = time.time()
                maes, logged_seconds = [], 0.0
                for seed in seeds:
                    for fold in folds:
                        key = (task, method, head, int(seed), int(fold))
                        logged = done.get(key) if done is not None else None
                        if logged is None:
                            fold_started = time.time()
                            mae = matbench_fold_mae(task, method, fold, data_dir, seed=seed,
                                                    magpie_cache=magpie_cache, head=head)
                            fold_seconds = time.time() - fold_started
                            if done is not None:
                                done.record(key, mae, fold_seconds)
                            when = f"{fold_seconds:.0f}s"  # the fold's own time, as a logged fold shows it
                        else:
                            mae, seconds = logged
                            logged_seconds += seconds
                            when = f"(from the fold log, {seconds:.0f}s)"
                        maes.append(mae)
                        log(f"matbench {task:<22} {method:<18} {head:<6} seed {seed} fold {fold} MAE {mae:.4f}  {when}")
                maes = np.array(maes)
                rows.append({"task": f"matbench_{task}", "method": method, "head": head, "mae_mean": maes.mean(),
                             "mae_std": maes.std(), "n": len(maes),
                             "seconds": time.time() - started + logged_seconds})
                log(f"matbench {task:<22} {method:<18} {head:<6} MAE {maes.mean():.4f} ({maes.std():.4f})  "
                    f"{rows[-1]['seconds']:.0f}s")
    return pd.DataFrame(rows)


def combine_runs(runs: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Merge saved benchmark results; a later run's (task, method, head) row replaces an earlier one's.

    This is how a partial re-run (say ``--methods polysrl`` after the default model
    changed) updates one column of a full run without re-running the others. A
    replaced row keeps the position of the row it replaces, so the table's row and
    column order stay those of the first run.

    Parameters
    ----------
    runs : sequence of DataFrame
        Results as written by ``polysrl benchmark --csv``, oldest first.

    Returns
    -------
    DataFrame
        One row per (task, method, head).
    """
    frame = pd.concat([with_heads(run) for run in runs], ignore_index=True)
    keys = ["task", "method", "head"]
    first_seen = frame.groupby(keys, sort=False).ngroup()  # numbered by first appearance
    latest = frame.assign(first_seen=first_seen).drop_duplicates(keys, keep="last")
    return latest.sort_values("first_seen", kind="stable").drop(columns="first_seen").reset_index(drop=True)


def with_heads(results: pd.DataFrame) -> pd.DataFrame:
    """``results`` with a ``head`` column: results saved before heads existed ran the ``mlp`` head
    (their ``+TL`` rows the paper's head, as fine-tuning always has)."""
    if "head" in results.columns:
        return results
    return results.assign(head=["paper" if str(m).endswith("+TL") else "mlp" for m in results["method"]])


def pool_seed_runs(runs: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Merge saved runs made with different seeds into one row per (task, method, head).

    Every seed contributes the same 5 folds, so the pooled mean is the seed-weighted mean and
    the pooled (population) std follows from each run's mean and std exactly. A ZT row has no
    fold std; its pooled value is the seed-weighted mean.

    Parameters
    ----------
    runs : sequence of DataFrame
        Results as written by ``polysrl benchmark --csv`` (columns ``seeds`` and ``seed_ids``
        name the seeds of each run; a run without them counts as one seed).

    Returns
    -------
    DataFrame

    Raises
    ------
    ValueError
        If two runs of one (task, method, head) share a seed.
    """
    frame = pd.concat([with_heads(run) for run in runs], ignore_index=True)
    weight = frame["seeds"].fillna(1) if "seeds" in frame else pd.Series(1, index=frame.index)
    frame = frame.assign(weight=weight, second_moment=frame["mae_std"] ** 2 + frame["mae_mean"] ** 2)
    rows = []
    for (task, method, head), group in frame.groupby(["task", "method", "head"], sort=False):
        if "seed_ids" in group:
            ids = [int(i) for text in group["seed_ids"].dropna() for i in str(text).split()]
            if len(ids) != len(set(ids)):
                raise ValueError(f"runs of {task} / {method} / {head} share a seed ({sorted(ids)}); "
                                 "pool distinct seeds only")
        w = group["weight"] / group["weight"].sum()
        mean = (w * group["mae_mean"]).sum()  # a numpy float: a diverged run's square overflows to inf, not an error
        with np.errstate(over="ignore", invalid="ignore"):  # ... and its std is then NaN
            std = float(np.sqrt(np.maximum((w * group["second_moment"]).sum() - mean ** 2, 0.0)))
        rows.append({"task": task, "method": method, "head": head, "mae_mean": float(mean),
                     "mae_std": np.nan if group["mae_std"].isna().any() else std,
                     "seeds": int(group["weight"].sum())})
    return pd.DataFrame(rows)


def method_label(method: str) -> str:
    """Column header of ``method``: a checkpoint path is shown by its file name, without folder or
    suffix (``/runs/m.pt`` -> ``m``, ``/runs/m.pt+TL`` -> ``m+TL``)."""
    tl = "+TL" if method.endswith("+TL") else ""
    path = Path(method.removesuffix(tl))
    return (path.stem if path.suffix in (".pt", ".ckpt") else str(path)) + tl


def format_table(results: pd.DataFrame, paper: dict[str, float] | None = None,
                 paper_label: str = "paper PolySRL", extra_paper: dict[str, dict[str, float]] | None = None) -> str:
    """Markdown table: tasks as rows, ``method (head)`` columns, ``mean (std)`` cells, plus the paper's rows.

    Parameters
    ----------
    results : DataFrame
        Columns ``task``, ``method``, ``mae_mean``, ``mae_std`` and ``head`` (taken as ``mlp``
        when missing, see :func:`with_heads`).
    paper : dict, optional
        Task -> the paper's value for the last column (default: :data:`PAPER_POLYSRL`).
    paper_label : str
        Header of that column.
    extra_paper : dict, optional
        More of the paper's rows, header -> (task -> value), put before ``paper``'s column
        (e.g. ``{"paper rand init": PAPER_RAND_INIT}``).
    """
    paper = PAPER_POLYSRL if paper is None else paper
    results = with_heads(results)
    cell = results.apply(lambda r: f"{r.mae_mean:.3f}" + ("" if np.isnan(r.mae_std) else f" ({r.mae_std:.3f})"),
                         axis=1)
    column = results.apply(lambda r: f"{method_label(str(r.method))} ({r['head']})", axis=1)
    table = results.assign(cell=cell, column=column).pivot(index="task", columns="column", values="cell")
    table = table.reindex(index=list(dict.fromkeys(results["task"])),
                          columns=list(dict.fromkeys(column))).fillna("")  # not run: empty cell
    for label, values in {**(extra_paper or {}), paper_label: paper}.items():
        table[label] = [f"{values[t]:.3f}" if t in values else "" for t in table.index]
    header = "| task | " + " | ".join(str(c) for c in table.columns) + " |"
    lines = [header, "|---" * (len(table.columns) + 1) + "|"]
    lines += ["| " + task + " | " + " | ".join(str(v) for v in row) + " |" for task, row in table.iterrows()]
    return "\n".join(lines)


def markdown_table(results: pd.DataFrame) -> str:
    """:func:`format_table` beside the paper's matching rows: Table 2 PolySRL when every row is
    fine-tuned (``+TL``), else the Table 1/6 random-init and PolySRL rows."""
    if len(results) and results["method"].astype(str).str.endswith("+TL").all():
        return format_table(results, PAPER_POLYSRL_TL, "paper PolySRL+TL")
    return format_table(results, extra_paper={"paper rand init": PAPER_RAND_INIT})
