"""CHGNet crystal feature vectors as frozen structure-side targets (optional ``chgnet`` extra).

`CHGNet <https://github.com/CederGroupHub/chgnet>`_ is a graph network
pretrained on the Materials Project trajectory data set (energies, forces,
stresses, magnetic moments). Its *crystal feature* is the average over atoms
of the atom features after the last message-passing layer and CHGNet's
read-out layer norm, the vector that its energy head reads: one 64-wide
vector per structure (:data:`CHGNET_DIM`). The weights come from the
``chgnet`` wheel itself (``chgnet/pretrained/``); nothing is downloaded.

The ``chgnet`` package is an optional dependency::

    pip install polysrl-sklearn[chgnet]

Without it, :func:`load_chgnet` and :func:`chgnet_structure_vectors` raise an
:class:`ImportError` that says so (:data:`CHGNET_EXTRA_MESSAGE`); importing
this module never needs it.

Vectors are computed in chunks and cached on disk with
:func:`polysrl_sklearn.vector_cache.cached_vectors`: an interrupted run
resumes from its last finished chunk, and a later run loads the finished
cache. The cache key joins the chgnet version, the model name, the number of
structures and the caller's ``key_parts`` (a fingerprint of the structures,
e.g. :func:`fingerprint_lines` of the corpus file's lines). The device is not
part of the key: vectors computed on a GPU and on the CPU agree to float32
rounding, and a cache filled on one is meant to be read on the other.

Speed: converting a structure to CHGNet's graph (pymatgen's neighbour list,
6 A atom and 3 A bond cutoffs) and one forward pass without gradients, in
batches. Measured on the first 2000 structures of the MP corpus on two
shared CPU cores: see ``docs/pretraining.md`` ("CHGNet structure targets")
and ``benchmarks/chgnet_targets.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .optional import require
from .vector_cache import cache_key, cached_vectors

if TYPE_CHECKING:
    import torch
    from pymatgen.core import Structure

#: The package extra that brings chgnet.
CHGNET_EXTRA = "chgnet"

#: What to install when ``chgnet`` is missing (the ImportError names the same extra, through
#: :func:`polysrl_sklearn.optional.require`).
CHGNET_EXTRA_MESSAGE = ("the 'chgnet' structure encoder needs the optional extra: "
                        f'pip install "polysrl-sklearn[{CHGNET_EXTRA}]"')

#: Width of CHGNet's crystal feature vector (``atom_fea_dim``) in every model the wheel ships.
CHGNET_DIM = 64

#: CHGNet's default model: the MPtrj-pretrained weights of chgnet 0.3.0, shipped in the wheel.
DEFAULT_MODEL = "0.3.0"

#: Models that ``CHGNet.load`` reads from the wheel (no download).
SHIPPED_MODELS = ("0.3.0", "0.2.0", "r2scan")

#: What the vector is; part of the cache key (a change of definition must not reuse old caches).
VECTOR_KIND = "crystal_fea:ave(atom_feas after last conv + readout_norm)"

OnError = Literal["raise", "nan"]


class ChgnetStructureError(ValueError):
    """A structure that CHGNet cannot featurize; the message names it (index and identifier)."""


def import_chgnet() -> Any:
    """Import and return the ``chgnet`` package, or raise the optional-extra message.

    Returns
    -------
    module
        The ``chgnet`` package (its ``chgnet.model`` submodule imported).

    Raises
    ------
    ImportError
        Naming the ``chgnet`` extra when chgnet (or its ``chgnet.model``) cannot be imported.
    """
    require("chgnet.model", "the 'chgnet' structure encoder", extra=CHGNET_EXTRA)
    import chgnet

    return chgnet


def chgnet_version() -> str:
    """The installed chgnet version (raises the optional-extra :class:`ImportError` without it)."""
    return str(import_chgnet().__version__)


def load_chgnet(model_name: str = DEFAULT_MODEL, device: str | torch.device = "auto",
                verbose: bool = False) -> Any:
    """Load a CHGNet model from the weights shipped in the ``chgnet`` wheel, in eval mode.

    Loaded models are kept per ``(model_name, device)`` for the life of the process.

    Parameters
    ----------
    model_name : str
        One of :data:`SHIPPED_MODELS`; ``"0.3.0"`` is chgnet's default.
    device : str or torch.device
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    verbose : bool
        Let chgnet print its loading messages.

    Returns
    -------
    chgnet.model.CHGNet

    Raises
    ------
    ImportError
        When chgnet is not installed (:data:`CHGNET_EXTRA_MESSAGE`).
    ValueError
        For a model name that the wheel does not ship.
    """
    from .pretraining import resolve_device

    import_chgnet()
    if model_name not in SHIPPED_MODELS:
        raise ValueError(f"unknown CHGNet model {model_name!r}; the chgnet wheel ships {', '.join(SHIPPED_MODELS)}")
    return _load(model_name, str(resolve_device(device)), verbose)


@lru_cache(maxsize=4)
def _load(model_name: str, device: str, verbose: bool) -> Any:
    from chgnet.model import CHGNet

    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    with quiet:  # CHGNet prints "CHGNet v0.3.0 initialized with ... parameters" on construction
        model = CHGNet.load(model_name=model_name, use_device=device, verbose=verbose)
    return model.eval()


def chgnet_dim(model_name: str = DEFAULT_MODEL) -> int:
    """Width of the crystal feature vector of ``model_name`` (read from the loaded model's arguments)."""
    return int(load_chgnet(model_name, device="cpu").model_args["atom_fea_dim"])


def fingerprint_lines(lines: Iterable[str | bytes]) -> str:
    """Hex sha256 of a sequence of text lines (e.g. the MP corpus's raw JSON lines); for ``key_parts``."""
    digest = hashlib.sha256()
    count = 0
    for line in lines:
        digest.update(line.encode() if isinstance(line, str) else line)
        digest.update(b"\n")
        count += 1
    digest.update(f"\0{count}".encode())
    return digest.hexdigest()


def chgnet_cache_key(n_items: int, key_parts: Sequence[str] = (), model_name: str = DEFAULT_MODEL) -> str:
    """Cache key of the CHGNet vectors of ``n_items`` structures identified by ``key_parts``.

    It joins ``"chgnet"``, the installed chgnet version, ``model_name``, :data:`VECTOR_KIND`,
    ``n_items`` and ``key_parts`` (see :func:`polysrl_sklearn.vector_cache.cache_key`).
    """
    return cache_key("chgnet", chgnet_version(), model_name, VECTOR_KIND, str(n_items), *map(str, key_parts))


def _describe(item: Any, index: int) -> str:
    """``structures[i]`` plus an identifier where one is cheap to find (material_id or formula)."""
    label = f"structures[{index}]"
    try:
        if isinstance(item, (str, bytes)):
            item = json.loads(item)
        if isinstance(item, Mapping):
            name = item.get("material_id") or item.get("formula")
            return f"{label} ({name})" if name else label
        formula = getattr(getattr(item, "composition", None), "formula", None)
        return f"{label} ({formula})" if formula else label
    except Exception:  # the description of a broken item must not fail in turn
        return label


def as_structure(item: Any) -> Structure:
    """A pymatgen Structure from a Structure, an MP JSON-lines record (dict) or a raw JSON line.

    Parameters
    ----------
    item : pymatgen.core.Structure, dict or str
        A record needs ``lattice`` (a, b, c, alpha, beta, gamma), ``species`` and ``frac_coords``
        (see :func:`polysrl_sklearn.crystal_graph.structure_from_record`).

    Returns
    -------
    pymatgen.core.Structure

    Raises
    ------
    TypeError
        For any other kind of item.
    ValueError, KeyError
        For a line that is not JSON or a record without those fields.
    """
    from pymatgen.core.structure import IStructure

    from .crystal_graph import structure_from_record

    if isinstance(item, IStructure):
        return item
    if isinstance(item, (str, bytes)):
        item = json.loads(item)
    if isinstance(item, Mapping):
        return structure_from_record(dict(item))
    raise TypeError(f"expected a pymatgen Structure, an MP record (dict) or a JSON line (str), got {type(item).__name__}")


def _graph(model: Any, item: Any, index: int) -> Any:
    """CHGNet's CrystalGraph of one item; raises ChgnetStructureError naming it."""
    try:
        structure = as_structure(item)
        if len(structure) == 0:
            raise ValueError("the structure has no atoms")
        if not structure.is_ordered:
            raise ValueError("the structure is disordered (partial occupancies); CHGNet needs one element per site")
        n_elements = model.atom_embedding.embedding.num_embeddings
        outside = sorted({site.specie.symbol for site in structure if not 1 <= site.specie.Z <= n_elements})
        if outside:
            raise ValueError(f"element(s) {', '.join(outside)} outside CHGNet's {n_elements} elements (H to Pu)")
        return model.graph_converter(structure, graph_id=str(index))
    except ChgnetStructureError:
        raise
    except Exception as exc:
        raise ChgnetStructureError(f"CHGNet cannot featurize {_describe(item, index)}: "
                                   f"{type(exc).__name__}: {exc}") from exc


def _forward(model: Any, graphs: list[Any]) -> np.ndarray:
    """Crystal features of a batch of graphs, (len(graphs), D) float32."""
    import torch

    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad", category=UserWarning)
        out = model.predict_graph(graphs, task="e", return_crystal_feas=True, batch_size=len(graphs))
    if isinstance(out, dict):  # chgnet returns a bare dict for a single graph
        out = [out]
    vectors = np.stack([np.asarray(o["crystal_fea"], dtype=np.float32) for o in out])
    if not np.isfinite(vectors).all():
        raise FloatingPointError("CHGNet returned a non-finite crystal feature")
    return vectors


def chgnet_compute(structures: Sequence[Any], model: Any, batch_size: int = 32,
                   on_error: OnError = "raise") -> Callable[[np.ndarray], np.ndarray]:
    """The ``compute(ids)`` function of :func:`~polysrl_sklearn.vector_cache.cached_vectors` for CHGNet.

    Items are parsed and converted only when their chunk is computed, so a
    finished cache never touches them.

    Parameters
    ----------
    structures : sequence
        Structures, MP records or raw JSON lines (see :func:`as_structure`).
    model : chgnet.model.CHGNet
        From :func:`load_chgnet`.
    batch_size : int
        Structures per forward pass (CHGNet's ``predict_graph`` batch).
    on_error : {"raise", "nan"}
        See :func:`chgnet_structure_vectors`.

    Returns
    -------
    callable
        ``compute(ids) -> ndarray (len(ids), D)`` float32.
    """
    if on_error not in ("raise", "nan"):
        raise ValueError(f"on_error must be 'raise' or 'nan', got {on_error!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    width = int(model.model_args["atom_fea_dim"])

    def compute(ids: np.ndarray) -> np.ndarray:
        vectors = np.full((len(ids), width), np.nan, dtype=np.float32)
        rows: list[int] = []
        graphs: list[Any] = []
        for row, index in enumerate(ids):
            try:
                graphs.append(_graph(model, structures[int(index)], int(index)))
                rows.append(row)
            except ChgnetStructureError:
                if on_error == "raise":
                    raise
        for start in range(0, len(graphs), batch_size):
            batch_rows = rows[start:start + batch_size]
            try:
                vectors[batch_rows] = _forward(model, graphs[start:start + batch_size])
            except Exception:
                # find the structure that broke the batch: one at a time
                for row, graph in zip(batch_rows, graphs[start:start + batch_size]):
                    try:
                        vectors[row] = _forward(model, [graph])
                    except Exception as exc:
                        if on_error == "raise":
                            index = int(ids[row])
                            raise ChgnetStructureError(
                                f"CHGNet cannot featurize {_describe(structures[index], index)}: "
                                f"{type(exc).__name__}: {exc}") from exc
        return vectors

    return compute


@contextlib.contextmanager
def _torch_threads(num_threads: int | None):
    import torch

    previous = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        if num_threads is not None:
            torch.set_num_threads(previous)


def chgnet_structure_vectors(structures: Sequence[Any], cache_dir: str | os.PathLike | None = None,
                             key_parts: Sequence[str] = (), chunk_size: int = 512, batch_size: int = 32,
                             device: str | torch.device = "auto", verbose: bool = False, *,
                             model_name: str = DEFAULT_MODEL, on_error: OnError = "raise",
                             num_threads: int | None = None, shard: tuple[int, int] = (0, 1)) -> np.ndarray | None:
    """CHGNet's crystal feature vector of every structure, cached on disk chunk by chunk.

    Parameters
    ----------
    structures : sequence
        Indexable, with ``len``: pymatgen Structures, MP JSON-lines records
        (dicts with ``lattice``, ``species``, ``frac_coords``; ``material_id``
        names them in errors) or the raw JSON lines (str) of the MP file.
    cache_dir : path, optional
        Parent directory of the cache (``cache_dir/KEY/``, see
        :func:`polysrl_sklearn.vector_cache.cached_vectors`). ``None``
        computes in memory and writes nothing.
    key_parts : sequence of str
        What identifies ``structures`` (a corpus fingerprint, e.g.
        :func:`fingerprint_lines` of the lines); joined with the chgnet
        version and model name into the key (:func:`chgnet_cache_key`).
        Required with ``cache_dir``.
    chunk_size : int
        Structures per cached part (at most this much work is lost when interrupted).
    batch_size : int
        Structures per CHGNet forward pass. On the CPU 16 to 64 run at the
        same speed; a GPU gains from more.
    device : str or torch.device
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ...
    verbose : bool
        Progress bar over the chunks still to compute; chgnet's loading messages.
    model_name : str
        CHGNet weights shipped in the wheel (:data:`SHIPPED_MODELS`).
    on_error : {"raise", "nan"}
        A structure that CHGNet cannot featurize (not parseable, no atoms,
        disordered, an element beyond CHGNet's 94, an isolated atom within
        6 A, a failed forward pass): ``"raise"`` (default) raises
        :class:`ChgnetStructureError` naming it (index and ``material_id``
        or formula); ``"nan"`` gives it a row of NaN, and the NaN rows are
        cached like the others. A ``"raise"`` call that finds NaN rows in a
        cache filled by a ``"nan"`` call raises, naming them.
    num_threads : int, optional
        Torch threads for this call (restored afterwards); ``None`` leaves
        torch's setting alone.
    shard : (int, int)
        ``(k, n)``: fill only chunks ``k, k + n, ...`` of the cache and return
        ``None``, so that ``n`` processes share the work (one per core); the next
        call without ``shard`` joins the parts. See
        :func:`polysrl_sklearn.vector_cache.cached_vectors`.

    Returns
    -------
    ndarray (len(structures), D), float32, or None
        ``D`` = :data:`CHGNET_DIM` (64) for every shipped model; ``None`` for a shard call.

    Raises
    ------
    ImportError
        When chgnet is not installed (:data:`CHGNET_EXTRA_MESSAGE`).
    ChgnetStructureError
        With ``on_error="raise"``, for a structure that CHGNet cannot featurize.
    ValueError
        For ``cache_dir`` without ``key_parts``, or an unknown ``on_error``.

    Examples
    --------
    Needs the ``chgnet`` extra::

        from polysrl_sklearn.chgnet_vectors import chgnet_structure_vectors, fingerprint_lines
        from polysrl_sklearn.corpus import iter_mp_lines

        lines = list(iter_mp_lines("mp_structures_id_lt2M.jsonl.gz", limit=2000))
        V = chgnet_structure_vectors(lines, cache_dir="cache", key_parts=[fingerprint_lines(lines)])
        V.shape  # (2000, 64)
    """
    if on_error not in ("raise", "nan"):
        raise ValueError(f"on_error must be 'raise' or 'nan', got {on_error!r}")
    if cache_dir is not None and not key_parts:
        raise ValueError("cache_dir needs key_parts that identify the structures (e.g. a corpus fingerprint: "
                         "fingerprint_lines(lines)); otherwise another corpus of the same size would share the cache")
    model = load_chgnet(model_name, device, verbose=verbose)
    n_items = len(structures)
    key = chgnet_cache_key(n_items, key_parts, model_name)
    compute = chgnet_compute(structures, model, batch_size=batch_size, on_error=on_error)
    with _torch_threads(num_threads):
        vectors = cached_vectors(compute, n_items, cache_dir, key, chunk_size=chunk_size, verbose=verbose,
                                 description="CHGNet vectors", shard=shard)
    if vectors is None:
        return None
    if n_items == 0:
        return np.zeros((0, int(model.model_args["atom_fea_dim"])), np.float32)
    if on_error == "raise":
        bad = np.flatnonzero(np.isnan(vectors).any(axis=1))
        if len(bad):
            shown = ", ".join(_describe(structures[int(i)], int(i)) for i in bad[:5])
            raise ChgnetStructureError(
                f"{len(bad)} structure(s) have no CHGNet vector in the cache {cache_dir} (written with on_error='nan'): "
                f"{shown}{', ...' if len(bad) > 5 else ''}")
    return vectors


def corpus_chgnet_vectors(path: str | os.PathLike | None, corpus: Any, cache_dir: str | os.PathLike | None,
                          limit: int | None = None, **options: Any) -> np.ndarray | None:
    """CHGNet vectors of an MP corpus's structures, in corpus order, in the cache that pretraining reads.

    The cache key is the corpus's structures (:func:`polysrl_sklearn.resume.structures_fingerprint`),
    the key ``polysrl pretrain --structure-encoder chgnet`` looks up, so that
    ``benchmarks/chgnet_targets.py --corpus`` can fill it beforehand, in several
    processes (``shard``).

    Parameters
    ----------
    path : path or None
        The MP JSON-lines file (``None``: ``$POLYSRL_MP_STRUCTURES``).
    corpus : StructureCorpus
        :func:`polysrl_sklearn.corpus.corpus_from_mp_jsonl` of the same ``path`` and ``limit``.
    cache_dir : path or None
    limit : int, optional
    **options
        Passed to :func:`chgnet_structure_vectors` (``verbose``, ``shard``, ``num_threads``, ...).
    """
    from .corpus import corpus_lines
    from .resume import structures_fingerprint

    return chgnet_structure_vectors(corpus_lines(path, corpus, limit), cache_dir=cache_dir,
                                    key_parts=(structures_fingerprint(corpus),), **options)
