import numpy as np
from pymatgen.core import Composition
from sklearn.model_selection import cross_val_score

from polysrl_sklearn.regressor import PolySRLRegressor

FORMULAS = ["NaCl", "MgO", "ZnS", "CaF2", "ZrO2", "CsCl", "SrTiO3", "Li2O", "Fe2O3", "Al2O3", "TiO2", "SiO2",
            "GaAs", "KBr", "BaTiO3", "Bi2Te3", "PbTe", "CuO", "Cu2O", "FeO", "Fe3O4", "MnO2", "NiO", "CoO"]
OXYGEN_FRACTION = np.array([Composition(f).get_atomic_fraction("O") for f in FORMULAS])


def test_learning_rate_is_chosen_on_inner_validation_and_model_learns():
    model = PolySRLRegressor(pretrained=None, hidden_dim=8, hidden=32, learning_rates=(1e-2, 1e-5),
                             epochs=60, batch_size=8, random_state=0, device="cpu").fit(FORMULAS, OXYGEN_FRACTION)
    assert set(model.validation_mae_) == {1e-2, 1e-5}
    assert model.best_learning_rate_ == min(model.validation_mae_, key=model.validation_mae_.get)
    train_mae = np.abs(model.predict(FORMULAS) - OXYGEN_FRACTION).mean()
    assert train_mae < np.abs(OXYGEN_FRACTION - OXYGEN_FRACTION.mean()).mean() / 2


def test_regressor_in_cross_val_score_is_reproducible():
    model = PolySRLRegressor(pretrained=None, hidden_dim=8, hidden=16, learning_rates=(1e-3,), epochs=5,
                             random_state=0, device="cpu")
    a = cross_val_score(model, FORMULAS, OXYGEN_FRACTION, cv=3, scoring="neg_mean_absolute_error")
    b = cross_val_score(model, FORMULAS, OXYGEN_FRACTION, cv=3, scoring="neg_mean_absolute_error")
    assert np.allclose(a, b) and np.all(np.isfinite(a))


def test_mean_vector_is_the_forward_mean_without_the_variance_head():
    import torch

    from polysrl_sklearn.composition import parse_composition
    from polysrl_sklearn.featurizer import PolySRLFeaturizer
    from polysrl_sklearn.stoichiometry_graph import build_stoichiometry_batch

    encoder = PolySRLFeaturizer().fit([]).network_.stoichiometry
    batch = build_stoichiometry_batch([parse_composition(f, i) for i, f in enumerate(["Fe2O3", "NaCl", "Si"])])
    with torch.no_grad():
        assert torch.equal(encoder.mean_vector(batch), encoder(batch)[0])
