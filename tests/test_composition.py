import math

import numpy as np
import pytest
from pymatgen.core import Composition

from polysrl_sklearn.composition import CompositionError, as_composition_list, parse_composition
from polysrl_sklearn.elements import element_index, element_table
from polysrl_sklearn.stoichiometry_graph import build_stoichiometry_batch


def test_element_table_is_matscholar_200d():
    symbols, features = element_table()
    assert features.shape == (len(symbols), 200)
    assert {"H", "Fe", "O", "U"} <= set(symbols)


def test_fractions_not_counts():
    el, frac = parse_composition("Fe2O3")
    el2, frac2 = parse_composition("Fe4O6")
    assert np.array_equal(el, el2) and np.allclose(frac, frac2)
    assert np.isclose(frac.sum(), 1.0)
    index = element_index()
    assert dict(zip(el.tolist(), frac.tolist())) == pytest.approx({index["Fe"]: 0.4, index["O"]: 0.6})


def test_composition_object_and_string_agree():
    a = parse_composition(Composition("Hg0.7Cd0.3Te"))
    b = parse_composition("Hg0.7Cd0.3Te")
    assert np.array_equal(a[0], b[0]) and np.allclose(a[1], b[1])


@pytest.mark.parametrize("bad, fragment", [
    ("Xx2O3", "Xx2O3"),
    ("", "empty"),
    ("   ", "empty"),
    ("Fe2O3)(", "Fe2O3)("),
    (None, "missing"),
    (math.nan, "missing"),
    (3.5, "type float"),
])
def test_bad_compositions_raise_naming_item(bad, fragment):
    with pytest.raises(CompositionError, match=None) as info:
        parse_composition(bad, position=7)
    assert fragment in str(info.value)
    assert "position 7" in str(info.value)


def test_as_composition_list_shapes():
    import pandas as pd

    assert as_composition_list(["NaCl", "KCl"]) == ["NaCl", "KCl"]
    assert as_composition_list(np.array([["NaCl"], ["KCl"]], dtype=object)) == ["NaCl", "KCl"]
    assert as_composition_list(pd.DataFrame({"c": ["NaCl"]})) == ["NaCl"]
    with pytest.raises(ValueError, match="single composition"):
        as_composition_list("NaCl")
    with pytest.raises(ValueError, match="columns"):
        as_composition_list(pd.DataFrame({"a": ["NaCl"], "b": ["KCl"]}))


def test_stoichiometry_batch_is_complete_graph_weighted_by_source_fraction():
    parsed = [parse_composition(f) for f in ["Fe", "NaCl", "SrTiO3", "Fe2O3"]]
    batch = build_stoichiometry_batch(parsed)
    assert batch.num_graphs == 4
    assert batch.element.numel() == 1 + 2 + 3 + 2
    assert batch.edge_index.shape[1] == 0 + 2 + 6 + 2
    src, dst = batch.edge_index
    assert torch_all(batch.batch[src] == batch.batch[dst])
    assert torch_all(src != dst)
    assert np.allclose(batch.edge_weight.numpy(), batch.fraction.numpy()[src.numpy()])
    # the fractions of each composition sum to one
    sums = np.bincount(batch.batch.numpy(), weights=batch.fraction.numpy())
    assert np.allclose(sums, 1.0)


def torch_all(t):
    return bool(t.all())
