"""matminer adapter: batched PolySRLComposition."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matminer.featurizers.base import BaseFeaturizer
from matminer.featurizers.conversions import StrToComposition
from pymatgen.core import Composition
from sklearn.base import clone

from polysrl_sklearn import CompositionError, PolySRLFeaturizer
from polysrl_sklearn.matminer_featurizer import PolySRLComposition

FORMULAS = ["NaCl", "MgO", "ZnS", "CaF2", "ZrO2", "CsCl", "SrTiO3", "Li2O", "C", "Fe", "Cu",
            "Fe2O3", "Al2O3", "TiO2", "SiO2", "GaAs", "KBr", "BaTiO3", "Bi2Te3", "PbTe",
            "Hg0.7Cd0.3Te", "Fe4O6"]
ERRORS_COLUMN = "PolySRLComposition Exceptions"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "matminer_dataframe.py"


def small_featurizer() -> PolySRLFeaturizer:
    return PolySRLFeaturizer(pretrained=None, hidden_dim=8, random_state=0, device="cpu")


class CountingFeaturizer(PolySRLFeaturizer):
    """Records the size of each ``transform`` call."""

    def transform(self, X):
        self.calls_ = getattr(self, "calls_", []) + [len(X)]
        return super().transform(X)


@pytest.fixture()
def wrapper() -> PolySRLComposition:
    return PolySRLComposition(small_featurizer())


def test_is_a_matminer_featurizer_and_fits_lazily():
    inner = small_featurizer()
    featurizer = PolySRLComposition(inner)
    assert isinstance(featurizer, BaseFeaturizer)
    assert not hasattr(inner, "network_")
    assert clone(featurizer).get_params()["featurizer"].get_params() == inner.get_params()
    assert len(featurizer.feature_labels()) == 9  # triggers the lazy fit
    assert hasattr(inner, "network_")
    # an already fitted featurizer is not refitted
    network = inner.network_
    featurizer.fit(["NaCl"])
    assert inner.network_ is network


def test_string_and_composition_columns_match_direct_transform(wrapper):
    expected = small_featurizer().fit([]).transform(FORMULAS)
    df = pd.DataFrame({"formula": FORMULAS})
    df["composition"] = [Composition(f) for f in FORMULAS]
    from_strings = wrapper.featurize_dataframe(df, "formula", pbar=False)
    from_compositions = wrapper.featurize_dataframe(df, "composition", pbar=False)
    labels = wrapper.feature_labels()
    assert np.allclose(from_strings[labels].to_numpy(dtype=float),
                       from_compositions[labels].to_numpy(dtype=float))
    assert np.allclose(from_strings[labels].to_numpy(dtype=float), expected)
    # single-entry featurize agrees too
    assert np.allclose(wrapper.featurize("Fe2O3"), expected[FORMULAS.index("Fe2O3")])
    assert np.allclose(wrapper.featurize(Composition("SrTiO3")), expected[FORMULAS.index("SrTiO3")])


def test_labels_match_columns(wrapper):
    labels = wrapper.feature_labels()
    assert labels == list(wrapper.featurizer.get_feature_names_out())
    assert labels[-1] == "polysrl_uncertainty" and len(labels) == 9
    labels.append("mutated")  # matminer appends to the list it gets
    assert wrapper.feature_labels()[-1] == "polysrl_uncertainty"
    df = pd.DataFrame({"composition": FORMULAS[:5]}, index=list("abcde"))
    out = wrapper.featurize_dataframe(df, "composition", pbar=False)
    assert out.columns.tolist() == ["composition"] + wrapper.feature_labels()
    assert out.index.tolist() == list("abcde")
    assert len(wrapper.featurize("NaCl")) == len(wrapper.feature_labels())


def test_bad_rows_give_nan_and_error_text(wrapper):
    formulas = ["NaCl", "Xx2O3", "MgO", "", None, float("nan"), "Fe2O3", "not a formula"]
    df = pd.DataFrame({"composition": formulas})
    out = wrapper.featurize_dataframe(df, "composition", ignore_errors=True, return_errors=True,
                                      pbar=False)
    labels = wrapper.feature_labels()
    assert out.columns.tolist() == ["composition"] + labels + [ERRORS_COLUMN]
    values = out[labels].to_numpy(dtype=float)
    good = [0, 2, 6]
    bad = [1, 3, 4, 5, 7]
    expected = small_featurizer().fit([]).transform([formulas[i] for i in good])
    assert np.allclose(values[good], expected)  # good rows featurized, order preserved
    assert np.isnan(values[bad]).all()
    errors = out[ERRORS_COLUMN].tolist()
    assert all(isinstance(e, float) and math.isnan(e) for e in (errors[i] for i in good))
    assert "Xx2O3" in errors[1] and "Xx" in errors[1] and "CompositionError" in errors[1]
    assert "''" in errors[3] and "empty" in errors[3]
    assert "None" in errors[4] and "missing" in errors[4]
    assert "nan" in errors[5] and "missing" in errors[5]
    assert "not a formula" in errors[7]
    # without return_errors: NaN rows, no error column
    out = wrapper.featurize_dataframe(df, "composition", ignore_errors=True, pbar=False)
    assert ERRORS_COLUMN not in out.columns
    assert np.isnan(out[labels].to_numpy(dtype=float)[bad]).all()
    assert np.allclose(out[labels].to_numpy(dtype=float)[good], expected)


def test_bad_composition_object_after_str_to_composition(wrapper):
    conv = StrToComposition(target_col_id="composition")
    conv.set_n_jobs(1)
    df = conv.featurize_dataframe(pd.DataFrame({"formula": ["NaCl", "Xx2O3", "TiO2"]}), "formula",
                                  ignore_errors=True, pbar=False)
    out = wrapper.featurize_dataframe(df, "composition", ignore_errors=True, return_errors=True,
                                      pbar=False)
    assert out[ERRORS_COLUMN].isna().tolist() == [True, False, True]
    assert "Xx" in out[ERRORS_COLUMN][1]
    assert out["polysrl_uncertainty"].isna().tolist() == [False, True, False]


def test_bad_row_raises_without_ignore_errors(wrapper):
    df = pd.DataFrame({"composition": ["NaCl", "MgO", "Xx2O3", "TiO2"]})
    with pytest.raises(CompositionError, match=r"Xx2O3.*position 2") as info:
        wrapper.featurize_dataframe(df, "composition", pbar=False)
    assert "ignore_errors" in str(info.value)
    with pytest.raises(ValueError, match="ignore_errors"):
        wrapper.featurize_many(["NaCl"], return_errors=True)
    with pytest.raises(CompositionError, match="Xx2O3"):
        wrapper.featurize("Xx2O3")
    with pytest.raises(CompositionError, match="missing"):
        wrapper.featurize_many(["NaCl", None])


def test_batched_transform_calls():
    inner = CountingFeaturizer(pretrained=None, hidden_dim=8, random_state=0, device="cpu")
    featurizer = PolySRLComposition(inner)
    formulas = (FORMULAS * 3)[:50]
    formulas[17] = "Xx2O3"
    df = pd.DataFrame({"composition": formulas})
    out = featurizer.featurize_dataframe(df, "composition", ignore_errors=True, return_errors=True,
                                         pbar=False)
    assert inner.calls_ == [49]  # one forward pass for the 49 valid rows, not 50 calls
    assert out["polysrl_uncertainty"].isna().sum() == 1
    inner.calls_ = []
    featurizer.set_n_jobs(4)  # no process pool on the batch path
    rows = featurizer.featurize_many([Composition(f) for f in FORMULAS], pbar=False)
    assert inner.calls_ == [len(FORMULAS)]
    assert np.allclose(rows, small_featurizer().fit([]).transform(FORMULAS))


def test_featurize_many_entry_forms(wrapper):
    expected = small_featurizer().fit([]).transform(FORMULAS[:4])
    for entries in (FORMULAS[:4], tuple(FORMULAS[:4]), [(f,) for f in FORMULAS[:4]],
                    np.array(FORMULAS[:4], dtype=object), pd.Series(FORMULAS[:4]),
                    pd.DataFrame({"c": FORMULAS[:4]}), np.array(FORMULAS[:4], dtype=object)[:, None]):
        assert np.allclose(np.asarray(wrapper.featurize_many(entries, pbar=False)), expected)
    assert wrapper.featurize_many([], pbar=False) == []
    # sklearn-style transform (matminer: featurize_many with ignore_errors=True)
    features = np.asarray(wrapper.transform(["NaCl", "Xx2O3"]), dtype=float)
    assert np.isnan(features[1]).all() and np.isfinite(features[0]).all()


def test_default_featurizer_is_shipped_model():
    featurizer = PolySRLComposition()
    assert featurizer.featurizer is None
    assert featurizer.get_params() == {"featurizer": None}


def test_citations_and_implementors(wrapper):
    citations = wrapper.citations()
    assert citations and all(isinstance(c, str) and c for c in citations)
    assert "Stoichiometry Representation Learning with Polymorphic Crystal Structures" in citations[0]
    assert "2312.13289" in citations[0] and citations[0].lstrip().startswith("@")
    assert wrapper.implementors() and all(isinstance(name, str) for name in wrapper.implementors())


def test_example_runs_with_random_init(capsys):
    spec = importlib.util.spec_from_file_location("matminer_dataframe_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    df = module.main(["--random-init"])
    printed = capsys.readouterr().out
    assert "polysrl_uncertainty" in printed and "Xx2O3" in printed
    bad = df["formula"] == "Xx2O3"
    assert df.loc[bad, "polysrl_uncertainty"].isna().all()
    assert df.loc[~bad, "polysrl_uncertainty"].notna().all()
    assert df.loc[~bad, ERRORS_COLUMN].isna().all()
