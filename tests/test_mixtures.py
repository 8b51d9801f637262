"""Synthetic doped/alloyed mixtures and the ``variance_mixtures`` lever."""

import math

import numpy as np
import pytest
import torch

from polysrl_sklearn import PolySRLFeaturizer
from polysrl_sklearn.composition import parse_composition
from polysrl_sklearn.graphed_steps import graphable_problems
from polysrl_sklearn.mixtures import MIXTURE_SHARES, batch_mixtures, composition_formula, draw_partners, draw_shares, mix
from polysrl_sklearn.variance_targets import SPREAD_LEVEL, mixture_matching_loss


def test_mix_merges_shared_elements_in_parse_order():
    elements, fractions = mix(parse_composition("Bi2Te3"), parse_composition("Sb2Te3"), 0.1)
    expected_elements, expected = parse_composition("Bi1.8Sb0.2Te3")
    np.testing.assert_array_equal(elements, expected_elements)
    np.testing.assert_allclose(fractions, expected, rtol=1e-6)
    assert fractions.dtype == np.float32 and math.isclose(float(fractions.sum()), 1.0, rel_tol=1e-6)
    # a dopant with elements of its own: Na into PbTe at 2 %
    elements, fractions = mix(parse_composition("PbTe"), parse_composition("Na"), 0.02)
    np.testing.assert_allclose(fractions, parse_composition("Na0.02Pb0.49Te0.49")[1], rtol=1e-6)
    assert composition_formula((elements, fractions)) == "Na0.02Pb0.49Te0.49"
    for share in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="share"):
            mix(parse_composition("PbTe"), parse_composition("Na"), share)


def test_partners_are_a_permutation_without_fixed_points_and_shares_stay_in_range():
    rng = np.random.default_rng(0)
    for n in (2, 3, 10, 257):
        partner = draw_partners(n, rng)
        assert sorted(partner) == list(range(n)) and (partner != np.arange(n)).all()
    with pytest.raises(ValueError, match="at least 2"):
        draw_partners(1, rng)
    shares = draw_shares(10_000, rng)
    assert shares.min() >= MIXTURE_SHARES[0] and shares.max() <= MIXTURE_SHARES[1]
    # log-uniform: as many shares below the geometric midpoint as above it
    assert abs((shares < math.sqrt(MIXTURE_SHARES[0] * MIXTURE_SHARES[1])).mean() - 0.5) < 0.02
    parsed = [parse_composition(f) for f in ("PbTe", "Bi2Te3", "SnSe")]
    mixtures, partner = batch_mixtures(parsed, np.random.default_rng(1))
    for host, (mixture, guest) in enumerate(zip(mixtures, partner)):
        assert set(mixture[0]) == set(parsed[host][0]) | set(parsed[guest][0])


def test_mixture_target_is_the_spread_of_both_parents_polymorphs():
    # formula 0: one structure; formula 1: two coinciding polymorphs; formula 2: one structure
    vectors = torch.tensor([[0.0, 0.0], [2.0, 0.0], [2.0, 0.0], [0.0, 4.0]])
    owner = torch.tensor([0, 1, 1, 2])
    partner = torch.tensor([1, 2, 0])  # mixture i: host i, guest partner[i]
    # the level's scale is the whole batch's (each structure counted twice, once per mixture it is in)
    scale = float(torch.cat([vectors, vectors]).var(dim=0).mean())
    # mixture 0 holds structures 0, 1, 2; mixture 1: 1, 2, 3; mixture 2: 3, 0 (worked out by hand:
    # mean squared distance per dimension from each union's centroid)
    spreads = torch.tensor([4 / 9, 20 / 9, 2.0])
    counts = torch.tensor([3.0, 3.0, 2.0])
    target = spreads + SPREAD_LEVEL * scale * (1 + 10.0 * (counts - 1))
    variance = target.unsqueeze(1).expand(3, 5).clone().requires_grad_(True)
    assert float(mixture_matching_loss(variance, vectors, owner, partner, count_weight=10.0).detach()) < 1e-10
    # a variance elsewhere is pulled towards the target, and only the variance gets a gradient
    low = torch.full((3, 5), 1e-3, requires_grad=True)
    loss = mixture_matching_loss(low, vectors, owner, partner, count_weight=10.0)
    loss.backward()
    assert float(loss) > 1 and (low.grad < 0).all()
    # the guest's structures belong to the host's mixture: swapping the pairing changes the targets
    assert not torch.allclose(mixture_matching_loss(variance, vectors, owner, torch.tensor([2, 0, 1]), 10.0),
                              torch.zeros(()))


def test_variance_mixtures_trains_from_the_featurizer_and_is_refused_by_cuda_graphs(structures):
    items = [s.composition for s in structures]
    featurizer = PolySRLFeaturizer(pretrained=None, hidden_dim=8, variance_matching=1.0, variance_mixtures=1.0,
                                   epochs=2, batch_size=4, device="cpu", n_jobs=1, random_state=0)
    featurizer.fit(items, structures=structures)
    assert featurizer.network_.config.variance_mixtures == 1.0 and featurizer.network_.loss.variance_mixtures == 1.0
    assert all(np.isfinite(row["loss"]) for row in featurizer.history_)
    # one step: the term is added to the loss with its weight, and logged
    from polysrl_sklearn.corpus import corpus_from_structures
    from polysrl_sklearn.sampler import PolymorphBatchSampler
    from polysrl_sklearn.training_data import TrainingData

    corpus = corpus_from_structures(structures, cutoff=6.0, n_jobs=1)
    data = TrainingData(corpus, torch.device("cpu"))
    step = next(iter(PolymorphBatchSampler(corpus.formula_of_structure, 4, 4, seed=3)))
    network = featurizer.network_.train()
    network.loss.n_samples = 0  # no sampling noise: the two losses below differ by the term alone
    with_term, parts, _ = network.loss.batch_loss(network, data, step, np.random.default_rng(0))
    network.loss.variance_mixtures = 0.0
    without, plain_parts, _ = network.loss.batch_loss(network, data, step, np.random.default_rng(0))
    assert "variance_mixtures" in parts and "variance_mixtures" not in plain_parts
    assert float(parts["variance_mixtures"]) > 0
    assert torch.isclose(with_term.detach() - without.detach(), parts["variance_mixtures"], rtol=1e-4)
    with pytest.raises(ValueError, match="variance_mixtures"):
        PolySRLFeaturizer(pretrained=None, variance_mixtures=-1.0).fit(["NaCl"])
    assert any("variance_mixtures" in p for p in graphable_problems("polysrl", torch.device("cuda"), False, 1.0))
    assert graphable_problems("polysrl", torch.device("cuda"), False, 0.0) == []
    from polysrl_sklearn.cli import build_parser

    assert build_parser().parse_args(["pretrain", "--variance-mixtures", "0.5"]).variance_mixtures == 0.5


def test_the_default_ranks_mixtures_of_held_out_formulas_above_the_formulas():
    """The validation measure of amendment 7 on the shipped default (its held-out formulas are in its file)."""
    from polysrl_sklearn.validation import held_out_mixture_measures

    measures = held_out_mixture_measures("default")
    assert measures["mixture_auroc"] > 0.95 and measures["mixture_above_parents"] > 0.9
