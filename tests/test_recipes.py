"""Recipes: one source of defaults, and the shipped checkpoints were made with their named recipe."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from polysrl_sklearn import PAPER_SETTINGS, PolySRLFeaturizer
from polysrl_sklearn.cli import build_parser
from polysrl_sklearn.datasets.paper import TABLE3, TEXT_SETTINGS
from polysrl_sklearn.network import ModelConfig, load_checkpoint
from polysrl_sklearn.pretraining import TrainingSettings
from polysrl_sklearn.recipes import ARCHITECTURE_FIELDS, DEFAULT_RECIPE, RECIPES, TRAINING_FIELDS, get_recipe
from polysrl_sklearn.shipped import SHIPPED


@pytest.mark.parametrize("name", list(SHIPPED))
def test_shipped_checkpoint_config_equals_its_recipe(name):
    model = SHIPPED[name]
    recipe = get_recipe(model.recipe)
    network, payload = load_checkpoint(model.path)
    # settings added after a checkpoint was written take their defaults when it is loaded
    stored = {k: getattr(network.config, k) for k in recipe.architecture()}
    assert stored == recipe.architecture()
    assert payload["config"]["objective"] == model.objective
    defaults = TrainingSettings()
    settings = {k: payload["settings"].get(k, getattr(defaults, k)) for k in recipe.training()}
    assert settings == recipe.training()
    assert len(payload["history"]) == recipe.epochs


def test_paper_recipe_is_table3_and_text():
    paper = get_recipe("paper")
    for key, value in {**TABLE3, **TEXT_SETTINGS}.items():
        assert getattr(paper, key) == value, key


def test_every_default_comes_from_the_default_recipe():
    recipe = RECIPES[DEFAULT_RECIPE]
    featurizer = PolySRLFeaturizer()
    # architecture parameters left at None take the recipe's value for a new network (issue 16)
    config = dataclasses.asdict(featurizer._model_config())
    params = {**featurizer.get_params(), **{k: config[k] for k in ARCHITECTURE_FIELDS if k in config}}
    assert {k: params[k] for k in recipe.featurizer_params()} == recipe.featurizer_params()
    config = dataclasses.asdict(ModelConfig())
    assert {k: config[k] for k in ARCHITECTURE_FIELDS} == recipe.architecture()
    settings = dataclasses.asdict(TrainingSettings())
    assert {k: settings[k] for k in TRAINING_FIELDS} == recipe.training()
    # the lower-level functions' defaults too
    from polysrl_sklearn import corpus, crystal_graph, encoders

    for function in (crystal_graph.structure_graph, crystal_graph.build_graph_set,
                     corpus.corpus_from_structures, corpus.corpus_from_mp_jsonl, encoders.StructureEncoder):
        parameters = inspect.signature(function).parameters
        assert parameters["cutoff"].default == recipe.cutoff, function


def test_from_recipe_and_overrides():
    paper = PolySRLFeaturizer.from_recipe("paper", epochs=3, random_state=1)
    assert paper.get_params()["hidden_dim"] == 200 and paper.epochs == 3 and paper.random_state == 1
    assert {k: paper.get_params()[k] for k in PAPER_SETTINGS if k != "epochs"} == {
        k: v for k, v in PAPER_SETTINGS.items() if k != "epochs"}
    with pytest.raises(ValueError, match="unknown recipe 'gpu'.*'paper'"):
        PolySRLFeaturizer.from_recipe("gpu")


def test_cli_recipe_flag_and_paper_alias():
    parser = build_parser()
    assert parser.parse_args(["pretrain"]).recipe == DEFAULT_RECIPE
    assert parser.parse_args(["pretrain", "--paper"]).recipe == "paper"
    assert parser.parse_args(["pretrain", "--recipe", "paper"]).recipe == "paper"
    with pytest.raises(SystemExit):
        parser.parse_args(["pretrain", "--recipe", "nope"])


def test_a_stage_recipe_continues_a_checkpoint_and_is_not_a_new_network(tmp_path):
    from polysrl_sklearn.cli import main

    stage = get_recipe("chgnet_mt_variance")
    assert stage.train_only == "variance_head" and stage.variance_matching > 0
    assert stage.architecture() == {**get_recipe("chgnet_mt").architecture(), "variance_matching": 1.0}
    counting = get_recipe("chgnet_mt_count")
    assert counting.architecture() == {**stage.architecture(), "variance_count": 10.0}
    assert counting.training() == stage.training()
    mixing = get_recipe("chgnet_mt_mixtures")
    assert mixing.architecture() == {**counting.architecture(), "variance_mixtures": 0.3}
    assert mixing.training() == stage.training()
    anchored = get_recipe("chgnet_mt_anchored")  # the previous default's stage
    assert anchored.architecture() == {**mixing.architecture(), "variance_anchor": 1.0}
    assert anchored.training() == stage.training()
    error = get_recipe("chgnet_mt_error")  # the previous default's: a structure-free stage on C28
    assert error.architecture() == {**mixing.architecture(), "variance_matching": 0.0, "variance_count": 0.0,
                                    "variance_error": 0.5, "multitask_weight": 0.0}
    assert error.training() == {**stage.training(), "epochs": 20}
    elements = get_recipe("chgnet_mt_elements")  # amendment 15's C41, C42, C43
    assert elements.architecture() == {**get_recipe("chgnet_mt").architecture(), "element_statistics": 1.0}
    assert elements.training() == get_recipe("chgnet_mt").training()
    elements_anchored = get_recipe("chgnet_mt_elements_anchored")
    assert elements_anchored.architecture() == {**anchored.architecture(), "element_statistics": 1.0}
    assert elements_anchored.training() == anchored.training()
    elements_error = get_recipe("chgnet_mt_elements_error")
    assert (elements_error.architecture(), elements_error.training()) == (error.architecture(), error.training())
    coordinates = {"element_statistics": 0.1, "element_statistics_head": "coordinates"}  # amendment 16's C45-C47
    assert get_recipe("chgnet_mt_coordinates").architecture() == {**get_recipe("chgnet_mt").architecture(),
                                                                   **coordinates}
    assert get_recipe("chgnet_mt_coordinates").training() == get_recipe("chgnet_mt").training()
    coordinates_anchored = get_recipe("chgnet_mt_coordinates_anchored")
    assert coordinates_anchored.architecture() == {**anchored.architecture(), **coordinates}
    assert coordinates_anchored.training() == anchored.training()
    coordinates_error = get_recipe("chgnet_mt_coordinates_error")
    assert (coordinates_error.architecture(), coordinates_error.training()) == (error.architecture(),
                                                                               error.training())
    with pytest.raises(ValueError, match="--init-from"):
        PolySRLFeaturizer.from_recipe("chgnet_mt_variance")
    with pytest.raises(SystemExit, match="--init-from"):
        main(["pretrain", "--recipe", "chgnet_mt_variance", "--data", str(tmp_path / "none.jsonl.gz")])
