"""The pretraining engine: resident batches, structure-encoder choices, cached training and its resume."""

import numpy as np
import pytest
import torch
from conftest import prototype_structures

from polysrl_sklearn.corpus import corpus_from_property_table, corpus_from_structures
from polysrl_sklearn.crystal_graph import build_graph_set
from polysrl_sklearn.network import ModelConfig, PolySRLNetwork, load_checkpoint
from polysrl_sklearn.pretraining import TrainingSettings, epoch_is_joint, pretrain
from polysrl_sklearn.resident import ResidentGraphs, index_ranges
from polysrl_sklearn.structure_encoders import STRUCTURE_ENCODERS, get_structure_encoder
from polysrl_sklearn.training_data import TrainingData


@pytest.fixture(scope="module")
def corpus():
    return corpus_from_structures(prototype_structures(), cutoff=6.0, n_jobs=1)


def network_for(encoder: str, seed: int = 0, target_dim: int = 0) -> PolySRLNetwork:
    torch.manual_seed(seed)
    return PolySRLNetwork(ModelConfig(hidden_dim=8, structure_encoder=encoder, structure_target_dim=target_dim))


def test_index_ranges():
    got = index_ranges(torch.tensor([5, 0, 9]), torch.tensor([2, 0, 3]))
    assert got.tolist() == [5, 6, 9, 10, 11]


def test_resident_crystal_batches_equal_collation(corpus):
    graphs = corpus.graphs
    assert graphs.species is not None and len(graphs.species) == graphs.num_nodes.sum()
    resident = ResidentGraphs(graphs)
    for ids in ([0, 1, 2], [4, 0, 4, 3], [len(graphs) - 1]):
        a, b = graphs.collate(np.array(ids)), resident.gather(np.array(ids))
        for field in ("edge_index", "distance", "batch", "species"):
            x, y = getattr(a, field), getattr(b, field)
            assert x.dtype == y.dtype and torch.equal(x, y), field
        assert a.num_graphs == b.num_graphs


def test_graph_sets_store_atomic_numbers_and_take_keeps_them():
    structures = prototype_structures()[:3]
    graphs = build_graph_set(structures, 6.0, 12, n_jobs=1)
    expected = np.concatenate([s.atomic_numbers for s in structures])
    assert np.array_equal(graphs.species, expected)
    sub = graphs.take(np.array([2, 0]))
    assert np.array_equal(sub.species, np.concatenate([structures[2].atomic_numbers, structures[0].atomic_numbers]))


def test_species_aware_encoder_tells_apart_what_the_agnostic_one_cannot(corpus):
    # NaCl and MgO in the same rock-salt geometry: one graph for the species-agnostic encoder
    from conftest import rocksalt

    pair = [rocksalt(5.0, "Na", "Cl"), rocksalt(5.0, "Mg", "O")]
    batch = build_graph_set(pair, 6.0, 12, n_jobs=1).collate(np.array([0, 1]))
    with torch.no_grad():
        agnostic = network_for("graph_network").structure(batch)
        aware = network_for("species_graph_network").structure(batch)
    assert torch.allclose(agnostic[0], agnostic[1])
    assert not torch.allclose(aware[0], aware[1])


def test_species_aware_encoder_refuses_graphs_without_species(corpus):
    batch = corpus.graphs.collate(np.array([0]))
    batch.species = None
    with pytest.raises(ValueError, match="atomic numbers"):
        network_for("species_graph_network").structure(batch)


def test_epoch_schedule_of_the_frozen_side():
    frozen, joint, external = (get_structure_encoder(n) for n in ("graph_network_frozen", "graph_network", "chgnet"))
    settings = TrainingSettings(epochs=8, warmup_epochs=2, refresh_every=3)
    assert [epoch_is_joint(frozen, settings, e) for e in range(8)] == [True, True, False, False, True, False,
                                                                        False, True]
    assert all(epoch_is_joint(joint, settings, e) for e in range(8))
    assert not any(epoch_is_joint(external, settings, e) for e in range(8))


