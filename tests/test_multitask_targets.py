"""Several DFT property heads in multi-task pretraining (amendment 11): one column per property."""

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import prototype_structures
from test_cli_pretrain import write_jsonl

from polysrl_sklearn import PolySRLFeaturizer
from polysrl_sklearn.auxiliary_terms import multitask_l1
from polysrl_sklearn.cli import main
from polysrl_sklearn.corpus import corpus_from_structures, with_formula_targets
from polysrl_sklearn.network import load_checkpoint

NAN = float("nan")


@pytest.fixture(scope="module")
def corpus():
    return corpus_from_structures(prototype_structures(), cutoff=6.0, n_jobs=1)


def test_each_column_is_reduced_on_its_own(corpus):
    first, second = corpus.formulas[:2]
    rows = [first, first, second, "XeF2", first]
    values = [[1.0, -2.0], [3.0, -5.0], [NAN, 0.5], [9.0, 9.0], [NAN, -1.0]]
    tagged = with_formula_targets(corpus, rows, values, reduce=["mean", "min"])
    assert tagged.targets.shape == (len(corpus.formulas), 2) and tagged.targets.dtype == np.float32
    np.testing.assert_array_equal(tagged.targets[0], [2.0, -5.0])  # mean of 1, 3 (NaN skipped); lowest of -2, -5, -1
    assert np.isnan(tagged.targets[1, 0]) and tagged.targets[1, 1] == 0.5  # a column known, the other not
    assert np.isnan(tagged.targets[2:]).all()  # XeF2 is not in the corpus
    np.testing.assert_array_equal(with_formula_targets(corpus, rows, values, "min").targets[0], [1.0, -5.0])


def test_one_property_keeps_one_dimensional_targets(corpus):
    tagged = with_formula_targets(corpus, [corpus.formulas[0]] * 2, [1.0, 4.0])
    assert tagged.targets.shape == (len(corpus.formulas),) and tagged.targets[0] == 2.5


@pytest.mark.parametrize("values,reduce,match", [
    ([[1.0, 2.0]], "mean", "shape"),  # one row for two compositions
    ([1.0, 2.0], ["mean", "min"], "one per property column"),
    ([1.0, 2.0], "median", "reduce"),
])
def test_bad_targets_are_refused(corpus, values, reduce, match):
    with pytest.raises(ValueError, match=match):
        with_formula_targets(corpus, corpus.formulas[:2], values, reduce)


def test_the_heads_errors_add_up_column_by_column():
    predicted = torch.tensor([[1.0, 0.0], [2.0, 1.0], [0.0, 4.0]])
    targets = torch.tensor([[2.0, NAN], [NAN, 3.0], [1.0, 1.0]])
    # column 0: |1-2|, |0-1| over 2 known rows = 1.0; column 1: |1-3|, |4-1| over 2 = 2.5
    assert float(multitask_l1(predicted, targets)) == pytest.approx(3.5)
    # a column nobody knows adds nothing, and one column is the one-property loss
    assert float(multitask_l1(predicted, torch.tensor([[2.0, NAN]] * 3))) == pytest.approx(1.0 / 3 + 2.0 / 3)
    assert float(multitask_l1(predicted[:, 0], targets[:, 0])) == float(multitask_l1(predicted[:, :1],
                                                                                        targets[:, :1]))


def test_fit_with_two_property_columns_trains_two_heads():
    structures = prototype_structures()
    items = [s.composition for s in structures]
    targets = np.full((len(items), 2), np.nan)
    targets[0] = [1.0, -0.5]
    targets[1, 1] = -1.5
    featurizer = PolySRLFeaturizer(pretrained=None, hidden_dim=8, multitask_weight=1.0, epochs=2, batch_size=4,
                                   device="cpu", n_jobs=1, random_state=0)
    featurizer.fit(items, structures=structures, pretraining_targets=targets)
    head = featurizer.network_.property_head
    assert head.out_features == 2 and featurizer.network_.config.property_count == 2
    assert all(record["multitask"] > 0 for record in featurizer.history_)  # the heads' L1, logged per epoch
    with pytest.raises(ValueError, match="one-dimensional"):
        PolySRLFeaturizer(pretrained=None, hidden_dim=8, objective="supervised").fit(
            items, pretraining_targets=targets)


def _tables(tmp_path, structures):
    formulas = [s.composition.reduced_formula for s in structures]
    pd.DataFrame({"composition": formulas[:3], "band_gap": [1.0, 2.0, 3.0]}).to_csv(tmp_path / "gaps.csv",
                                                                                    index=False)
    pd.DataFrame({"formula": formulas + formulas[:1], "target": np.linspace(-2, 0, len(formulas) + 1)}).to_csv(
        tmp_path / "e_form.csv", index=False)
    return [str(tmp_path / "gaps.csv"), str(tmp_path / "e_form.csv")]


def _pretrain(tmp_path, extra):
    return main(["pretrain", "--data", str(tmp_path / "mp.jsonl.gz"), "--checkpoint", str(tmp_path / "run.ckpt"),
                 "--epochs", "1", "--hidden-dim", "8", "--batch-size", "4", "--holdout", "0", "--n-jobs", "1",
                 "--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--seed", "3",
                 "--multitask-weight", "0.1", *extra])


def test_cli_takes_one_table_per_head(tmp_path, capsys):
    structures = prototype_structures()
    write_jsonl(tmp_path / "mp.jsonl.gz", structures)
    tables = _tables(tmp_path, structures)
    assert _pretrain(tmp_path, ["--property-table", *tables, "--composition-column", "composition", "formula",
                                "--target-column", "band_gap", "target", "--target-reduce", "mean", "min"]) == 0
    assert "multi-task targets (band_gap, target) for 3, " in capsys.readouterr().out
    network, _ = load_checkpoint(tmp_path / "run.ckpt")
    assert network.property_head.out_features == 2


@pytest.mark.parametrize("extra,match", [
    (["--composition-column", "composition", "formula", "x"], "--composition-column takes one value or one per"),
    (["--composition-column", "composition", "--target-column", "band_gap", "target"], "has no column 'composition'"),
])
def test_cli_refuses_tables_and_columns_that_do_not_pair(tmp_path, extra, match):
    structures = prototype_structures()
    write_jsonl(tmp_path / "mp.jsonl.gz", structures)
    with pytest.raises(SystemExit, match=match):
        _pretrain(tmp_path, ["--property-table", *_tables(tmp_path, structures), *extra])


def test_pretraining_refuses_heads_that_do_not_match_the_target_columns(corpus):
    from polysrl_sklearn.network import ModelConfig, PolySRLNetwork
    from polysrl_sklearn.pretraining import TrainingSettings, pretrain

    tagged = with_formula_targets(corpus, corpus.formulas[:1], [[1.0, 2.0]])
    network = PolySRLNetwork(ModelConfig(hidden_dim=8, multitask_weight=0.1))  # one head
    with pytest.raises(ValueError, match="2 multi-task target column"):
        pretrain(network, tagged, TrainingSettings(epochs=1, batch_size=4), "cpu", verbose=False)
