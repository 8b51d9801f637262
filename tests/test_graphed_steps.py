"""CUDA-graph steps (polysrl_sklearn.graphed_steps): padding changes no real value, and what is refused.

The padded step itself runs on the CPU here (without a graph); capture and replay are
checked on a GPU in tests/test_cuda.py.
"""

import copy
import functools

import numpy as np
import pytest
import torch

from polysrl_sklearn.corpus import corpus_from_structures
from polysrl_sklearn.graphed_steps import GraphedEpoch, PaddedBatch, PaddedSizes, check_graphable
from polysrl_sklearn.network import ModelConfig, PolySRLNetwork
from polysrl_sklearn.objectives import objective_loss
from polysrl_sklearn.pretraining import TrainingSettings, optimisation_step
from polysrl_sklearn.sampler import PolymorphBatchSampler
from polysrl_sklearn.training_data import TrainingData


@pytest.fixture(scope="module")
def corpus(structures):
    return corpus_from_structures(structures, cutoff=6.0, n_jobs=1)


def _network(encoder: str, **config) -> PolySRLNetwork:
    torch.manual_seed(0)
    network = PolySRLNetwork(ModelConfig(hidden_dim=16, structure_encoder=encoder, **config))
    network.loss.n_samples = 0  # no sampling noise: padded and eager steps then compute the same numbers
    return network.train()


LEVERS = [{}, {"decorrelation": 1.0}, {"polymorph_spread": 1.0, "beta": 1e-4}, {"variance_matching": 1.0},
          {"variance_matching": 1.0, "variance_count": 10.0},
          {"multitask_weight": 0.5}, {"multitask_weight": 0.5, "property_count": 2}]


@pytest.mark.parametrize("encoder,cached,levers", [("graph_network", False, {}), ("species_graph_network", False, {}),
                                                   ("graph_network_frozen", True, {})]
                         + [("graph_network", False, levers) for levers in LEVERS[1:]])
def test_padded_step_equals_eager_step(corpus, encoder, cached, levers):
    if "multitask_weight" in levers:
        from polysrl_sklearn.corpus import with_formula_targets

        formulas = sorted(corpus.formulas)
        values = np.arange(len(formulas[::2]), dtype=float)
        if levers.get("property_count", 1) == 2:  # two heads: the second column known for other formulas
            values = np.stack([values, np.where(values % 3 == 0, np.nan, -values)], axis=1)
        corpus = with_formula_targets(corpus, formulas[::2], values)
    eager = _network(encoder, **levers)
    padded_network = copy.deepcopy(eager)
    settings = TrainingSettings(batch_size=4, grad_clip=2.0)
    steps = list(PolymorphBatchSampler(corpus.formula_of_structure, 4, 4, seed=3))
    results = []
    for network in (eager, padded_network):
        data = TrainingData(corpus, torch.device("cpu"))
        if cached:
            data.use_cached(torch.randn(len(corpus.names), 16, generator=torch.Generator().manual_seed(1)))
        resident = data.resident(steps)
        # plain SGD: an update proportional to the gradient (Adam would blow float rounding in a
        # near-zero gradient up to a full step)
        optimizer = torch.optim.SGD(network.parameters(), lr=0.1)
        losses = []
        if network is eager:
            step_loss = functools.partial(objective_loss(network).batch_loss, network)
            for step in resident[:2]:
                loss, _, _ = optimisation_step(step_loss, data, step, None, optimizer, network, settings,
                                               torch.autocast("cpu", enabled=False))
                losses.append(float(loss))
        else:
            epoch = GraphedEpoch(network, objective_loss(network), data, optimizer, settings.grad_clip, None)
            padded = PaddedBatch(PaddedSizes.of(data, resident[:2], with_graphs=not cached), data.device,
                                 with_graphs=not cached, species=network.structure.species_aware if not cached
                                 else False, target_shape=() if data.targets is None else data.targets.shape[1:])
            for step in resident[:2]:
                padded.fill(data, step)
                optimizer.zero_grad(set_to_none=True)
                loss, _, _ = epoch._step(padded)
                losses.append(float(loss))
        results.append((losses, network.state_dict()))
    assert np.allclose(results[0][0], results[1][0], rtol=1e-5, atol=1e-6)
    for key, value in results[0][1].items():
        assert torch.allclose(value, results[1][1][key], rtol=1e-4, atol=1e-6), key