@pytest.mark.parametrize("encoder", ["graph_network_frozen", "species_graph_network_frozen"])
def test_frozen_training_caches_and_keeps_the_structure_encoder_fixed(corpus, encoder, tmp_path):
    network = network_for(encoder)
    settings = TrainingSettings(epochs=3, batch_size=4, warmup_epochs=1, seed=1)
    after_warmup = {}

    def snapshot(epoch, net, history):
        if epoch == 1:
            after_warmup.update({k: v.clone() for k, v in net.structure.state_dict().items()})

    history = pretrain(network, corpus, settings, "cpu", verbose=False, on_epoch_end=snapshot,
                       cache_dir=tmp_path)
    assert [h["structure_side"] for h in history] == ["joint", "cached", "cached"]
    for key, value in network.structure.state_dict().items():
        assert torch.equal(value, after_warmup[key]), key
    assert any(tmp_path.rglob("vectors.npy"))


def test_cached_vectors_equal_the_live_encoder(corpus):
    network = network_for("graph_network").eval()
    data = TrainingData(corpus, torch.device("cpu"))
    from polysrl_sklearn.sampler import PolymorphBatch

    step = PolymorphBatch(formulas=np.array([0, 1]), structures=np.array([3, 1]), owner=np.array([0, 1]))
    with torch.no_grad():
        live = data.structure_vectors(network, step)
        data.use_cached(data.encode_all_structures(network))
        cached = data.structure_vectors(network, step)
    assert torch.allclose(live, cached, atol=1e-6)


def test_external_vectors_train_through_a_projection(corpus):
    vectors = np.random.default_rng(0).normal(size=(len(corpus.names), 5)).astype(np.float32)
    network = network_for("chgnet", target_dim=5)
    assert isinstance(network.structure_projection, torch.nn.Linear)
    before = network.structure_projection.weight.detach().clone()
    history = pretrain(network, corpus, TrainingSettings(epochs=2, batch_size=4), "cpu", verbose=False,
                       structure_vectors=vectors)
    assert [h["structure_side"] for h in history] == ["cached", "cached"]
    assert not torch.equal(before, network.structure_projection.weight)
    with pytest.raises(ValueError, match="structure_vectors"):
        pretrain(network_for("chgnet", target_dim=5), corpus, TrainingSettings(epochs=1), "cpu", verbose=False)
    with pytest.raises(ValueError, match="structure_target_dim"):
        pretrain(network_for("chgnet"), corpus, TrainingSettings(epochs=1), "cpu", verbose=False,
                 structure_vectors=vectors)



@pytest.mark.parametrize("objective", ["graphcl", "supervised"])
def test_objectives_without_structures_accept_an_external_structure_side(corpus, objective):
    """A recipe with the CHGNet side (``chgnet_mt``) also trains the baselines that read no structures."""
    network = PolySRLNetwork(ModelConfig(hidden_dim=8, structure_encoder="chgnet", objective=objective))
    assert isinstance(network.structure_projection, torch.nn.Identity)
    data = corpus if objective == "graphcl" else corpus_from_property_table(
        list(corpus.formulas), np.linspace(0.0, 1.0, len(corpus.formulas)))
    history = pretrain(network, data, TrainingSettings(epochs=1, batch_size=4), "cpu", verbose=False)
    assert np.isfinite(history[-1]["loss"])

@pytest.mark.slow
@pytest.mark.parametrize("encoder", ["graph_network_frozen", "chgnet"])
def test_resumed_cached_training_equals_an_uninterrupted_run(corpus, encoder, tmp_path):
    vectors = np.random.default_rng(0).normal(size=(len(corpus.names), 5)).astype(np.float32)
    target_dim = 5 if encoder == "chgnet" else 0
    extra = {"structure_vectors": vectors if encoder == "chgnet" else None}

    def settings(epochs):
        return TrainingSettings(epochs=epochs, batch_size=4, warmup_epochs=1, refresh_every=2, seed=2)

    straight = network_for(encoder, target_dim=target_dim)
    full = pretrain(straight, corpus, settings(4), "cpu", verbose=False, **extra)
    interrupted = network_for(encoder, target_dim=target_dim)
    pretrain(interrupted, corpus, settings(2), "cpu", tmp_path / "run.ckpt", verbose=False, **extra)
    resumed_network, _ = load_checkpoint(tmp_path / "run.ckpt")
    fresh = network_for(encoder, seed=99, target_dim=target_dim)  # weights come from the checkpoint
    resumed = pretrain(fresh, corpus, settings(4), "cpu", tmp_path / "run.ckpt", resume=True, verbose=False,
                       **extra)
    assert len(resumed_network.state_dict()) > 0
    assert [h["loss"] for h in resumed] == [h["loss"] for h in full]
    assert [h["structure_side"] for h in resumed] == [h["structure_side"] for h in full]
    for key, value in straight.state_dict().items():
        assert torch.equal(value, fresh.state_dict()[key]), key


