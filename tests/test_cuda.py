"""CUDA path: runs on a GPU machine, skips elsewhere."""

import numpy as np
import pytest
import torch

from polysrl_sklearn import PolySRLFeaturizer

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

FORMULAS = ["NaCl", "ZnS", "SiO2", "Fe2O3", "Bi2Te3", "Hg0.7Cd0.3Te"]


def test_pretrain_on_cuda_and_transform_matches_cpu(structures, tmp_path):
    X = [s.composition.reduced_formula for s in structures]
    featurizer = PolySRLFeaturizer(pretrained=None, hidden_dim=16, epochs=3, batch_size=8, random_state=0,
                                   n_jobs=1, device="auto").fit(X, structures=structures)
    assert featurizer.history_[-1]["contrastive"] < featurizer.history_[0]["contrastive"]
    assert next(featurizer.network_.parameters()).device.type == "cpu"  # kept on CPU for pickling
    on_gpu = featurizer.transform(FORMULAS)
    featurizer.set_params(device="cpu")
    on_cpu = featurizer.transform(FORMULAS)
    assert np.allclose(on_gpu, on_cpu, rtol=1e-4, atol=1e-5)
    featurizer.save(tmp_path / "m.pt")
    reloaded = PolySRLFeaturizer.load(tmp_path / "m.pt", device="cuda")
    assert np.allclose(reloaded.transform(FORMULAS), on_cpu, rtol=1e-4, atol=1e-5)