def test_padding_fills_the_buffers_beyond_the_real_batch(corpus):
    data = TrainingData(corpus, torch.device("cpu"))
    steps = data.resident(list(PolymorphBatchSampler(corpus.formula_of_structure, 4, 4, seed=0)))
    full = [s for s in steps if len(s.formulas) == 4]
    sizes = PaddedSizes.of(data, full, with_graphs=True)
    padded = PaddedBatch(sizes, data.device, with_graphs=True, species=False)
    step = full[0]
    padded.fill(data, step)
    real = data.formulas.gather(step.formulas)
    n_nodes = real.element.numel()
    assert sizes.stoichiometry_nodes > n_nodes and sizes.structures > len(step.structures)
    assert torch.equal(padded.node_batch[n_nodes:], torch.full((sizes.stoichiometry_nodes - n_nodes,), 4))
    assert torch.equal(padded.owner[len(step.structures):],
                       torch.full((sizes.structures - len(step.structures),), 4))
    padding_edges = padded.stoichiometry_edges[:, real.edge_index.shape[1]:]
    assert (padding_edges[0] == padding_edges[1]).all() and (padding_edges >= n_nodes).all()
    assert (padded.edge_weight[real.edge_index.shape[1]:] == 0).all()
    crystals = data.graphs.gather(step.structures)
    padding_atoms = padded.atom_batch[crystals.batch.numel():]
    # spread over every padding structure, none of them real
    assert set(padding_atoms.tolist()) == set(range(len(step.structures), sizes.structures))
    padding_bonds = padded.crystal_edges[:, crystals.edge_index.shape[1]:]
    assert (padding_bonds[0] == padding_bonds[1]).all() and (padding_bonds >= crystals.batch.numel()).all()
    assert len(set(padding_bonds[0].tolist())) == min(padding_bonds.shape[1],
                                                      sizes.atoms - crystals.batch.numel())


def test_check_graphable_names_every_problem():
    network = _network("graph_network")
    check_graphable(network, torch.device("cuda"), distributed=False)  # no error
    with pytest.raises(ValueError, match="needs a CUDA device"):
        check_graphable(network, torch.device("cpu"), distributed=False)
    with pytest.raises(ValueError, match="data-parallel"):
        check_graphable(network, torch.device("cuda"), distributed=True)
    with pytest.raises(ValueError, match="objective='infomax'"):
        check_graphable(_network("graph_network", objective="infomax"), torch.device("cuda"), False)


def test_pretrain_refuses_cuda_graphs_on_the_cpu(corpus):
    from polysrl_sklearn.pretraining import pretrain

    with pytest.raises(ValueError, match="cuda_graphs=True cannot be used: it needs a CUDA device"):
        pretrain(_network("graph_network"), corpus, TrainingSettings(epochs=1, batch_size=4, cuda_graphs=True),
                 "cpu", verbose=False)


def test_featurizer_passes_cuda_graphs_to_pretraining(structures):
    from polysrl_sklearn import PolySRLFeaturizer

    X = [s.composition.reduced_formula for s in structures]
    featurizer = PolySRLFeaturizer(pretrained=None, hidden_dim=8, epochs=1, cuda_graphs=True, device="cpu", n_jobs=1)
    with pytest.raises(ValueError, match="cuda_graphs=True cannot be used: it needs a CUDA device"):
        featurizer.fit(X, structures=structures)
    with pytest.raises(Exception, match="cuda_graphs"):
        PolySRLFeaturizer(cuda_graphs="yes").fit(X)


def test_cli_refuses_cuda_graphs_before_loading_the_corpus(tmp_path):
    from polysrl_sklearn.cli import main

    missing = tmp_path / "no_such_file.jsonl.gz"  # never read: the refusal comes first
    with pytest.raises(SystemExit, match="polysrl pretrain --cuda-graphs: it needs a CUDA device"):
        main(["pretrain", "--data", str(missing), "--device", "cpu", "--cuda-graphs",
              "--checkpoint", str(tmp_path / "c.ckpt")])
    with pytest.raises(SystemExit, match="objective='infomax' is not one of"):
        main(["pretrain", "--data", str(missing), "--device", "cpu", "--cuda-graphs", "--objective", "infomax",
              "--checkpoint", str(tmp_path / "c.ckpt")])
