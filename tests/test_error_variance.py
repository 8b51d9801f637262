"""The ``error_variance`` objective: a structure-free variance stage towards the stage-start uncertainty
plus the property head's own error (docs/pretraining.md, amendment 14)."""

import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import prototype_structures
from test_cli_pretrain import write_jsonl

from polysrl_sklearn import PolySRLFeaturizer
from polysrl_sklearn.cli import main
from polysrl_sklearn.corpus import corpus_from_property_table, formula_corpus_from_mp_jsonl, with_formula_targets
from polysrl_sklearn.error_variance import ERROR_FLOOR, error_log_variance_offsets, fit_property_head
from polysrl_sklearn.network import ModelConfig, PolySRLNetwork, load_checkpoint
from polysrl_sklearn.objectives import get_objective, objective_loss
from polysrl_sklearn.pretraining import ANCHOR_KEY, TrainingSettings, pretrain
from polysrl_sklearn.sampler import PolymorphBatchSampler
from polysrl_sklearn.training_data import TrainingData

FORMULAS = ["NaCl", "KCl", "MgO", "CaO", "ZnS", "GaAs", "SiO2", "TiO2", "Fe2O3", "Al2O3", "LiF", "BN", "AlN",
            "GaN", "InP", "CdTe", "ZnO", "SnO2", "Cu2O", "NiO", "CoO", "MnO", "BaTiO3", "SrTiO3"]


def stage_network(seed: int = 0, variance_error: float = 1.0, mixtures: float = 0.0) -> PolySRLNetwork:
    torch.manual_seed(seed)
    return PolySRLNetwork(ModelConfig(hidden_dim=8, objective="error_variance", variance_error=variance_error,
                                      variance_mixtures=mixtures))


def stage(epochs: int, learning_rate: float = 1e-2) -> TrainingSettings:
    return TrainingSettings(epochs=epochs, batch_size=8, learning_rate=learning_rate, train_only="variance_head",
                            seed=3)


def head_targets(seed: int = 1) -> np.ndarray:
    """Band-gap-like targets with a nonlinear part, so that a linear head on the means errs unevenly."""
    rng = np.random.default_rng(seed)
    return np.abs(rng.normal(2.0, 1.5, len(FORMULAS))).astype(np.float32)


def test_offsets_are_the_scaled_centred_log_squared_errors_and_zero_where_unknown():
    predicted = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    targets = torch.tensor([[1.0, float("nan")], [3.0, 1.0], [float("nan"), float("nan")]])
    offsets = error_log_variance_offsets(predicted, targets, scale=2.0)
    first = math.log(ERROR_FLOOR)                                  # exact
    second = (math.log(4 + ERROR_FLOOR) + math.log(1 + ERROR_FLOOR)) / 2  # mean over its two known columns
    centre = (first + second) / 2
    assert offsets.tolist() == pytest.approx([2 * (first - centre), 2 * (second - centre), 0.0], rel=1e-5)
    assert error_log_variance_offsets(predicted, targets, scale=0.0).abs().max() == 0


def test_a_larger_floor_compresses_the_small_errors_and_keeps_the_large_ones_apart():
    predicted = torch.zeros(4, 1)
    targets = torch.tensor([[0.0], [0.1], [1.0], [2.0]])  # errors of 0, 0.1, 1 and 2 (e.g. eV)
    for floor in (ERROR_FLOOR, 0.01):
        offsets = error_log_variance_offsets(predicted, targets, scale=1.0, floor=floor)
        assert offsets[1] - offsets[0] == pytest.approx(math.log(0.01 + floor) - math.log(floor), rel=1e-4)
        assert (offsets[1] - offsets[0] > 4.5) == (floor == ERROR_FLOOR)  # 0 to 0.1: 4.6 nats at 1e-4, 0.7 at 0.01
        assert offsets[3] - offsets[2] == pytest.approx(math.log(4 + floor) - math.log(1 + floor), rel=1e-5)
    assert objective_loss(PolySRLNetwork(ModelConfig(hidden_dim=8, objective="error_variance",
                                                     variance_error_floor=0.01))).variance_error_floor == 0.01


