"""scikit-learn parameter constraints shared by the PolySRL estimators.

The estimators declare ``_parameter_constraints`` with scikit-learn's own
vocabulary (:mod:`sklearn.utils._param_validation`) and validate them in
``fit`` through ``sklearn.base._fit_context``. This module adds the one
constraint scikit-learn lacks, a torch device string, and the constraints
that several estimators share.
"""

from __future__ import annotations

import os
from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

__all__ = ["TorchDevice", "POSITIVE_INT", "NON_NEGATIVE_INT", "POSITIVE_REAL", "PRETRAINED", "DEVICE"]


class TorchDevice(StrOptions):
    """``"auto"``, a ``torch.device``, or a string that ``torch.device`` accepts ("cpu", "cuda:1").

    A :class:`~sklearn.utils._param_validation.StrOptions` whose options are
    the common names, widened to every device string torch parses (device
    indices, other backends). scikit-learn accepts only its own constraint
    classes in ``_parameter_constraints``, hence the subclass.
    """

    def __init__(self) -> None:
        super().__init__({"auto", "cpu", "cuda", "mps"})

    def is_satisfied_by(self, val: object) -> bool:
        """Whether ``val`` names a device (availability is checked when it is used)."""
        import torch

        if isinstance(val, torch.device):
            return True
        if not isinstance(val, str):
            return False
        if val == "auto":
            return True
        try:
            torch.device(val)
        except (RuntimeError, ValueError):
            return False
        return True

    def __str__(self) -> str:
        return "'auto' or a torch device such as 'cpu', 'cuda' or 'cuda:1'"


POSITIVE_INT = Interval(Integral, 1, None, closed="left")
NON_NEGATIVE_INT = Interval(Integral, 0, None, closed="left")
POSITIVE_REAL = Interval(Real, 0, None, closed="neither")
#: A shipped model name or a checkpoint path; None for random initialisation.
PRETRAINED = [str, os.PathLike, None]
DEVICE = [TorchDevice()]
