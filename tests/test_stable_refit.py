"""The retraining after the learning-rate choice falls back when it diverges (polysrl_sklearn.stable_refit)."""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from test_regressor import FORMULAS, OXYGEN_FRACTION
from torch import nn

import polysrl_sklearn.head as head_module
import polysrl_sklearn.regressor as regressor_module
from polysrl_sklearn.regressor import PolySRLRegressor
from polysrl_sklearn.stable_refit import refit_in_validation_order

#: Adam moves every weight by about the learning rate per step: at 1e3 the head's output explodes.
EXPLODING = 1e3


def test_a_diverged_rate_is_replaced_by_the_next_in_validation_order_and_all_diverged_raises():
    calls = []

    def train_at(rate):
        calls.append(rate)
        return nn.Identity(), 1.0, {0.1: 700.0, 0.01: float("nan"), 0.001: 0.3, 0.0001: 0.2}[rate]

    with pytest.warns(ConvergenceWarning, match="learning rate 0.1 diverged .* 1 before, 700 after"):
        model, rate = refit_in_validation_order(train_at, 0.1, {0.1: 0.1, 0.01: 0.2, 0.001: 0.3, 0.0001: 0.4})
    assert rate == 0.001 and calls == [0.1, 0.01, 0.001] and isinstance(model, nn.Identity)
    assert refit_in_validation_order(train_at, 0.0001, {})[1] == 0.0001  # no divergence: one training
    with pytest.warns(ConvergenceWarning), pytest.raises(RuntimeError, match="every learning rate: 0.1 .*0.01"):
        refit_in_validation_order(train_at, 0.1, {0.1: 0.1, 0.01: 0.2})


@pytest.mark.parametrize("finetune", [True, False])
def test_the_regressor_retrains_at_the_next_rate_when_the_chosen_one_diverges(monkeypatch, finetune):
    chosen = {EXPLODING: 0.0, 1e-3: 1.0}  # as if the inner split had preferred the exploding rate
    module = regressor_module if finetune else head_module
    monkeypatch.setattr(module, "choose_learning_rate", lambda *args: (EXPLODING, dict(chosen)))
    model = PolySRLRegressor(pretrained=None, finetune=finetune, hidden_dim=8, hidden=16,
                             learning_rates=tuple(chosen), epochs=20, batch_size=8, random_state=0, device="cpu")
    with pytest.warns(ConvergenceWarning, match="learning rate 1000 diverged"):
        model.fit(FORMULAS, OXYGEN_FRACTION)
    assert model.best_learning_rate_ == 1e-3
    errors = np.abs(model.predict(FORMULAS) - OXYGEN_FRACTION)
    assert np.isfinite(errors).all() and errors.mean() < 1.0
