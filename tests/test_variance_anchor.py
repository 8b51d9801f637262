"""The ``variance_anchor`` lever: a variance stage that adds to the starting network's own log-variance."""

import copy
import math

import numpy as np
import pytest
import torch
from conftest import prototype_structures

from polysrl_sklearn import PolySRLFeaturizer
from polysrl_sklearn.corpus import corpus_from_structures
from polysrl_sklearn.graphed_steps import graphable_problems
from polysrl_sklearn.network import ModelConfig, PolySRLNetwork, load_checkpoint
from polysrl_sklearn.pretraining import ANCHOR_KEY, TrainingSettings, pretrain
from polysrl_sklearn.sampler import PolymorphBatchSampler
from polysrl_sklearn.training_data import TrainingData
from polysrl_sklearn.variance_targets import anchor_offsets, spread_log_variance_target, variance_matching_loss


@pytest.fixture(scope="module")
def corpus():
    return corpus_from_structures(prototype_structures(), cutoff=6.0, n_jobs=1)


@pytest.fixture(scope="module")
def vectors(corpus):
    return np.random.default_rng(0).normal(size=(len(corpus.names), 5)).astype(np.float32)


def anchored_network(seed: int = 0, anchor: float = 1.0) -> PolySRLNetwork:
    torch.manual_seed(seed)
    return PolySRLNetwork(ModelConfig(hidden_dim=8, structure_encoder="chgnet", structure_target_dim=5,
                                      variance_matching=1.0, variance_count=10.0, variance_mixtures=0.3,
                                      variance_anchor=anchor))


def stage(epochs: int) -> TrainingSettings:
    return TrainingSettings(epochs=epochs, batch_size=4, warmup_epochs=1, train_only="variance_head", seed=3)


def test_anchor_offsets_are_the_scaled_log_variances_less_the_batch_centre():
    variance = torch.tensor([[1.0, 1.0], [math.e ** 2, math.e ** 2], [math.e, math.e ** 3]])  # mean logs 0, 2, 2
    offsets, centre = anchor_offsets(variance, 0.5)
    assert math.isclose(float(centre), 4 / 3, rel_tol=1e-6)
    torch.testing.assert_close(offsets, 0.5 * torch.tensor([-4 / 3, 2 / 3, 2 / 3]))
    # another set (the batch's mixtures) is centred on the same batch centre
    mixture_offsets, same = anchor_offsets(torch.full((2, 2), math.e ** 3), 2.0, centre)
    assert same is centre
    torch.testing.assert_close(mixture_offsets, torch.full((2,), 2.0 * (3 - 4 / 3)))


def test_the_offset_moves_each_formulas_target():
    vectors = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0]])
    owner = torch.tensor([0, 0, 1])
    offset = torch.tensor([0.7, -0.3])
    target = spread_log_variance_target(vectors, owner, 2, count_weight=10.0) + offset
    on_target = target.exp().unsqueeze(1).expand(2, 3).clone()
    assert float(variance_matching_loss(on_target, vectors, owner, count_weight=10.0, offset=offset)) < 1e-10
    assert float(variance_matching_loss(on_target, vectors, owner, count_weight=10.0)) == pytest.approx(
        float(offset.pow(2).mean()), rel=1e-5)


def test_a_step_anchors_the_formulas_and_the_mixtures_to_the_starting_encoder(corpus, vectors):
    network = anchored_network().eval()  # eval: the anchor copy and the network then compute alike
    network.loss.n_samples = 0
    data = TrainingData(corpus, torch.device("cpu"))
    data.use_cached(torch.from_numpy(vectors))
    step = next(iter(PolymorphBatchSampler(corpus.formula_of_structure, 4, 4, seed=3)))
    with pytest.raises(RuntimeError, match="stage-start encoder"):
        network.loss.batch_loss(network, data, step, np.random.default_rng(0))
    network.loss.set_anchor(copy.deepcopy(network.stoichiometry).requires_grad_(False).eval())
    _, parts, variance = network.loss.batch_loss(network, data, step, np.random.default_rng(0))
    # the anchor is the network itself here, so each formula's target is moved by its own centred log-variance
    offsets, _ = anchor_offsets(variance, 1.0)
    structures = data.structure_vectors(network, step).float()
    expected = variance_matching_loss(variance.float(), structures, data.owner(step), count_weight=10.0,
                                      offset=offsets)
    torch.testing.assert_close(parts["variance_matching"], expected.detach())
    network.loss.variance_anchor = 0.0
    _, plain, _ = network.loss.batch_loss(network, data, step, np.random.default_rng(0))
    assert not torch.isclose(plain["variance_matching"], parts["variance_matching"])
    assert not torch.isclose(plain["variance_mixtures"], parts["variance_mixtures"])


