"""Online structure sources, tested offline with stand-ins for the network calls."""

import sys
import types

import pandas as pd
import pytest

from polysrl_sklearn import structure_sources
from polysrl_sklearn.structure_sources import structures_from_matminer, structures_from_mp_api


def test_matminer_loader(monkeypatch, structures):
    calls = {}

    def fake_load_dataset(name, data_home=None):
        calls["args"] = (name, data_home)
        return pd.DataFrame({"structure": structures, "formula": ["x"] * len(structures)})

    monkeypatch.setattr("matminer.datasets.load_dataset", fake_load_dataset)
    comps, structs = structures_from_matminer("mp_all_20181018", data_home="/tmp/mm", limit=3)
    assert calls["args"] == ("mp_all_20181018", "/tmp/mm")
    assert comps == [s.composition.reduced_formula for s in structures[:3]] and len(structs) == 3
    with pytest.raises(ValueError, match="no column"):
        structures_from_matminer("mp_all_20181018", structure_column="cif")


def test_mp_api_loader(monkeypatch, structures):
    seen = {}

    class FakeSummary:
        def search(self, fields, **criteria):
            seen["fields"], seen["criteria"] = fields, criteria
            return [types.SimpleNamespace(material_id=f"mp-{i}", structure=s) for i, s in enumerate(structures)]

    class FakeRester:
        def __init__(self, key):
            seen["key"] = key
            self.materials = types.SimpleNamespace(summary=FakeSummary())

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    client = types.ModuleType("mp_api.client")
    client.MPRester = FakeRester
    monkeypatch.setitem(sys.modules, "mp_api", types.ModuleType("mp_api"))
    monkeypatch.setitem(sys.modules, "mp_api.client", client)
    monkeypatch.setenv(structure_sources.MP_API_KEY_ENV, "secret")
    comps, structs = structures_from_mp_api(num_sites=(1, 20))
    assert seen["key"] == "secret" and seen["criteria"] == {"num_sites": (1, 20)}
    assert "structure" in seen["fields"] and len(structs) == len(structures)
    monkeypatch.delenv(structure_sources.MP_API_KEY_ENV)
    with pytest.raises(ValueError, match="API key"):
        structures_from_mp_api()
