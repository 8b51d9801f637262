"""A pretraining corpus: formulas, their polymorph structures, and crystal graphs."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Composition, Structure

from .composition import ParsedComposition, parse_composition
from .crystal_graph import CrystalGraphSet, build_graph_set, graph_cache_key
from .recipes import DEFAULTS, TARGET_REDUCTIONS

MP_STRUCTURES_ENV = "POLYSRL_MP_STRUCTURES"


@dataclass
class StructureCorpus:
    """Formulas with their polymorphs, ready for :func:`polysrl_sklearn.pretraining.pretrain`.

    Attributes
    ----------
    formulas : list of str
        Distinct reduced formulas.
    parsed : list of (elements, fractions)
        Parsed form of each formula.
    formula_of_structure : ndarray (n_structures,)
        Index into ``formulas`` of each structure.
    graphs : CrystalGraphSet
        Radius graph of each structure.
    names : list of str
        Identifier of each structure (e.g. material id).
    dropped : dict
        Reason -> identifiers of input structures left out (reported, never silent).
    targets : ndarray (n_formulas,) or (n_formulas, n_properties), optional
        A property per formula: the ``supervised`` objective's target, or the
        auxiliary targets of a multi-task contrastive run (``multitask_weight``;
        one column per property head, NaN where a formula has none).
    """

    formulas: list[str]
    parsed: list[ParsedComposition]
    formula_of_structure: np.ndarray
    graphs: CrystalGraphSet
    names: list[str]
    dropped: dict[str, list[str]] = field(default_factory=dict)
    targets: np.ndarray | None = None

    @property
    def property_count(self) -> int:
        """Number of property columns of ``targets`` (1 for one-dimensional targets or none)."""
        return 1 if self.targets is None or np.ndim(self.targets) == 1 else int(np.shape(self.targets)[1])

    @property
    def polymorph_counts(self) -> np.ndarray:
        """Number of structures of each formula."""
        return np.bincount(self.formula_of_structure, minlength=len(self.formulas))

    def subset_formulas(self, keep: np.ndarray) -> "StructureCorpus":
        """Corpus restricted to the formulas flagged in boolean ``keep``."""
        keep = np.asarray(keep, dtype=bool)
        new_id = np.full(len(self.formulas), -1)
        new_id[keep] = np.arange(keep.sum())
        structures = np.flatnonzero(keep[self.formula_of_structure])
        graphs = self.graphs.take(structures) if len(self.graphs) else self.graphs
        return StructureCorpus([f for f, k in zip(self.formulas, keep) if k],
                               [p for p, k in zip(self.parsed, keep) if k],
                               new_id[self.formula_of_structure[structures]], graphs,
                               [self.names[s] for s in structures], dict(self.dropped),
                               None if self.targets is None else self.targets[keep])


def _parsed_or_none(formula: str) -> ParsedComposition | None:
    """The parsed formula, or None if an element has no embedding (its structures are dropped)."""
    try:
        return parse_composition(formula)
    except ValueError:
        return None


def _no_crystal_graphs() -> CrystalGraphSet:
    """The graph set of a structure-free corpus (no structure, no node)."""
    return CrystalGraphSet(np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int16),
                           np.zeros(0, np.int16), np.zeros(0, np.float32))


def _group(formula_per_structure: Sequence[str]) -> tuple[list[str], np.ndarray]:
    formulas, owner = np.unique(np.asarray(formula_per_structure, dtype=object).astype(str),
                                return_inverse=True)
    return formulas.tolist(), owner.astype(np.int64)


def corpus_from_structures(structures: Sequence[Structure], compositions: Sequence[Any] | None = None,
                           cutoff: float = DEFAULTS.cutoff, max_neighbors: int = DEFAULTS.max_neighbors,
                           n_jobs: int | None = -1,
                           cache_dir: str | os.PathLike | None = None,
                           verbose: bool = False) -> StructureCorpus:
    """Group structures by reduced formula and build their graphs.

    Parameters
    ----------
    structures : sequence of pymatgen Structure
    compositions : sequence, optional
        The composition given for each structure (as passed to ``fit``); each
        must have the same atomic fractions as its structure.
    cutoff, max_neighbors, n_jobs, verbose : see :func:`build_graph_set`.
    cache_dir : path, optional
        Directory for the graph cache.

    Raises
    ------
    ValueError
        If lengths differ, an item is not a Structure, or a composition does
        not match its structure.
    """
    structures = list(structures)
    if compositions is not None and len(compositions) != len(structures):
        raise ValueError(f"got {len(compositions)} compositions but {len(structures)} structures")
    reduced = []
    for i, s in enumerate(structures):
        if not isinstance(s, Structure):
            raise ValueError(f"structure at position {i} has type {type(s).__name__}, expected a pymatgen Structure")
        reduced.append(s.composition.reduced_formula)
        if compositions is not None:
            given_el, given_frac = parse_composition(compositions[i], i)
            own_el, own_frac = parse_composition(s.composition, i)
            if not (np.array_equal(given_el, own_el) and np.allclose(given_frac, own_frac, atol=1e-4)):
                raise ValueError(f"composition {compositions[i]!r} at position {i} does not match its "
                                 f"structure ({s.composition.reduced_formula})")
    formulas, owner = _group(reduced)
    names = [f"{reduced[i]}#{i}" for i in range(len(structures))]
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"graphs-{graph_cache_key([s.to(fmt='poscar') for s in structures], cutoff, max_neighbors)}.npz"
    graphs = build_graph_set(structures, cutoff, max_neighbors, names, n_jobs, cache_path=cache, verbose=verbose)
    return StructureCorpus(formulas, [parse_composition(Composition(f)) for f in formulas], owner, graphs, names)


def iter_mp_records(path: str | os.PathLike | None = None, limit: int | None = None) -> Iterator[dict]:
    """Yield records of the MP JSON-lines structure file.

    Parameters
    ----------
    path : path, optional
        ``mp_structures_id_lt2M.jsonl.gz`` (or any file of that format). If
        omitted, the environment variable ``POLYSRL_MP_STRUCTURES`` is used.
    limit : int, optional
        Stop after this many records.
    """
    for line in iter_mp_lines(path, limit):
        yield json.loads(line)


def iter_mp_lines(path: str | os.PathLike | None = None, limit: int | None = None) -> Iterator[str]:
    """Yield the raw JSON lines of the MP structure file (see :func:`iter_mp_records`)."""
    path = resolve_mp_path(path)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as handle:
        for i, line in enumerate(handle):
            if limit is not None and i >= limit:
                break
            yield line


def corpus_lines(path: str | os.PathLike | None, corpus: StructureCorpus, limit: int | None = None) -> list[str]:
    """The raw JSON lines of ``corpus``'s structures, in corpus order (the file's order).

    ``corpus`` is what :func:`corpus_from_mp_jsonl` built from the same ``path``
    and ``limit``; the lines of structures it dropped are left out, so line ``i``
    is structure ``i`` of the corpus (what a per-structure vector cache needs).

    Raises
    ------
    ValueError
        If the lines found do not match the corpus's structures one to one
        (another file or limit than the corpus was built from).
    """
    wanted = set(corpus.names)
    found = [(json.loads(line)["material_id"], line) for line in iter_mp_lines(path, limit)]
    lines = [line for name, line in found if name in wanted]
    if [name for name, _ in found if name in wanted] != list(corpus.names):
        raise ValueError(f"the structures of {path or '$' + MP_STRUCTURES_ENV} (limit {limit}) do not match the "
                         f"corpus's {len(corpus.names)} structures; build the corpus from the same file and limit")
    return lines


def resolve_mp_path(path: str | os.PathLike | None) -> Path:
    """Return the MP structures file from ``path`` or ``$POLYSRL_MP_STRUCTURES``."""
    path = path or os.environ.get(MP_STRUCTURES_ENV)
    if not path:
        raise FileNotFoundError(
            f"no MP structure file given: pass a path or set ${MP_STRUCTURES_ENV} "
            "(e.g. to shared/data/fxcoudert_topology_databases/mp_structures_id_lt2M.jsonl.gz)")
    if not Path(path).is_file():
        raise FileNotFoundError(f"MP structure file not found: {path}")
    return Path(path)


def corpus_from_mp_jsonl(path: str | os.PathLike | None = None, limit: int | None = None,
                         cutoff: float = DEFAULTS.cutoff, max_neighbors: int = DEFAULTS.max_neighbors,
                         n_jobs: int | None = -1,
                         cache_dir: str | os.PathLike | None = None,
                         verbose: bool = True) -> StructureCorpus:
    """Load the MP JSON-lines corpus and build (or load cached) crystal graphs.

    Parameters
    ----------
    path : path, optional
        See :func:`iter_mp_records`.
    limit : int, optional
        Use only the first ``limit`` structures (for quick runs).
    cutoff, max_neighbors, n_jobs, verbose : see :func:`build_graph_set`.
    cache_dir : path, optional
        Directory for the graph cache (one ``.npz`` per corpus and settings).
    """
    lines = list(iter_mp_lines(path, limit))
    records = [json.loads(line) for line in lines]
    names = [r["material_id"] for r in records]
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"mp-graphs-{graph_cache_key(names, cutoff, max_neighbors)}.npz"
    # workers get the raw lines: cheaper to send than parsed records
    graphs = build_graph_set(lines, cutoff, max_neighbors, names, n_jobs, cache_path=cache,
                             verbose=verbose, skip_invalid=True)
    valid_graph = graphs.num_nodes > 0
    parsed_of: dict[str, ParsedComposition | None] = {}
    for r in records:
        if r["formula"] not in parsed_of:
            parsed_of[r["formula"]] = _parsed_or_none(r["formula"])
    valid_formula = np.array([parsed_of[r["formula"]] is not None for r in records], dtype=bool)
    keep = np.flatnonzero(valid_graph & valid_formula)
    formulas, owner = _group([records[i]["formula"] for i in keep])
    corpus = StructureCorpus(formulas, [parsed_of[f] for f in formulas], owner, graphs.take(keep),
                             [names[i] for i in keep])
    corpus.dropped = {
        "invalid_crystal_graph": [names[i] for i in np.flatnonzero(~valid_graph)],
        "element_without_embedding": [names[i] for i in np.flatnonzero(valid_graph & ~valid_formula)],
    }
    return corpus


def corpus_from_property_table(compositions: Sequence[Any], targets: Sequence[float]) -> StructureCorpus:
    """A structure-free corpus for the ``supervised`` objective.

    Rows are grouped by reduced formula and their targets averaged (MP has no
    energies here to pick the ground-state polymorph, unlike the paper).

    Parameters
    ----------
    compositions : sequence of str or Composition
    targets : sequence of float
    """
    reduced = []
    for i, item in enumerate(compositions):
        parse_composition(item, i)
        reduced.append((item if isinstance(item, Composition) else Composition(item)).reduced_formula)
    formulas, owner = _group(reduced)
    sums = np.bincount(owner, weights=np.asarray(targets, dtype=np.float64), minlength=len(formulas))
    means = sums / np.bincount(owner, minlength=len(formulas))
    return StructureCorpus(formulas, [parse_composition(f) for f in formulas],
                           np.arange(len(formulas)), _no_crystal_graphs(), formulas, targets=means.astype(np.float32))


def formula_corpus_from_mp_jsonl(path: str | os.PathLike | None = None, limit: int | None = None
                                 ) -> StructureCorpus:
    """The distinct formulas of the MP JSON-lines corpus, without their structures (no graph is built).

    For objectives that read no structure but train on the pretraining formulas
    (``error_variance``). A formula with an element that has no embedding is left out, as
    :func:`corpus_from_mp_jsonl` leaves out its structures (their ids are in ``dropped``);
    the targets are NaN (:func:`with_formula_targets` sets them).

    Parameters
    ----------
    path : path, optional
        See :func:`iter_mp_records`.
    limit : int, optional
        Read only the first ``limit`` structures.
    """
    records = [json.loads(line) for line in iter_mp_lines(path, limit)]
    formulas, owner = _group([r["formula"] for r in records])
    parsed = [_parsed_or_none(formula) for formula in formulas]
    valid = np.array([p is not None for p in parsed], dtype=bool)
    kept = [f for f, ok in zip(formulas, valid) if ok]
    dropped = {"element_without_embedding": [r["material_id"] for r, f in zip(records, owner) if not valid[f]]}
    return StructureCorpus(kept, [p for p in parsed if p is not None], np.arange(len(kept)), _no_crystal_graphs(),
                           kept, dropped, np.full(len(kept), np.nan, dtype=np.float32))


def with_formula_targets(corpus: StructureCorpus, compositions: Sequence[Any], values: Any,
                         reduce: str | Sequence[str] = "mean") -> StructureCorpus:
    """``corpus`` with ``targets``: ``values`` reduced over the rows of each corpus formula, NaN for the rest.

    Rows are matched by pymatgen reduced formula; rows whose formula is not in
    the corpus are ignored (they have no structure to pretrain on), and so are
    NaN values (a row may carry some properties and not others).

    Parameters
    ----------
    corpus : StructureCorpus
    compositions : sequence of str or Composition
    values : array-like of shape (n_rows,) or (n_rows, n_properties)
        One property (the targets are then one-dimensional) or one column
        per property head.
    reduce : {"mean", "min"} or sequence of them, default="mean"
        How the rows of one formula become its target, per column: their
        mean, or their lowest value (for instance the ground-state polymorph's
        formation energy).

    Returns
    -------
    StructureCorpus
    """
    table = np.asarray(values, dtype=np.float64)
    if table.ndim not in (1, 2) or len(table) != len(compositions):
        raise ValueError(f"values must have shape ({len(compositions)},) or ({len(compositions)}, n_properties); "
                         f"got {table.shape}")
    columns = table.reshape(len(table), -1)
    reductions = [reduce] * columns.shape[1] if isinstance(reduce, str) else list(reduce)
    if len(reductions) != columns.shape[1] or any(r not in TARGET_REDUCTIONS for r in reductions):
        raise ValueError(f"reduce must be one of {TARGET_REDUCTIONS} or one per property column "
                         f"({columns.shape[1]}); got {reduce!r}")
    position = {f: i for i, f in enumerate(corpus.formulas)}
    row_of: dict[Any, int] = {}  # tables repeat formulas (polymorphs): parse each distinct item once
    for item in compositions:
        if item not in row_of:
            row_of[item] = position.get((item if isinstance(item, Composition) else Composition(item)).reduced_formula,
                                        -1)
    rows = np.array([row_of[item] for item in compositions], dtype=np.int64)
    targets = np.full((len(corpus.formulas), columns.shape[1]), np.nan)
    for column, reduction in enumerate(reductions):
        keep = (rows >= 0) & np.isfinite(columns[:, column])
        owner, value = rows[keep], columns[keep, column]
        counts = np.bincount(owner, minlength=len(corpus.formulas))
        if reduction == "mean":
            reduced = np.bincount(owner, weights=value, minlength=len(corpus.formulas)) / np.maximum(counts, 1)
        else:
            reduced = np.full(len(corpus.formulas), np.inf)
            np.minimum.at(reduced, owner, value)
        targets[:, column] = np.where(counts > 0, reduced, np.nan)
    targets = targets.astype(np.float32)
    return StructureCorpus(corpus.formulas, corpus.parsed, corpus.formula_of_structure, corpus.graphs,
                           corpus.names, dict(corpus.dropped), targets[:, 0] if table.ndim == 1 else targets)