def test_an_anchored_stage_keeps_the_anchor_out_of_the_weights_and_resumes_exactly(corpus, vectors, tmp_path):
    straight = anchored_network()
    start = {key: value.clone() for key, value in straight.stoichiometry.state_dict().items()}
    full = pretrain(straight, corpus, stage(4), "cpu", tmp_path / "straight.ckpt", verbose=False,
                    structure_vectors=vectors)
    assert straight.loss._anchor_encoder is None  # handed back after training
    assert set(straight.state_dict()) == set(anchored_network(anchor=0.0).state_dict())
    _, payload = load_checkpoint(tmp_path / "straight.ckpt")
    assert set(payload[ANCHOR_KEY]) == set(start)
    assert all(torch.equal(payload[ANCHOR_KEY][key], value) for key, value in start.items())  # the start, not the end
    # interrupted after 2 epochs, resumed into a network with other weights: the anchor comes from the checkpoint
    pretrain(anchored_network(), corpus, stage(2), "cpu", tmp_path / "run.ckpt", verbose=False,
             structure_vectors=vectors)
    resumed = pretrain(anchored_network(seed=99), corpus, stage(4), "cpu", tmp_path / "run.ckpt", resume=True,
                       verbose=False, structure_vectors=vectors)
    assert [h["loss"] for h in resumed] == [h["loss"] for h in full]
    # the anchor changes what the stage learns
    plain = anchored_network(anchor=0.0)
    history = pretrain(plain, corpus, stage(4), "cpu", verbose=False, structure_vectors=vectors)
    assert history[-1]["loss"] != full[-1]["loss"]


def test_the_anchor_is_refused_where_there_is_no_starting_network(tmp_path):
    from polysrl_sklearn.cli import build_parser, main

    assert build_parser().parse_args(["pretrain", "--variance-anchor", "2"]).variance_anchor == 2.0
    with pytest.raises(SystemExit, match="--variance-anchor .* needs --init-from"):
        main(["pretrain", "--data", str(tmp_path / "none.jsonl"), "--variance-anchor", "1.0"])
    structures = prototype_structures()[:4]
    with pytest.raises(ValueError, match="variance_anchor > 0 .* polysrl pretrain"):
        PolySRLFeaturizer(pretrained=None, hidden_dim=8, variance_matching=1.0, variance_anchor=1.0,
                          device="cpu", n_jobs=1).fit([s.composition for s in structures], structures=structures)
    with pytest.raises(ValueError, match="variance_anchor"):
        PolySRLFeaturizer(pretrained=None, variance_anchor=-1.0).fit(["NaCl"])
    assert any("variance_anchor" in p for p in graphable_problems("polysrl", torch.device("cuda"), False, 0.0, 1.0))


def test_the_anchor_can_be_another_networks_encoder_and_resumes_from_it(corpus, vectors, tmp_path):
    other = anchored_network(seed=7, anchor=0.0).stoichiometry  # e.g. another first stage's encoder
    expected = {key: value.clone() for key, value in other.state_dict().items()}
    straight = pretrain(anchored_network(), corpus, stage(4), "cpu", tmp_path / "straight.ckpt", verbose=False,
                        structure_vectors=vectors, anchor_encoder=other)
    _, payload = load_checkpoint(tmp_path / "straight.ckpt")
    assert all(torch.equal(payload[ANCHOR_KEY][key], value) for key, value in expected.items())
    assert all(torch.equal(other.state_dict()[key], value) for key, value in expected.items())  # left untouched
    own = pretrain(anchored_network(), corpus, stage(4), "cpu", verbose=False, structure_vectors=vectors)
    assert own[-1]["loss"] != straight[-1]["loss"]  # another anchor, another stage
    pretrain(anchored_network(), corpus, stage(2), "cpu", tmp_path / "run.ckpt", verbose=False,
             structure_vectors=vectors, anchor_encoder=other)
    resumed = pretrain(anchored_network(), corpus, stage(4), "cpu", tmp_path / "run.ckpt", resume=True,
                       verbose=False, structure_vectors=vectors, anchor_encoder=other)
    assert [h["loss"] for h in resumed] == [h["loss"] for h in straight]
    with pytest.raises(ValueError, match="variance_anchor = 0"):
        pretrain(anchored_network(anchor=0.0), corpus, stage(1), "cpu", verbose=False, structure_vectors=vectors,
                 anchor_encoder=other)


def test_anchor_from_needs_the_anchor_lever_and_the_same_held_out_formulas(tmp_path):
    from polysrl_sklearn.cli import main
    from polysrl_sklearn.network import save_checkpoint
    from polysrl_sklearn.pretrain_command import anchor_from

    with pytest.raises(SystemExit, match="--anchor-from .* give --variance-anchor"):
        main(["pretrain", "--data", str(tmp_path / "none.jsonl"), "--anchor-from", "x.pt"])
    save_checkpoint(tmp_path / "model.pt", anchored_network(anchor=0.0), extra={"held_out_formulas": ["NaCl"]})
    encoder, record = anchor_from(str(tmp_path / "model.pt"), ["NaCl"])
    assert record == {"file": "model.pt", "epochs": 0} and encoder.__class__.__name__ == "StoichiometryEncoder"
    with pytest.raises(SystemExit, match="--anchor-from .*model.pt: it must have held out the same formulas"):
        anchor_from(str(tmp_path / "model.pt"), ["KCl"])
    with pytest.raises(SystemExit, match="--anchor-from: .*missing.pt"):
        anchor_from(str(tmp_path / "missing.pt"), ["NaCl"])
