"""Species-agnostic radius multigraphs of crystal structures.

A crystal becomes a graph whose nodes are the atoms of the unit cell and whose
edges join every atom to its periodic neighbours within ``cutoff`` Angstrom
(at most ``max_neighbors`` nearest per atom), found with pymatgen's neighbour
list. Species are *not* stored: the structure encoder sees geometry only.

Graphs of many structures are kept in one flat :class:`CrystalGraphSet`
(CSR-like arrays), built in parallel with joblib and cached to disk as ``.npz``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from joblib import Parallel, delayed
from pymatgen.core import Lattice, Structure

from .recipes import DEFAULTS

if TYPE_CHECKING:  # torch is imported lazily so that joblib graph workers start fast
    import torch


class StructureGraphError(ValueError):
    """Raised for a structure whose graph would be degenerate; names it."""


@dataclass
class CrystalGraphSet:
    """Radius graphs of many structures in flat arrays.

    Attributes
    ----------
    num_nodes : ndarray of int64 (n_structures,)
    edge_ptr : ndarray of int64 (n_structures + 1,)
        Edges of structure ``i`` are ``edge_ptr[i]:edge_ptr[i+1]``.
    src, dst : ndarray of int16/int32 (n_edges,)
        Local atom indices (within the structure) of each edge.
    distance : ndarray of float32 (n_edges,)
        Edge length in Angstrom.
    species : ndarray of uint8 (n_nodes,), optional
        Atomic number of each atom, structures one after another. The
        species-agnostic encoder ignores it; the species-aware one
        (``structure_encoder="species_graph_network"``) reads it.
    """

    num_nodes: np.ndarray
    edge_ptr: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    distance: np.ndarray
    species: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.num_nodes)

    @property
    def node_ptr(self) -> np.ndarray:
        """Atoms of structure ``i`` are ``node_ptr[i]:node_ptr[i+1]`` of :attr:`species`."""
        return np.concatenate([[0], np.cumsum(self.num_nodes)]).astype(np.int64)

    def save(self, path: str | os.PathLike) -> None:
        """Write the set to an ``.npz`` file."""
        np.savez(path, **{k: v for k, v in self.__dict__.items() if v is not None})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CrystalGraphSet":
        """Read a set written by :meth:`save`."""
        with np.load(path) as data:
            return cls(**{k: data[k] for k in data.files})

    @classmethod
    def concatenate(cls, parts: Sequence["CrystalGraphSet"]) -> "CrystalGraphSet":
        """Join sets in order."""
        counts = np.concatenate([np.diff(p.edge_ptr) for p in parts])
        with_species = all(p.species is not None for p in parts)
        return cls(
            num_nodes=np.concatenate([p.num_nodes for p in parts]),
            edge_ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            src=np.concatenate([p.src for p in parts]),
            dst=np.concatenate([p.dst for p in parts]),
            distance=np.concatenate([p.distance for p in parts]),
            species=np.concatenate([p.species for p in parts]) if with_species else None,
        )

    def take(self, indices: np.ndarray) -> "CrystalGraphSet":
        """Sub-set of structures ``indices``, in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        pos = self._edge_positions(indices)[0]
        counts = np.diff(self.edge_ptr)[indices]
        species = None
        if self.species is not None:
            node_ptr = self.node_ptr
            species = self.species[_ranges(node_ptr[indices], node_ptr[indices + 1])]
        return CrystalGraphSet(self.num_nodes[indices],
                               np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                               self.src[pos], self.dst[pos], self.distance[pos], species)

    def _edge_positions(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat edge positions of structures ``indices`` and the structure of each."""
        starts, ends = self.edge_ptr[indices], self.edge_ptr[indices + 1]
        n_edges = ends - starts
        edge_graph = np.repeat(np.arange(len(indices)), n_edges)
        within = np.arange(n_edges.sum()) - np.repeat(np.cumsum(n_edges) - n_edges, n_edges)
        return starts[edge_graph] + within, edge_graph

    def collate(self, indices: np.ndarray) -> "CrystalBatch":
        """Gather structures ``indices`` into one disjoint-union batch."""
        indices = np.asarray(indices, dtype=np.int64)
        n_nodes = self.num_nodes[indices]
        node_offset = np.concatenate([[0], np.cumsum(n_nodes)[:-1]])
        import torch

        pos, edge_graph = self._edge_positions(indices)  # no Python loop over structures
        shift = node_offset[edge_graph]
        edge_index = np.stack([self.src[pos].astype(np.int64) + shift,
                               self.dst[pos].astype(np.int64) + shift])
        species = None
        if self.species is not None:
            node_ptr = self.node_ptr
            species = torch.from_numpy(
                self.species[_ranges(node_ptr[indices], node_ptr[indices + 1])].astype(np.int64))
        return CrystalBatch(
            edge_index=torch.from_numpy(edge_index),
            distance=torch.from_numpy(self.distance[pos].astype(np.float32)),
            batch=torch.from_numpy(np.repeat(np.arange(len(indices)), n_nodes)),
            num_graphs=len(indices),
            species=species,
        )


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(starts[i], ends[i])`` over ``i``, without a Python loop."""
    lengths = ends - starts
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(lengths.sum())


@dataclass
class CrystalBatch:
    """A disjoint union of crystal graphs, ready for the structure encoder.

    ``species`` (atomic number of each atom) is present when the graph set
    stores it.
    """

    edge_index: "torch.Tensor"
    distance: "torch.Tensor"
    batch: "torch.Tensor"
    num_graphs: int
    species: "torch.Tensor | None" = None

    def to(self, device: "torch.device | str") -> "CrystalBatch":
        """Return the batch on ``device``."""
        return CrystalBatch(self.edge_index.to(device), self.distance.to(device),
                            self.batch.to(device), self.num_graphs,
                            None if self.species is None else self.species.to(device))


def structure_from_record(record: dict[str, Any]) -> Structure:
    """Build a pymatgen Structure from an MP JSON-lines record.

    Parameters
    ----------
    record : dict
        With ``lattice`` (a, b, c, alpha, beta, gamma), ``species`` and
        ``frac_coords``.
    """
    return Structure(Lattice.from_parameters(*record["lattice"]),
                     record["species"], record["frac_coords"])


def structure_graph(structure: Structure, cutoff: float = DEFAULTS.cutoff, max_neighbors: int = DEFAULTS.max_neighbors,
                    name: str | None = None, min_distance: float = 0.1) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Radius graph of one structure.

    Parameters
    ----------
    structure : pymatgen.core.Structure
    cutoff : float
        Neighbour radius in Angstrom.
    max_neighbors : int
        Keep at most this many nearest neighbours of each atom.
    name : str, optional
        Used in error messages.
    min_distance : float
        Atoms closer than this (Angstrom) are an error (overlapping sites).

    Returns
    -------
    num_nodes, src, dst, distance

    Raises
    ------
    StructureGraphError
        If an atom has no neighbour within ``cutoff`` (isolated atom), or two
        atoms overlap.
    """
    label = name or structure.composition.reduced_formula
    centers, neighbors, _, distances = structure.get_neighbor_list(cutoff)
    n = len(structure)
    if len(distances) and distances.min() < min_distance:
        i = int(np.argmin(distances))
        raise StructureGraphError(
            f"structure {label!r} has overlapping atoms {int(centers[i])} and {int(neighbors[i])} "
            f"({distances[i]:.3g} Angstrom apart, below {min_distance})")
    order = np.lexsort((distances, centers))
    centers, neighbors, distances = centers[order], neighbors[order], distances[order]
    first = np.searchsorted(centers, centers, side="left")
    rank = np.arange(len(centers)) - first
    keep = rank < max_neighbors
    centers, neighbors, distances = centers[keep], neighbors[keep], distances[keep]
    degree = np.bincount(centers, minlength=n)
    if np.any(degree == 0):
        isolated = np.flatnonzero(degree == 0).tolist()
        raise StructureGraphError(
            f"structure {label!r} has atom(s) {isolated[:10]} with no neighbour "
            f"within cutoff={cutoff} Angstrom; increase the cutoff or drop it"
        )
    index_type = np.int16 if n < 32_000 else np.int32
    # message flows neighbour -> center
    return n, neighbors.astype(index_type), centers.astype(index_type), distances.astype(np.float32)


def _graphs_of_chunk(items: Sequence[Any], names: Sequence[str], cutoff: float,
                     max_neighbors: int, skip_invalid: bool = False) -> CrystalGraphSet:
    num_nodes, counts, srcs, dsts, dists, species = [], [], [], [], [], []
    for item, name in zip(items, names):
        if isinstance(item, str):  # a raw JSON line: parsed here, in the worker
            item = json.loads(item)
        structure = item if isinstance(item, Structure) else structure_from_record(item)
        try:
            if not structure.is_ordered:
                raise StructureGraphError(f"structure {name!r} has partially occupied sites; "
                                          "give an ordered structure")
            n, s, d, dist = structure_graph(structure, cutoff, max_neighbors, name)
            z = np.asarray(structure.atomic_numbers, dtype=np.uint8)
        except StructureGraphError:
            if not skip_invalid:
                raise
            n, s, d, dist = 0, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.float32)
            z = np.zeros(0, np.uint8)
        species.append(z)
        num_nodes.append(n)
        counts.append(len(s))
        srcs.append(s.astype(np.int32))
        dsts.append(d.astype(np.int32))
        dists.append(dist)
    src = np.concatenate(srcs) if srcs else np.zeros(0, np.int32)
    index_type = np.int16 if (len(src) == 0 or src.max() < 32_000) else np.int32
    return CrystalGraphSet(
        num_nodes=np.array(num_nodes, dtype=np.int64),
        edge_ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        src=src.astype(index_type),
        dst=(np.concatenate(dsts) if dsts else np.zeros(0, np.int32)).astype(index_type),
        distance=np.concatenate(dists) if dists else np.zeros(0, np.float32),
        species=np.concatenate(species) if species else np.zeros(0, np.uint8),
    )


def build_graph_set(structures: Sequence[Any], cutoff: float = DEFAULTS.cutoff, max_neighbors: int = DEFAULTS.max_neighbors,
                    names: Sequence[str] | None = None, n_jobs: int | None = -1,
                    chunk_size: int = 2000, cache_path: str | os.PathLike | None = None,
                    verbose: bool = False, skip_invalid: bool = False) -> CrystalGraphSet:
    """Build the radius graphs of many structures in parallel, with a disk cache.

    Parameters
    ----------
    structures : sequence of Structure, MP records (dict) or raw MP JSON lines (str)
    cutoff, max_neighbors : see :func:`structure_graph`.
    names : sequence of str, optional
        Names used in error messages (e.g. material ids).
    n_jobs : int, optional
        joblib worker count (``-1``: all cores).
    chunk_size : int
        Structures per joblib task.
    cache_path : path, optional
        If it exists it is loaded (after checking the structure count);
        otherwise the result is written there.
    verbose : bool
        Show a tqdm progress bar over chunks.
    skip_invalid : bool
        Instead of raising :class:`StructureGraphError`, give an invalid
        structure (isolated atom) zero nodes; callers drop those.

    Returns
    -------
    CrystalGraphSet
    """
    if cache_path is not None and Path(cache_path).exists():
        graphs = CrystalGraphSet.load(cache_path)
        if len(graphs) == len(structures):
            return graphs
    if names is None:
        names = [f"#{i}" for i in range(len(structures))]
    chunks = [(structures[i:i + chunk_size], names[i:i + chunk_size])
              for i in range(0, len(structures), chunk_size)]
    tasks = (delayed(_graphs_of_chunk)(s, n, cutoff, max_neighbors, skip_invalid) for s, n in chunks)
    if verbose:
        from tqdm.auto import tqdm

        tasks = tqdm(tasks, total=len(chunks), desc="crystal graphs", unit="chunk")
    if n_jobs == 1 or len(chunks) <= 1:
        parts = [_graphs_of_chunk(s, n, cutoff, max_neighbors, skip_invalid) for s, n in chunks]
    else:
        parts = Parallel(n_jobs=n_jobs)(tasks)
    graphs = CrystalGraphSet.concatenate(parts) if parts else CrystalGraphSet.concatenate(
        [_graphs_of_chunk([], [], cutoff, max_neighbors)])
    if cache_path is not None:
        Path(cache_path).parent.mkdir(parents=True, exist_ok=True)
        graphs.save(cache_path)
    return graphs


def graph_cache_key(names: Sequence[str], cutoff: float, max_neighbors: int) -> str:
    """A short hash identifying a graph set (structure names and graph settings)."""
    # "species|" since the sets store atomic numbers: caches written before that are not reused
    digest = hashlib.sha1(f"{cutoff}|{max_neighbors}|species|".encode())
    for name in names:
        digest.update(name.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]
