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


def test_resident_batches_on_cuda_equal_cpu_collation(structures):
    from polysrl_sklearn.corpus import corpus_from_structures
    from polysrl_sklearn.resident import ResidentGraphs

    corpus = corpus_from_structures(structures, cutoff=6.0, n_jobs=1)
    ids = np.array([3, 0, 2, 3])
    on_cpu = corpus.graphs.collate(ids)
    on_gpu = ResidentGraphs(corpus.graphs, "cuda").gather(ids)
    for field in ("edge_index", "distance", "batch", "species"):
        assert torch.equal(getattr(on_cpu, field), getattr(on_gpu, field).cpu()), field


@pytest.mark.parametrize("graphs", [False, True])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("encoder", ["graph_network", "species_graph_network_frozen"])
def test_seeded_cuda_pretraining_repeats_exactly(structures, precision, encoder, graphs):
    from polysrl_sklearn.corpus import corpus_from_structures
    from polysrl_sklearn.network import ModelConfig, PolySRLNetwork
    from polysrl_sklearn.pretraining import TrainingSettings, pretrain

    corpus = corpus_from_structures(structures, cutoff=6.0, n_jobs=1)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        network = PolySRLNetwork(ModelConfig(hidden_dim=16, structure_encoder=encoder))
        # batches of 2 with graphs: enough full batches for the warm-up, the capture and replays
        settings = TrainingSettings(epochs=3, batch_size=2 if graphs else 4, seed=5, precision=precision,
                                    cuda_graphs=graphs)
        history = pretrain(network, corpus, settings, "cuda", verbose=False)
        runs.append(([h["loss"] for h in history], network.state_dict()))
    assert runs[0][0] == runs[1][0]
    for key, value in runs[0][1].items():
        assert torch.equal(value, runs[1][1][key]), key


def test_cuda_graph_pretraining_follows_eager_pretraining(structures):
    """Without sampling noise a graphed run computes what an eager run computes (up to rounding)."""
    from polysrl_sklearn.corpus import corpus_from_structures
    from polysrl_sklearn.network import ModelConfig, PolySRLNetwork
    from polysrl_sklearn.pretraining import TrainingSettings, pretrain
    from polysrl_sklearn.stoichiometry_graph import build_stoichiometry_batch

    corpus = corpus_from_structures(structures, cutoff=6.0, n_jobs=1)
    runs = []
    for graphs in (False, True):
        torch.manual_seed(0)
        network = PolySRLNetwork(ModelConfig(hidden_dim=16))
        network.loss.n_samples = 0
        history = pretrain(network, corpus, TrainingSettings(epochs=3, batch_size=2, seed=5, cuda_graphs=graphs),
                           "cuda", verbose=False)
        with torch.no_grad():
            mean, variance = network.stoichiometry(build_stoichiometry_batch(corpus.parsed))
        runs.append(([h["loss"] for h in history], mean, variance))
    assert np.allclose(runs[0][0], runs[1][0], rtol=1e-4, atol=1e-6)
    # outputs, not every weight: Adam turns rounding in a near-zero gradient into a full step
    assert torch.allclose(runs[0][1], runs[1][1], rtol=1e-3, atol=1e-4)
    assert torch.allclose(runs[0][2], runs[1][2], rtol=1e-3, atol=1e-6)


def test_cuda_graph_pretraining_with_every_lever_captures_and_repeats(structures):
    from polysrl_sklearn.corpus import corpus_from_structures, with_formula_targets
    from polysrl_sklearn.network import ModelConfig, PolySRLNetwork
    from polysrl_sklearn.pretraining import TrainingSettings, pretrain

    corpus = corpus_from_structures(structures, cutoff=6.0, n_jobs=1)
    corpus = with_formula_targets(corpus, corpus.formulas[::2], [float(i) for i in range(len(corpus.formulas[::2]))])
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        network = PolySRLNetwork(ModelConfig(hidden_dim=16, structure_encoder="species_graph_network_frozen",
                                             decorrelation=1.0, polymorph_spread=1.0, variance_matching=1.0,
                                             multitask_weight=0.5, element_skip=True))
        settings = TrainingSettings(epochs=3, batch_size=2, seed=5, cuda_graphs=True, warmup_epochs=1)
        history = pretrain(network, corpus, settings, "cuda", verbose=False)
        runs.append([h["loss"] for h in history])
    assert runs[0] == runs[1] and all(np.isfinite(runs[0]))
