"""The recipe levers of the representation study: each one does what its documentation says."""

import math

import numpy as np
import pytest
import torch

from polysrl_sklearn import PolySRLFeaturizer
from polysrl_sklearn.auxiliary_terms import variance_covariance_penalty
from polysrl_sklearn.elements import ELEMENT_TABLES, element_features, element_table
from polysrl_sklearn.network import ModelConfig, PolySRLNetwork
from polysrl_sklearn.pretraining import TrainingSettings, epoch_learning_rate
from polysrl_sklearn.recipes import get_recipe
from polysrl_sklearn.soft_contrastive import SoftContrastiveLoss
from polysrl_sklearn.variance_targets import (
    SPREAD_LEVEL,
    polymorph_nll,
    spread_log_variance_target,
    variance_matching_loss,
)


@pytest.mark.parametrize("name,width", [("matscholar", 200), ("magpie", 22), ("both", 222)])
def test_element_tables_share_the_rows(name, width):
    table = element_features(name)
    assert table.shape == (len(element_table()[0]), width) and np.isfinite(table).all()
    if name == "magpie":
        assert np.allclose(table.mean(axis=0), 0, atol=1e-5)
    with torch.no_grad():
        network = PolySRLNetwork(ModelConfig(hidden_dim=8, element_features=name))
    assert network.stoichiometry.element_features.shape[1] == width
    assert set(ELEMENT_TABLES) == {"matscholar", "magpie", "both"}


def test_unknown_element_table_is_refused():
    with pytest.raises(ValueError, match="element_features"):
        element_features("oliynyk")


def test_element_skip_adds_the_pooled_input_features():
    torch.manual_seed(0)
    network = PolySRLNetwork(ModelConfig(hidden_dim=8, element_skip=True))
    featurizer = PolySRLFeaturizer(pretrained=None, hidden_dim=8, element_skip=True, random_state=0).fit(["NaCl"])
    assert featurizer.network_.stoichiometry.element_skip is not None
    encoder = network.stoichiometry
    from polysrl_sklearn.composition import parse_composition
    from polysrl_sklearn.stoichiometry_graph import build_stoichiometry_batch

    batch = build_stoichiometry_batch([parse_composition("Fe2O3")])
    with torch.no_grad():
        with_skip = encoder.mean_vector(batch)
        skip = encoder.element_skip
        encoder.element_skip = None
        without = encoder.mean_vector(batch)
        pooled = (batch.fraction.unsqueeze(-1) * encoder.element_features[batch.element]).sum(0, keepdim=True)
    assert torch.allclose(with_skip - without, skip(pooled), atol=1e-6)


def test_polymorph_nll_is_smallest_at_the_polymorph_spread():
    mean = torch.zeros(1, 3)
    vectors = torch.tensor([[0.5, 0.5, 0.5], [-0.5, -0.5, -0.5]])
    owner = torch.tensor([0, 0])
    values = {v: float(polymorph_nll(mean, torch.full((1, 3), v), vectors, owner)) for v in (0.05, 0.25, 1.0)}
    assert min(values, key=values.get) == 0.25


def test_spread_target_is_the_polymorph_spread_plus_a_scale_free_level():
    vectors = torch.tensor([[1.0, 1.0], [3.0, 1.0], [0.0, 0.0], [0.0, 4.0]])
    owner = torch.tensor([0, 0, 1, 2])
    scale = float(vectors.var(dim=0).mean())
    target = spread_log_variance_target(vectors, owner, 3)
    # formula 0: polymorphs 1 apart from their centroid in one of two dimensions -> spread 0.5
    expected = torch.log(torch.tensor([0.5, 0.0, 0.0]) + SPREAD_LEVEL * scale)
    assert torch.allclose(target, expected)
    # the target moves with the scale of the structure space, so the order does not depend on it
    assert torch.allclose(spread_log_variance_target(10 * vectors, owner, 3), expected + math.log(100))


def test_count_weight_adds_a_level_per_further_polymorph():
    # formula 0: two polymorphs with one vector (spread 0); formula 1: three, also coinciding; 2: one
    vectors = torch.tensor([[1.0, 1.0], [1.0, 1.0], [0.0, 2.0], [0.0, 2.0], [0.0, 2.0], [4.0, 0.0]])
    owner = torch.tensor([0, 0, 1, 1, 1, 2])
    level = SPREAD_LEVEL * float(vectors.var(dim=0).mean())
    plain = spread_log_variance_target(vectors, owner, 3)
    assert torch.allclose(plain, torch.full((3,), math.log(level)))  # the spread alone cannot tell them apart
    counted = spread_log_variance_target(vectors, owner, 3, count_weight=2.0)
    assert torch.allclose(counted, torch.log(torch.tensor([3.0, 5.0, 1.0]) * level))
    # a padded batch: the padding formula's structures neither count nor change the real formulas' targets
    padded = spread_log_variance_target(torch.cat([vectors, torch.zeros(2, 2)]), torch.cat([owner, torch.tensor([3, 3])]),
                                        4, structure_mask=torch.arange(8) < 6, count_weight=2.0)
    assert torch.allclose(padded[:3], counted)