def test_the_head_is_the_least_squares_fit_on_the_known_formulas():
    network = stage_network()
    corpus = corpus_from_property_table(FORMULAS, np.zeros(len(FORMULAS)))
    with torch.no_grad():
        from polysrl_sklearn.stoichiometry_graph import build_stoichiometry_batch

        means = network.eval().stoichiometry(build_stoichiometry_batch(corpus.parsed))[0].double().numpy()
    weights, bias = np.linspace(-1, 1, means.shape[1]), 0.5
    targets = means @ weights + bias
    targets[3] = np.nan  # unknown: left out of the fit
    corpus.targets = targets.astype(np.float32)
    fit_property_head(network, corpus, torch.device("cpu"))
    assert network.property_head.weight.detach().numpy()[0] == pytest.approx(weights, abs=1e-3)
    assert float(network.property_head.bias.detach()) == pytest.approx(bias, abs=1e-3)
    corpus.targets = corpus.targets[:5]
    corpus.formulas, corpus.parsed = corpus.formulas[:5], corpus.parsed[:5]
    with pytest.raises(ValueError, match="target column 0 is known for 4 formulas, too few"):
        fit_property_head(network, corpus, torch.device("cpu"))


def test_a_step_pulls_each_formula_to_its_start_plus_its_error_offset():
    corpus = corpus_from_property_table(FORMULAS, head_targets())
    network = stage_network(mixtures=0.3).eval()  # eval: the anchor copy and the network then compute alike
    fit_property_head(network, corpus, torch.device("cpu"))
    loss = objective_loss(network)
    data = TrainingData(corpus, torch.device("cpu"), with_graphs=False)
    step = next(iter(PolymorphBatchSampler(corpus.formula_of_structure, 8, 4, seed=3)))
    with pytest.raises(RuntimeError, match="stage-start encoder"):
        loss.batch_loss(network, data, step, np.random.default_rng(0))
    loss.set_anchor(copy.deepcopy(network.stoichiometry).requires_grad_(False).eval())
    _, parts, variance = loss.batch_loss(network, data, step, np.random.default_rng(0))
    mean = data.formula_gaussians(network, step)[0]
    with torch.no_grad():
        offsets = error_log_variance_offsets(network.property_head(mean), data.formula_targets(step), 1.0)
    # the start is the network itself here, so each formula's gap to its target is minus its offset
    torch.testing.assert_close(parts["variance_matching"], offsets.pow(2).mean())
    assert float(parts["variance_mixtures"]) == pytest.approx(0.0, abs=1e-10)  # mixtures: their own start
    assert float(offsets.abs().max()) > 0.5


def test_a_stage_keeps_the_means_and_lowers_its_loss():
    corpus = corpus_from_property_table(FORMULAS, head_targets())
    network = stage_network()
    start = {key: value.clone() for key, value in network.stoichiometry.state_dict().items()}
    history = pretrain(network, corpus, stage(20), "cpu", verbose=False)
    trained = network.stoichiometry.state_dict()
    moved = {key for key, value in start.items() if not torch.equal(trained[key], value)}
    assert moved and all(key.startswith(("var_pool", "var_out")) for key in moved)  # only the variance head
    assert history[-1]["loss"] < 0.9 * history[0]["loss"]
    # without the error term the stage only reproduces the starting uncertainty: its loss starts at 0
    assert pretrain(stage_network(variance_error=0.0), corpus, stage(1), "cpu", verbose=False)[0]["loss"] < 1e-6


def test_the_stage_resumes_exactly_with_its_anchor_and_mixtures(tmp_path):
    corpus = corpus_from_property_table(FORMULAS, head_targets())
    straight = pretrain(stage_network(mixtures=0.3), corpus, stage(4), "cpu", tmp_path / "straight.ckpt",
                        verbose=False)
    _, payload = load_checkpoint(tmp_path / "straight.ckpt")
    assert ANCHOR_KEY in payload and "variance_mixtures" in objective_loss(stage_network(mixtures=0.3)).extra_repr()
    pretrain(stage_network(mixtures=0.3), corpus, stage(2), "cpu", tmp_path / "run.ckpt", verbose=False)
    resumed = pretrain(stage_network(seed=9, mixtures=0.3), corpus, stage(4), "cpu", tmp_path / "run.ckpt",
                       resume=True, verbose=False)
    assert [h["loss"] for h in resumed] == [h["loss"] for h in straight]


def test_the_objective_is_registered_reads_no_structure_and_is_refused_by_fit():
    objective = get_objective("error_variance")
    assert objective.pretrains_from == "targets" and not objective.uses_structures
    assert objective_loss(stage_network(variance_error=0.25)).variance_error == 0.25
    with pytest.raises(ValueError, match="error_variance' .* is a variance stage .* polysrl pretrain"):
        PolySRLFeaturizer(pretrained=None, variance_error=0.5, hidden_dim=8,
                          device="cpu").fit(["NaCl", "KCl"], pretraining_targets=[1.0, 2.0])
    with pytest.raises(ValueError, match="error_variance' .* is a variance stage .* polysrl pretrain"):
        PolySRLFeaturizer(pretrained=None, objective="error_variance", hidden_dim=8,
                          device="cpu").fit(["NaCl", "KCl"], pretraining_targets=[1.0, 2.0])
    with pytest.raises(ValueError, match="variance_error_floor\\) is a variance stage"):
        PolySRLFeaturizer(pretrained=None, variance_error_floor=0.01, hidden_dim=8,
                          device="cpu").fit(["NaCl", "KCl"], pretraining_targets=[1.0, 2.0])
    with pytest.raises(ValueError, match="variance_error"):
        PolySRLFeaturizer(pretrained=None, variance_error=-1.0).fit(["NaCl"])
    with pytest.raises(ValueError, match="variance_error_floor"):
        PolySRLFeaturizer(pretrained=None, variance_error_floor=0.0).fit(["NaCl"])


