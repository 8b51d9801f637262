"""The two encoders: shapes, invariances, variance bounds, reset_parameters and repr."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import rocksalt

from polysrl_sklearn.composition import parse_composition
from polysrl_sklearn.crystal_graph import build_graph_set
from polysrl_sklearn.elements import element_table
from polysrl_sklearn.encoders import StoichiometryEncoder, StructureEncoder
from polysrl_sklearn.stoichiometry_graph import build_stoichiometry_batch


@pytest.fixture
def stoichiometry_encoder() -> StoichiometryEncoder:
    torch.manual_seed(0)
    _, features = element_table()
    return StoichiometryEncoder(torch.from_numpy(features), hidden=16).eval()


def encode(encoder: StoichiometryEncoder, formulas: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        return encoder(build_stoichiometry_batch([parse_composition(f) for f in formulas]))


def test_stoichiometry_shapes_bounds_and_order_invariance(stoichiometry_encoder):
    mean, variance = encode(stoichiometry_encoder, ["Fe2O3", "O3Fe2", "NaCl"])
    assert mean.shape == variance.shape == (3, 16)
    torch.testing.assert_close(mean[0], mean[1])  # element order of the formula does not matter
    low, high = stoichiometry_encoder.log_variance_bounds
    assert torch.all(variance.log() >= low - 1e-5) and torch.all(variance.log() <= high + 1e-5)


def test_stoichiometry_uses_fractions_not_counts(stoichiometry_encoder):
    mean, _ = encode(stoichiometry_encoder, ["Fe2O3", "Fe4O6", "FeO"])
    torch.testing.assert_close(mean[0], mean[1])
    assert not torch.allclose(mean[0], mean[2])


def test_mean_vector_equals_forward_mean(stoichiometry_encoder):
    batch = build_stoichiometry_batch([parse_composition(f) for f in ["SrTiO3", "C"]])
    with torch.no_grad():
        torch.testing.assert_close(stoichiometry_encoder.mean_vector(batch), stoichiometry_encoder(batch)[0])


@pytest.mark.parametrize("pooling, ratio", [("mean", 1.0), ("sum", 8.0)])
def test_structure_readout_and_cell_multiplicity(pooling, ratio):
    cell = rocksalt(5.64, "Na", "Cl")
    graphs = build_graph_set([cell, cell * (2, 2, 2)], cutoff=4.0, max_neighbors=12, n_jobs=1)
    torch.manual_seed(0)
    encoder = StructureEncoder(8, num_layers=2, cutoff=4.0, pooling=pooling).eval()
    with torch.no_grad():
        vectors = encoder(graphs.collate(np.arange(2)))
    assert vectors.shape == (2, 8)
    torch.testing.assert_close(vectors[1], ratio * vectors[0], rtol=1e-4, atol=1e-5)


def test_structure_encoder_rejects_unknown_pooling():
    with pytest.raises(ValueError, match="pooling"):
        StructureEncoder(8, pooling="max")


@pytest.mark.parametrize("make", [
    lambda: StructureEncoder(8, num_layers=2),
    lambda: StoichiometryEncoder(torch.from_numpy(element_table()[1]), hidden=8, num_layers=2),
])
def test_reset_parameters_redraws_weights_reproducibly(make):
    encoder = make()
    before = [p.detach().clone() for p in encoder.parameters()]
    torch.manual_seed(1)
    encoder.reset_parameters()
    first = [p.detach().clone() for p in encoder.parameters()]
    torch.manual_seed(1)
    encoder.reset_parameters()
    assert all(torch.equal(a, b) for a, b in zip(first, encoder.parameters()))
    changed = sum(not torch.equal(a, b) for a, b in zip(before, first))
    assert changed >= len(before) - 2 * len(before) // 5  # all but zero-initialised biases


def test_reprs_are_one_readable_line():
    assert repr(StructureEncoder(8, num_layers=2, cutoff=5.0, pooling="sum")) == (
        "StructureEncoder(8, num_layers=2, cutoff=5, num_gaussians=40, pooling='sum')")
    text = repr(StoichiometryEncoder(torch.from_numpy(element_table()[1]), hidden=8))
    assert text == "StoichiometryEncoder(118 elements, 8, num_layers=3, set2set_steps=2)"
