"""The element_statistics lever: a head that reconstructs each formula's Magpie statistics from its mean vector."""

import numpy as np
import pytest
import torch
from conftest import prototype_structures
from test_cli_pretrain import write_jsonl

from polysrl_sklearn import PolySRLFeaturizer
from polysrl_sklearn.auxiliary_terms import add_element_statistics_term
from polysrl_sklearn.cli import main
from polysrl_sklearn.corpus import corpus_from_structures
from polysrl_sklearn.element_probes import (
    ELEMENT_STATISTICS_COUNT,
    element_property_targets,
    standardised_element_statistics,
)
from polysrl_sklearn.graphed_steps import graphable_problems
from polysrl_sklearn.network import ModelConfig, PolySRLNetwork, load_checkpoint
from polysrl_sklearn.pretraining import TrainingSettings, pretrain
from polysrl_sklearn.training_data import TrainingData


@pytest.fixture(scope="module")
def corpus():
    return corpus_from_structures(prototype_structures(), cutoff=6.0, n_jobs=1)


def test_targets_are_the_standardised_magpie_statistics(corpus):
    statistics = standardised_element_statistics(corpus.formulas)
    raw = element_property_targets(corpus.formulas).to_numpy()
    assert statistics.shape == (len(corpus.formulas), ELEMENT_STATISTICS_COUNT) == raw.shape
    assert statistics.dtype == np.float32 and np.isfinite(statistics).all()
    varying = raw.std(axis=0) > 0
    np.testing.assert_allclose(statistics[:, varying].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(statistics[:, varying].std(axis=0), 1.0, rtol=1e-4)
    assert (statistics[:, ~varying] == 0).all()  # a constant statistic carries nothing to reconstruct


def test_cached_statistics_equal_the_computed_ones_and_are_read_back(corpus, tmp_path, monkeypatch):
    computed = standardised_element_statistics(corpus.formulas)
    cached = standardised_element_statistics(corpus.formulas, cache_dir=tmp_path)
    np.testing.assert_allclose(cached, computed, atol=1e-5)  # the cache keeps the raw statistics in float32
    assert len(list(tmp_path.glob("*/vectors.npy"))) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr("polysrl_sklearn.element_probes.element_property_targets", refuse)
    np.testing.assert_array_equal(standardised_element_statistics(corpus.formulas, cache_dir=tmp_path), cached)
    with pytest.raises(AssertionError, match="recomputed"):  # other formulas: another key
        standardised_element_statistics(corpus.formulas[:2], cache_dir=tmp_path)


def test_training_data_refuses_statistics_of_another_length(corpus):
    data = TrainingData(corpus, torch.device("cpu"), with_graphs=False)
    with pytest.raises(ValueError, match="rows of element statistics for"):
        data.use_statistics(np.zeros((len(corpus.formulas) + 1, ELEMENT_STATISTICS_COUNT), np.float32))


def test_batches_gather_their_formulas_statistics(corpus):
    data = TrainingData(corpus, torch.device("cpu"), with_graphs=False)
    step = type("Step", (), {"formulas": np.array([2, 0]), "structures": np.array([], dtype=np.int64),
                             "owner": np.array([], dtype=np.int64)})()
    with pytest.raises(RuntimeError, match="call use_statistics first"):
        data.formula_statistics(step)
    data.use_statistics(standardised_element_statistics(corpus.formulas))
    expected = standardised_element_statistics(corpus.formulas)[[2, 0]]
    np.testing.assert_array_equal(data.formula_statistics(step).numpy(), expected)


def test_the_term_is_the_weighted_mean_absolute_error():
    network = PolySRLNetwork(ModelConfig(hidden_dim=8, element_statistics=0.5))
    mean = torch.randn(3, 8)
    statistics = torch.randn(3, ELEMENT_STATISTICS_COUNT)
    parts: dict = {}
    loss = add_element_statistics_term(network, torch.tensor(1.0), parts, mean, statistics)
    expected = (network.statistics_head(mean) - statistics).abs().mean().detach()
    assert float(parts["element_statistics"]) == pytest.approx(float(expected))
    assert float(loss) == pytest.approx(1.0 + 0.5 * float(expected))
    assert not hasattr(PolySRLNetwork(ModelConfig(hidden_dim=8)), "statistics_head")  # off: no head


def test_fit_trains_the_head_and_logs_its_error():
    structures = prototype_structures()
    items = [s.composition for s in structures]
    featurizer = PolySRLFeaturizer(pretrained=None, hidden_dim=8, element_statistics=1.0, epochs=3, batch_size=4,
                                   learning_rate=1e-2, device="cpu", n_jobs=1, random_state=0)
    featurizer.fit(items, structures=structures)
    assert featurizer.network_.statistics_head.out_features == ELEMENT_STATISTICS_COUNT
    errors = [record["element_statistics"] for record in featurizer.history_]
    assert errors[-1] < errors[0]  # the head learns to reconstruct the statistics
    plain = PolySRLFeaturizer(pretrained=None, hidden_dim=8, epochs=1, batch_size=4, device="cpu", n_jobs=1,
                              random_state=0).fit(items, structures=structures)
    assert "element_statistics" not in plain.history_[0]


def test_other_objectives_and_graphed_steps_refuse_it(corpus):
    network = PolySRLNetwork(ModelConfig(hidden_dim=8, objective="infomax", element_statistics=0.1))
    with pytest.raises(ValueError, match="element_statistics is a term of the soft contrastive loss"):
        pretrain(network, corpus, TrainingSettings(epochs=1, batch_size=4), "cpu", verbose=False)
    problems = graphable_problems("polysrl", torch.device("cpu"), False, element_statistics=0.1)
    assert any("element_statistics" in problem for problem in problems)
    with pytest.raises(ValueError, match="element_statistics"):
        PolySRLFeaturizer(element_statistics=-1.0).fit(["NaCl"])


def test_cli_flag_reaches_the_network(tmp_path):
    structures = prototype_structures()
    write_jsonl(tmp_path / "mp.jsonl.gz", structures)
    assert main(["pretrain", "--data", str(tmp_path / "mp.jsonl.gz"), "--checkpoint", str(tmp_path / "run.ckpt"),
                 "--epochs", "1", "--hidden-dim", "8", "--batch-size", "4", "--holdout", "0", "--n-jobs", "1",
                 "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--element-statistics", "0.2"]) == 0
    network, _ = load_checkpoint(tmp_path / "run.ckpt")
    assert network.config.element_statistics == 0.2
    assert network.statistics_head.out_features == ELEMENT_STATISTICS_COUNT


def test_the_coordinates_head_reads_the_statistics_off_the_first_coordinates():
    network = PolySRLNetwork(ModelConfig(hidden_dim=ELEMENT_STATISTICS_COUNT + 4, element_statistics=0.5,
                                         element_statistics_head="coordinates"))
    assert not hasattr(network, "statistics_head")  # no parameters: the coordinates are the statistics
    mean = torch.randn(3, ELEMENT_STATISTICS_COUNT + 4)
    statistics = torch.randn(3, ELEMENT_STATISTICS_COUNT)
    parts: dict = {}
    loss = add_element_statistics_term(network, torch.tensor(1.0), parts, mean, statistics)
    expected = (mean[:, :ELEMENT_STATISTICS_COUNT] - statistics).abs().mean()
    assert float(parts["element_statistics"]) == pytest.approx(float(expected))
    assert float(loss) == pytest.approx(1.0 + 0.5 * float(expected))
    mean[:, ELEMENT_STATISTICS_COUNT:] += 100.0  # the coordinates after the statistics are free
    assert float(add_element_statistics_term(network, torch.tensor(0.0), {}, mean, statistics)) == pytest.approx(
        0.5 * float(expected))


def test_the_coordinates_head_needs_a_coordinate_per_statistic():
    with pytest.raises(ValueError, match=f"needs hidden_dim >= {ELEMENT_STATISTICS_COUNT}; got hidden_dim=8"):
        PolySRLNetwork(ModelConfig(hidden_dim=8, element_statistics=1.0, element_statistics_head="coordinates"))
    PolySRLNetwork(ModelConfig(hidden_dim=8, element_statistics_head="coordinates"))  # lever off: nothing read
    with pytest.raises(ValueError, match="element_statistics_head"):
        PolySRLFeaturizer(pretrained=None, element_statistics_head="axes").fit(["NaCl"])


def test_fit_with_the_coordinates_head_pulls_the_coordinates_to_the_statistics(tmp_path):
    structures = prototype_structures()
    items = [s.composition for s in structures]
    featurizer = PolySRLFeaturizer(pretrained=None, hidden_dim=ELEMENT_STATISTICS_COUNT, stoichiometry_layers=1,
                                   structure_layers=1, element_statistics=100.0, element_statistics_head="coordinates",
                                   epochs=4, batch_size=4, learning_rate=3e-3, device="cpu", n_jobs=1,
                                   random_state=0)  # a weight that outweighs the contrastive term's clipped gradient
    featurizer.fit(items, structures=structures)
    errors = [record["element_statistics"] for record in featurizer.history_]
    assert errors[-1] < 0.9 * errors[0]  # the encoder itself moves its first coordinates to the statistics
    featurizer.save(tmp_path / "coordinates.pt")  # the choice travels with the model file
    loaded = PolySRLFeaturizer(pretrained=tmp_path / "coordinates.pt").fit([])
    assert loaded.network_.config.element_statistics_head == "coordinates"
    assert PolySRLFeaturizer(pretrained="polysrl_chgnet_mt_elements").fit([]).network_.config.element_statistics_head \
        == "linear"  # a model file written before the choice existed


def test_cli_head_flag_reaches_the_network(tmp_path):
    structures = prototype_structures()
    write_jsonl(tmp_path / "mp.jsonl.gz", structures)
    assert main(["pretrain", "--data", str(tmp_path / "mp.jsonl.gz"), "--checkpoint", str(tmp_path / "run.ckpt"),
                 "--epochs", "1", "--hidden-dim", str(ELEMENT_STATISTICS_COUNT),
                 "--batch-size", "4", "--holdout", "0", "--n-jobs", "1",
                 "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--element-statistics", "0.2",
                 "--element-statistics-head", "coordinates"]) == 0
    network, _ = load_checkpoint(tmp_path / "run.ckpt")
    assert network.config.element_statistics_head == "coordinates"
    assert not hasattr(network, "statistics_head")


def test_a_coordinates_model_names_the_statistic_each_of_its_first_coordinates_is_trained_to_be():
    from polysrl_sklearn.element_probes import element_statistics_labels

    names = PolySRLFeaturizer(pretrained="polysrl_chgnet_mt_coordinates").fit([]).get_feature_names_out()
    labels = element_statistics_labels()
    assert len(labels) == ELEMENT_STATISTICS_COUNT and len(names) == 201
    assert names[0] == "polysrl_0_MagpieData_minimum_Number"
    assert [name.split("_", 2)[2] for name in names[:ELEMENT_STATISTICS_COUNT]] == [
        label.replace(" ", "_") for label in labels]
    assert list(names[ELEMENT_STATISTICS_COUNT:-1]) == [f"polysrl_{i}" for i in range(ELEMENT_STATISTICS_COUNT, 200)]
    # the linear head leaves the statistics in rotated directions: no column is named after one
    linear = PolySRLFeaturizer(pretrained="polysrl_chgnet_mt_elements").fit([]).get_feature_names_out()
    assert list(linear) == [f"polysrl_{i}" for i in range(200)] + ["polysrl_uncertainty"]