def test_formula_corpus_reads_the_distinct_formulas_without_structures(tmp_path):
    structures = prototype_structures()
    write_jsonl(tmp_path / "mp.jsonl.gz", structures)
    corpus = formula_corpus_from_mp_jsonl(tmp_path / "mp.jsonl.gz")
    assert corpus.formulas == sorted({s.composition.reduced_formula for s in structures})
    assert len(corpus.graphs) == 0 and np.isnan(corpus.targets).all()
    gaps = with_formula_targets(corpus, ["NaCl", "NaCl", "MgO"], [5.0, 7.0, 6.0])
    assert gaps.targets[corpus.formulas.index("NaCl")] == 6.0


def test_cli_runs_the_stage_from_a_model_file_with_its_held_out_formulas(tmp_path):
    structures = prototype_structures()
    write_jsonl(tmp_path / "mp.jsonl.gz", structures)
    formulas = sorted({s.composition.reduced_formula for s in structures})
    pd.DataFrame({"composition": formulas, "band_gap": np.linspace(0.5, 4.0, len(formulas))}).to_csv(
        tmp_path / "gaps.csv", index=False)
    common = ["--data", str(tmp_path / "mp.jsonl.gz"), "--hidden-dim", "8", "--batch-size", "4", "--n-jobs", "1",
              "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--seed", "3"]
    assert main(["pretrain", *common, "--checkpoint", str(tmp_path / "first.ckpt"), "--epochs", "1",
                 "--holdout", "0.2", "--export", str(tmp_path / "first.pt")]) == 0
    stage_args = ["pretrain", *common, "--objective", "error_variance", "--property-table", str(tmp_path / "gaps.csv"),
                  "--checkpoint", str(tmp_path / "stage.ckpt"), "--epochs", "2", "--variance-error", "1.0",
                  "--variance-error-floor", "1e-6", "--export", str(tmp_path / "stage.pt")]
    with pytest.raises(SystemExit, match="error_variance is a variance stage .* needs --init-from"):
        main(stage_args)
    with pytest.raises(SystemExit, match="--variance-error is the scale .* give --objective error_variance"):
        main(["pretrain", *common, "--variance-error", "0.5"])
    with pytest.raises(SystemExit, match="--variance-error-floor belongs to the error_variance objective"):
        main(["pretrain", *common, "--variance-error-floor", "0.01"])
    assert main([*stage_args, "--init-from", str(tmp_path / "first.pt"), "--train-only", "variance_head"]) == 0
    _, first = load_checkpoint(tmp_path / "first.pt")
    stage_network_, staged = load_checkpoint(tmp_path / "stage.pt")
    assert staged["held_out_formulas"] == first["held_out_formulas"]
    assert stage_network_.config.objective == "error_variance" and stage_network_.config.variance_error == 1.0
    assert stage_network_.config.variance_error_floor == 1e-6 and load_checkpoint(
        tmp_path / "first.pt")[0].config.variance_error_floor == ERROR_FLOOR
    before = PolySRLFeaturizer(pretrained=str(tmp_path / "first.pt")).fit(formulas).transform(formulas)
    after = PolySRLFeaturizer(pretrained=str(tmp_path / "stage.pt")).fit(formulas).transform(formulas)
    np.testing.assert_array_equal(after[:, :-1], before[:, :-1])
    assert not np.array_equal(after[:, -1], before[:, -1])


def test_cli_pretrains_the_supervised_objective_from_one_table(tmp_path):
    pd.DataFrame({"composition": FORMULAS, "band_gap": head_targets()}).to_csv(tmp_path / "gaps.csv", index=False)
    assert main(["pretrain", "--objective", "supervised", "--property-table", str(tmp_path / "gaps.csv"),
                 "--checkpoint", str(tmp_path / "sup.ckpt"), "--export", str(tmp_path / "sup.pt"), "--epochs", "1",
                 "--hidden-dim", "8", "--batch-size", "8", "--device", "cpu", "--seed", "3"]) == 0
    _, payload = load_checkpoint(tmp_path / "sup.pt")
    assert payload["corpus"]["file"] == "gaps.csv"