@pytest.mark.parametrize("encoder", ["chgnet", "graph_network_frozen"])
def test_training_only_the_variance_head_keeps_everything_else_bit_identical(corpus, encoder, tmp_path):
    """``train_only="variance_head"`` (``polysrl pretrain --init-from C --train-only variance_head``)."""
    target_dim = 5 if encoder == "chgnet" else 0
    vectors = np.random.default_rng(0).normal(size=(len(corpus.names), 5)).astype(np.float32)
    extra = {"structure_vectors": vectors if encoder == "chgnet" else None}
    network = network_for(encoder, target_dim=target_dim)
    network.loss.variance_matching = 1.0
    before = {key: value.clone() for key, value in network.state_dict().items()}
    pretrain(network, corpus, TrainingSettings(epochs=2, batch_size=4, warmup_epochs=1, train_only="variance_head"),
             "cpu", verbose=False, **extra)
    head = {f"stoichiometry.{name}." for name in ("var_pool", "var_out")}
    changed = {key for key, value in network.state_dict().items() if not torch.equal(value, before[key])}
    assert changed and all(any(key.startswith(prefix) for prefix in head) for key in changed), changed
    assert all(p.requires_grad for p in network.parameters())  # left trainable for whatever comes next
    with pytest.raises(ValueError, match="train_only"):
        pretrain(network_for(encoder, target_dim=target_dim), corpus, TrainingSettings(epochs=1, train_only="mean"),
                 "cpu", verbose=False, **extra)


def test_init_from_loads_a_full_checkpoint_and_refuses_what_does_not_fit(corpus, tmp_path):
    from polysrl_sklearn.network import save_checkpoint
    from polysrl_sklearn.pretrain_command import initialise_from

    trained = network_for("graph_network", seed=1)
    save_checkpoint(tmp_path / "full.ckpt", trained, full=True, extra={"held_out_formulas": ["NaCl"], "history": [{}]})
    fresh = network_for("graph_network", seed=2)
    assert initialise_from(fresh, str(tmp_path / "full.ckpt"), ["NaCl"]) == {"file": "full.ckpt", "epochs": 1}
    for key, value in trained.state_dict().items():
        assert torch.equal(value, fresh.state_dict()[key]), key
    with pytest.raises(SystemExit, match="held out other formulas"):
        initialise_from(network_for("graph_network"), str(tmp_path / "full.ckpt"), ["KCl"])
    wider = PolySRLNetwork(ModelConfig(hidden_dim=16))
    with pytest.raises(SystemExit, match="do not fit"):
        initialise_from(wider, str(tmp_path / "full.ckpt"), ["NaCl"])


def test_precision_is_checked(corpus):
    with pytest.raises(ValueError, match="precision"):
        pretrain(network_for("graph_network"), corpus, TrainingSettings(epochs=1, precision="fp8"), "cpu",
                 verbose=False)


def test_registry_names_are_featurizer_choices():
    from polysrl_sklearn import PolySRLFeaturizer

    for name in STRUCTURE_ENCODERS:
        PolySRLFeaturizer(structure_encoder=name).get_params()
    with pytest.raises(ValueError, match="structure_encoder"):
        PolySRLFeaturizer(pretrained=None, structure_encoder="nope").fit(["NaCl"])


def test_resident_steps_carry_their_indices_to_the_device(corpus):
    from polysrl_sklearn.sampler import PolymorphBatchSampler

    data = TrainingData(corpus, torch.device("cpu"))
    steps = list(PolymorphBatchSampler(corpus.formula_of_structure, 3, 2, seed=0))
    for step, resident in zip(steps, data.resident(steps)):
        for name in ("formulas", "structures", "owner"):
            assert getattr(resident, f"{name}_on_device").tolist() == getattr(step, name).tolist()


def test_the_inference_silu_rounds_the_float64_value_and_keeps_the_dtype():
    from polysrl_sklearn.encoders import batch_invariant_silu

    x = torch.linspace(-6, 6, 1001, dtype=torch.float32)
    y = batch_invariant_silu(x)
    assert y.dtype == torch.float32
    assert torch.equal(y, torch.nn.functional.silu(x.double()).float())
    # an element's value does not depend on where it lies in the tensor (scalar tail or vector body);
    # torch's float32 SiLU fails this for most prefixes of x on the CPU
    assert all(torch.equal(batch_invariant_silu(x[:n]), y[:n]) for n in range(1, 200))