def test_variance_count_reaches_the_loss_from_the_featurizer_and_the_cli():
    featurizer = PolySRLFeaturizer(pretrained=None, hidden_dim=8, variance_matching=1.0, variance_count=3.0,
                                   random_state=0).fit(["NaCl"])
    assert featurizer.network_.config.variance_count == 3.0 and featurizer.network_.loss.variance_count == 3.0
    assert get_recipe("chgnet_mt_variance").variance_count == 0.0  # the previous default's stage: spread alone
    assert get_recipe("chgnet_mt_count").variance_count == 10.0  # the previous default's
    assert get_recipe("chgnet_mt_mixtures").variance_count == 10.0
    assert get_recipe("chgnet_mt_anchored").variance_count == 10.0  # the default's
    with pytest.raises(ValueError, match="variance_count"):
        PolySRLFeaturizer(pretrained=None, variance_count=-1.0).fit(["NaCl"])
    from polysrl_sklearn.cli import build_parser

    assert build_parser().parse_args(["pretrain", "--variance-count", "2.5"]).variance_count == 2.5


def test_variance_matching_pulls_the_uncertainty_to_the_spread_and_not_below():
    vectors = torch.tensor([[1.0, 1.0], [3.0, 1.0], [0.0, 0.0], [0.0, 4.0]])
    owner = torch.tensor([0, 0, 1, 2])
    log_variance = torch.zeros(3, 2, requires_grad=True)
    optimiser = torch.optim.SGD([log_variance], lr=0.2)
    for _ in range(200):
        optimiser.zero_grad()
        variance_matching_loss(log_variance.exp(), vectors, owner).backward()
        optimiser.step()
    uncertainty = log_variance.detach().mean(dim=1).exp()
    assert torch.allclose(uncertainty.log(), spread_log_variance_target(vectors, owner, 3), atol=1e-4)
    # single-structure formulas settle at a finite level (the likelihood term pulls them to the floor)
    assert float(uncertainty[1]) == pytest.approx(float(uncertainty[2])) and float(uncertainty[1]) > 1e-3
    assert float(uncertainty[0]) > 10 * float(uncertainty[1])


def test_variance_matching_leaves_the_mean_and_the_structures_alone():
    torch.manual_seed(0)
    mean = torch.randn(3, 2, requires_grad=True)
    variance = torch.full((3, 2), 0.1, requires_grad=True)
    vectors = torch.randn(4, 2, requires_grad=True)
    variance_matching_loss(variance, vectors, torch.tensor([0, 0, 1, 2])).backward()
    assert mean.grad is None and vectors.grad is None and variance.grad.abs().sum() > 0


def test_variance_covariance_penalty_is_zero_for_spread_uncorrelated_vectors():
    rng = np.random.default_rng(0)
    white = torch.from_numpy(np.linalg.qr(rng.normal(size=(400, 4)))[0] * np.sqrt(399) * 1.5).float()
    assert float(variance_covariance_penalty(white)) < 1e-3
    collapsed = torch.ones(400, 4) + 1e-3 * torch.randn(400, 4)
    assert float(variance_covariance_penalty(collapsed)) > 0.9


def test_positive_weight_reweights_the_pairs():
    torch.manual_seed(0)
    mean, variance = torch.randn(4, 3), torch.full((4, 3), 0.1)
    vectors, owner = torch.randn(6, 3), torch.tensor([0, 0, 1, 2, 3, 3])
    losses = {}
    for w in (1.0, 3.0):
        loss_fn = SoftContrastiveLoss(n_samples=0, positive_weight=w).eval()
        losses[w] = float(loss_fn(mean, variance, vectors, owner)[0])
    assert losses[1.0] != losses[3.0]
    # weight 3 on the 4 positives of 16 pairs: (3 * sum_pos + sum_neg) / (3 * 4 + 12)
    loss_fn = SoftContrastiveLoss(n_samples=0).eval()
    pos = SoftContrastiveLoss(n_samples=0, positive_weight=1e9).eval()
    mean_pos = float(pos(mean, variance, vectors, owner)[0])
    mean_neg = (losses[1.0] * 16 - mean_pos * 4) / 12
    assert math.isclose(losses[3.0], (3 * 4 * mean_pos + 12 * mean_neg) / 24, rel_tol=1e-4)
    assert float(loss_fn(mean, variance, vectors, owner)[0]) == losses[1.0]


