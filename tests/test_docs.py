"""The Sphinx documentation builds with every warning treated as an error."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    if importlib.util.find_spec("sphinx") is None:
        pytest.skip("sphinx is not importable; install the test extra: pip install -e '.[test]'")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, cwd=DOCS.parent, timeout=900,
    )
    assert result.returncode == 0, (
        f"sphinx exited with {result.returncode}\n--- stdout ---\n{result.stdout[-5000:]}"
        f"\n--- stderr ---\n{result.stderr[-10000:]}")
