"""Where pretraining structures come from, for users with internet access.

The offline corpus is the MP JSON-lines file read by
:func:`polysrl_sklearn.corpus.corpus_from_mp_jsonl`. With network access, the
same ``(compositions, structures)`` pairs can come from a matminer dataset or
from the Materials Project API; pass them to
``PolySRLFeaturizer().fit(compositions, structures=structures)``.
"""

from __future__ import annotations

import os
from typing import Any

from pymatgen.core import Structure

MP_API_KEY_ENV = "MP_API_KEY"


def _pairs(structures: list[Any], source: str) -> tuple[list[str], list[Structure]]:
    for i, s in enumerate(structures):
        if not isinstance(s, Structure):
            raise ValueError(f"{source}: item {i} is a {type(s).__name__}, not a pymatgen Structure")
    return [s.composition.reduced_formula for s in structures], list(structures)


def structures_from_matminer(name: str = "mp_all_20181018", structure_column: str = "structure",
                             data_home: str | os.PathLike | None = None, limit: int | None = None
                             ) -> tuple[list[str], list[Structure]]:
    """Composition-structure pairs from a matminer dataset (downloads it once).

    Parameters
    ----------
    name : str
        A matminer dataset with a structure column, e.g. ``"mp_all_20181018"``
        or ``"matbench_mp_gap"``.
    structure_column : str
        Column holding pymatgen Structures.
    data_home : path, optional
        matminer's download/cache folder.
    limit : int, optional
        Keep only the first ``limit`` rows.

    Returns
    -------
    compositions : list of str
        Reduced formula of each structure.
    structures : list of Structure
    """
    from matminer.datasets import load_dataset

    frame = load_dataset(name, data_home=None if data_home is None else str(data_home))
    if structure_column not in frame.columns:
        raise ValueError(f"matminer dataset {name!r} has no column {structure_column!r}; "
                         f"columns: {list(frame.columns)}")
    column = frame[structure_column]
    return _pairs(column.iloc[:limit].tolist() if limit else column.tolist(), f"matminer {name}")


def structures_from_mp_api(api_key: str | None = None, limit: int | None = None, **criteria: Any
                           ) -> tuple[list[str], list[Structure]]:
    """Composition-structure pairs from the Materials Project API (``pip install mp-api``).

    Parameters
    ----------
    api_key : str, optional
        Defaults to ``$MP_API_KEY``.
    limit : int, optional
        Keep only the first ``limit`` documents.
    **criteria
        Passed to ``MPRester().materials.summary.search`` (e.g.
        ``num_sites=(1, 50)``, ``elements=["O"]``, ``is_stable=True``).

    Returns
    -------
    compositions : list of str
    structures : list of Structure
    """
    api_key = api_key or os.environ.get(MP_API_KEY_ENV)
    if not api_key:
        raise ValueError(f"an MP API key is needed: pass api_key= or set ${MP_API_KEY_ENV}")
    try:
        from mp_api.client import MPRester
    except ImportError as exc:
        raise ImportError("structures_from_mp_api needs the mp-api package: pip install mp-api") from exc
    with MPRester(api_key) as rester:
        docs = rester.materials.summary.search(fields=["material_id", "structure"], **criteria)
    docs = docs[:limit] if limit else docs
    return _pairs([doc.structure for doc in docs], "Materials Project API")