def test_extra_terms_change_the_loss_and_are_logged():
    torch.manual_seed(0)
    mean, variance = torch.randn(4, 3), torch.full((4, 3), 0.1)
    vectors, owner = torch.randn(6, 3), torch.tensor([0, 0, 1, 2, 3, 3])
    base, _ = SoftContrastiveLoss(n_samples=0).eval()(mean, variance, vectors, owner)
    loss, parts = SoftContrastiveLoss(n_samples=0, polymorph_spread=0.5, decorrelation=2.0,
                                      variance_matching=0.3).eval()(mean, variance, vectors, owner)
    assert math.isclose(float(loss), float(base) + 0.5 * float(parts["spread"]) + 2.0 * float(parts["decorrelation"])
                        + 0.3 * float(parts["variance_matching"]), rel_tol=1e-5)


def test_cosine_schedule():
    settings = TrainingSettings(epochs=4, learning_rate=1.0, lr_schedule="cosine")
    assert [round(epoch_learning_rate(settings, e), 4) for e in range(4)] == [1.0, 0.8536, 0.5, 0.1464]
    assert epoch_learning_rate(TrainingSettings(learning_rate=0.3), 7) == 0.3


def test_levers_reach_the_network_from_the_featurizer_and_the_recipe():
    featurizer = PolySRLFeaturizer(pretrained=None, hidden_dim=8, positive_weight=5.0, polymorph_spread=0.1,
                                   decorrelation=1.0, variance_matching=0.4, element_features="magpie",
                                   random_state=0).fit(["NaCl"])
    config = featurizer.network_.config
    assert (config.positive_weight, config.polymorph_spread, config.decorrelation, config.variance_matching,
            config.element_features) == (5.0, 0.1, 1.0, 0.4, "magpie")
    loss = featurizer.network_.loss
    assert (loss.positive_weight, loss.polymorph_spread, loss.decorrelation, loss.variance_matching) == (
        5.0, 0.1, 1.0, 0.4)
    recipe = get_recipe("paper")
    assert (recipe.positive_weight, recipe.polymorph_spread, recipe.variance_matching, recipe.decorrelation,
            recipe.element_skip) == (1.0, 0.0, 0.0, 0.0, False)


def test_shipped_model_conflicts_with_a_lever_set_explicitly():
    with pytest.raises(ValueError, match="decorrelation"):
        PolySRLFeaturizer(decorrelation=1.0).fit(["NaCl"])


def test_multitask_targets_attach_per_formula_and_train_the_head(structures):
    from polysrl_sklearn.auxiliary_terms import multitask_l1
    from polysrl_sklearn.corpus import corpus_from_structures, with_formula_targets

    corpus = corpus_from_structures(structures, cutoff=6.0, n_jobs=1)
    formula = corpus.formulas[0]
    tagged = with_formula_targets(corpus, [formula, formula, "XeF2"], [1.0, 3.0, 9.0])
    assert tagged.targets[0] == 2.0 and np.isnan(tagged.targets[1:]).all()
    # per-structure vector caches (CHGNet) are keyed by the structures, not by the targets a run adds
    from polysrl_sklearn.resume import corpus_fingerprint, structures_fingerprint

    assert structures_fingerprint(tagged) == structures_fingerprint(corpus) == corpus_fingerprint(corpus)
    assert corpus_fingerprint(tagged) != corpus_fingerprint(corpus)
    assert float(multitask_l1(torch.tensor([1.0, 5.0]), torch.tensor([2.0, float("nan")]))) == 1.0
    assert float(multitask_l1(torch.tensor([1.0]), torch.tensor([float("nan")]))) == 0.0
    items = [s.composition for s in structures]
    targets = [1.0] + [float("nan")] * (len(items) - 1)
    featurizer = PolySRLFeaturizer(pretrained=None, hidden_dim=8, multitask_weight=1.0, epochs=2, batch_size=4,
                                   device="cpu", n_jobs=1, random_state=0)
    featurizer.fit(items, structures=structures, pretraining_targets=targets)
    assert hasattr(featurizer.network_, "property_head")
    with pytest.raises(ValueError, match="multitask_weight"):
        PolySRLFeaturizer(pretrained=None, hidden_dim=8, multitask_weight=1.0).fit(items, structures=structures)


def test_an_untrained_encoder_of_the_chgnet_mt_recipe_needs_no_structures():
    """``pretrained=None`` under the default's recipe: the fair "untrained" comparison, no CHGNet needed."""
    featurizer = PolySRLFeaturizer.from_recipe("chgnet_mt", pretrained=None, random_state=0, device="cpu").fit([])
    again = PolySRLFeaturizer.from_recipe("chgnet_mt", pretrained=None, random_state=0, device="cpu").fit([])
    features = featurizer.transform(["Fe2O3", "SiO2"])
    assert features.shape == (2, 201)
    np.testing.assert_array_equal(features, again.transform(["Fe2O3", "SiO2"]))
    assert isinstance(featurizer.network_.structure_projection, torch.nn.Identity)
