"""Every example in the package's docstrings runs as a doctest (they are kept fast)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import polysrl_sklearn

MODULES = sorted(info.name for info in pkgutil.walk_packages(polysrl_sklearn.__path__, "polysrl_sklearn."))
#: Modules that need an optional extra (module -> what it imports), skipped without it.
NEEDS_EXTRA = {"polysrl_sklearn.distributed": "distributed", "polysrl_sklearn.table_io": "pyarrow"}


def _examples(module_name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(module_name)
    return [test for test in doctest.DocTestFinder().find(module, module_name) if test.examples]


@pytest.mark.parametrize("module_name", ["polysrl_sklearn", *MODULES])
def test_docstring_examples(module_name):
    if module_name in NEEDS_EXTRA:
        pytest.importorskip(NEEDS_EXTRA[module_name], reason="needs the dask extra")
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in _examples(module_name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {module_name} (output above)"


def test_the_public_entry_points_have_examples():
    with_examples = {name for name in ["polysrl_sklearn", *MODULES] if _examples(name)}
    assert {"polysrl_sklearn", "polysrl_sklearn.recipes", "polysrl_sklearn.objectives", "polysrl_sklearn.shipped",
            "polysrl_sklearn.featurizer", "polysrl_sklearn.datasets", "polysrl_sklearn.datasets.paper"} <= with_examples
