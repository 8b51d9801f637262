"""matminer's forked process pools finish after torch has run multi-threaded (issue 16, item 1).

Each matminer parallel path runs in a fresh subprocess with a timeout: a
hang shows up as a timeout naming the last path that finished.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]

PATHS = ("featurizer_n_jobs", "multiple_featurizer_dataframe", "multiple_featurizer_many",
         "element_property_pool")

SCRIPT = textwrap.dedent("""
    import pandas as pd
    import torch
    from matminer.featurizers.base import MultipleFeaturizer
    from matminer.featurizers.composition import ElementProperty
    from pymatgen.core import Composition

    from polysrl_sklearn import PolySRLFeaturizer
    from polysrl_sklearn.matminer_featurizer import PolySRLComposition

    torch.set_num_threads(2)  # the parent's pool must be multi-threaded for the hazard to exist
    polysrl = PolySRLComposition(PolySRLFeaturizer(pretrained=None, hidden_dim=8, random_state=0))
    polysrl.fit()
    polysrl.featurize_many(["Fe2O3", "NaCl", "SiO2"] * 200, pbar=False)  # torch runs in the parent
    torch.randn(512, 512) @ torch.randn(512, 512)
    frame = pd.DataFrame({"composition": [Composition(f) for f in ["Fe2O3", "NaCl", "SiO2", "GaAs"] * 5]})

    def both():
        combined = MultipleFeaturizer([ElementProperty.from_preset("magpie"), polysrl])
        combined.set_n_jobs(2)
        return combined

    polysrl.set_n_jobs(2)
    polysrl.featurize_dataframe(frame.copy(), "composition", pbar=False)
    print("ok featurizer_n_jobs", flush=True)
    out = both().featurize_dataframe(frame.copy(), "composition", pbar=False)
    assert out.shape[0] == len(frame)
    print("ok multiple_featurizer_dataframe", flush=True)
    rows = both().featurize_many(frame["composition"].tolist(), pbar=False)
    assert len(rows) == len(frame)
    print("ok multiple_featurizer_many", flush=True)
    magpie = ElementProperty.from_preset("magpie")
    magpie.set_n_jobs(2)
    magpie.featurize_dataframe(frame.copy(), "composition", pbar=False)
    print("ok element_property_pool", flush=True)
""")


@pytest.mark.slow
def test_matminer_pools_finish_after_torch_was_used(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPOSITORY), env.get("PYTHONPATH", "")])
    script = tmp_path / "pools.py"
    script.write_text(SCRIPT)
    # a session of its own, so that a hung pool's workers can be killed with their parent
    process = subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, _ = process.communicate()
        finished = [line.split()[1] for line in stdout.splitlines() if line.startswith("ok ")]
        hung = next(path for path in PATHS if path not in finished)
        pytest.fail(f"matminer path {hung!r} hung (finished: {finished})")
    assert process.returncode == 0, stderr[-3000:]
    assert [line.split()[1] for line in stdout.splitlines() if line.startswith("ok ")] == list(PATHS)


def test_fork_hook_makes_a_child_single_threaded():
    """The hook itself: a forked child runs torch on one thread, the parent keeps its setting."""
    import torch

    from polysrl_sklearn.fork_safety import register_fork_handler

    register_fork_handler()
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            os.write(write, str(torch.get_num_threads()).encode())
            os._exit(0)
        os.close(write)
        child_threads = int(os.read(read, 16))
        os.waitpid(pid, 0)
        assert child_threads == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
