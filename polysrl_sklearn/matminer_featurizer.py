"""matminer adapter: PolySRL as a batched ``BaseFeaturizer`` for compositions.

:class:`PolySRLComposition` plugs a :class:`~polysrl_sklearn.PolySRLFeaturizer`
into matminer's ``featurize`` / ``featurize_many`` / ``featurize_dataframe``
API. Unlike a typical matminer featurizer, which featurizes one row at a time
(optionally in a process pool), the batch methods here validate every row
individually (cheap) and then featurize all valid rows with **one** call of
``PolySRLFeaturizer.transform``, in-process.
"""

from __future__ import annotations

import traceback
from typing import Any

import numpy as np
import pandas as pd
from matminer.featurizers.base import BaseFeaturizer
from sklearn.base import _fit_context
from sklearn.utils._param_validation import HasMethods

from .composition import parse_composition
from .featurizer import PolySRLFeaturizer

__all__ = ["PolySRLComposition"]

_SKIP_HINT = (
    "\nTO SKIP THESE ERRORS when featurizing specific compounds, set "
    "'ignore_errors=True' when running the batch featurize() operation "
    "(e.g., featurize_many(), featurize_dataframe(), etc.)."
)

_CITATION = (
    "@article{lee2023polysrl,\n"
    "  title={Stoichiometry Representation Learning with Polymorphic Crystal Structures},\n"
    "  author={Lee, Namkyeong and Noh, Heewoong and Kim, Sungwon and Hyun, Dongmin and "
    "Na, Gyoung S. and Park, Chanyoung},\n"
    "  journal={arXiv preprint arXiv:2312.13289},\n"
    "  note={NeurIPS 2023 Workshop on AI for Accelerated Materials Design (AI4Mat)},\n"
    "  year={2023},\n"
    "  doi={10.48550/arXiv.2312.13289}\n"
    "}"
)


class _EntryError(TypeError):
    """An entry of ``featurize_many`` that does not hold exactly one input."""


def _format_error(exc: BaseException) -> str:
    """Full traceback text of ``exc``, as matminer writes in its errors column."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _with_skip_hint(exc: BaseException) -> BaseException:
    """Return an exception of the same type as ``exc`` with matminer's skip hint appended."""
    try:
        new = type(exc)(f"{exc}{_SKIP_HINT}")
    except Exception:  # exception types with unusual constructors: keep the original
        return exc
    return new.with_traceback(exc.__traceback__)


class PolySRLComposition(BaseFeaturizer):
    """PolySRL probabilistic stoichiometry representation as a matminer featurizer.

    PolySRL (Lee et al., 2023) encodes a composition as a Gaussian learned by
    contrasting stoichiometries with the crystal structures of their
    polymorphs. This featurizer returns the Gaussian's mean and a scalar
    uncertainty (the geometric mean of its variances; higher means the
    composition is more polymorphic / less certain), computed by a wrapped
    :class:`~polysrl_sklearn.PolySRLFeaturizer`.

    ``featurize_many`` and ``featurize_dataframe`` are batched: each entry is
    parsed on its own to find invalid ones, then all valid entries go through
    a single ``PolySRLFeaturizer.transform`` call. This runs in the calling
    process; ``set_n_jobs`` has no effect on the batch path (``n_jobs`` is 1).

    Features
    --------
    polysrl_0 ... polysrl_{F-1}
        Mean of the composition's Gaussian representation (F = ``hidden_dim``
        of the wrapped featurizer).
    polysrl_uncertainty
        Geometric mean of the Gaussian's variances.

    Parameters
    ----------
    featurizer : PolySRLFeaturizer or None, default=None
        The featurizer to wrap. ``None`` means ``PolySRLFeaturizer()``, the
        shipped pretrained model. If the featurizer is not fitted yet (has no
        ``network_`` attribute), it is fitted without data, which only loads
        its ``pretrained`` weights, on first use.

    Examples
    --------
    >>> import pandas as pd
    >>> from polysrl_sklearn import PolySRLFeaturizer
    >>> from polysrl_sklearn.matminer_featurizer import PolySRLComposition
    >>> featurizer = PolySRLComposition(PolySRLFeaturizer(pretrained=None, hidden_dim=8, random_state=0))
    >>> df = pd.DataFrame({"composition": ["Fe2O3", "NaCl", "Xx2O3"]})
    >>> out = featurizer.featurize_dataframe(df, "composition", ignore_errors=True,
    ...                                      return_errors=True)
    >>> out.shape
    (3, 11)
    """

    _parameter_constraints: dict = {"featurizer": [HasMethods(["fit", "transform"]), None]}

    def __init__(self, featurizer: PolySRLFeaturizer | None = None) -> None:
        self.featurizer = featurizer
        self._n_jobs = 1

    # ----------------------------------------------------------- helpers
    def _get_featurizer(self) -> PolySRLFeaturizer:
        """The wrapped featurizer, created (if ``featurizer`` is None) and fitted on demand."""
        featurizer = self.featurizer
        if featurizer is None:
            featurizer = getattr(self, "_default_featurizer", None)
            if featurizer is None:
                featurizer = PolySRLFeaturizer()
                self._default_featurizer = featurizer
        if not hasattr(featurizer, "network_"):
            featurizer.fit([])
        return featurizer

    @staticmethod
    def _unpack_entries(entries: Any) -> list[Any]:
        """Turn matminer-style entries into a flat list, one input (or an `_EntryError`) per row.

        matminer passes single-input entries either bare, or as 1-tuples /
        rows of a 2-D array (``featurize_dataframe`` passes ``df[[col]].values``).
        """
        if isinstance(entries, pd.DataFrame):
            entries = entries.to_numpy(dtype=object)
        if isinstance(entries, pd.Series):
            return entries.tolist()
        if isinstance(entries, np.ndarray):
            if entries.ndim == 2:
                if entries.shape[1] != 1:
                    raise ValueError(
                        f"{PolySRLComposition.__name__} featurizes one composition column; "
                        f"got entries of shape {entries.shape}"
                    )
                return entries[:, 0].tolist()
            if entries.ndim != 1:
                raise ValueError(f"entries must be 1-D or 2-D, got shape {entries.shape}")
            return entries.tolist()
        items = list(entries)
        if items and isinstance(items[0], (tuple, list, np.ndarray)):
            # matminer convention: each entry is the argument tuple of featurize
            unpacked: list[Any] = []
            for position, entry in enumerate(items):
                if isinstance(entry, (tuple, list, np.ndarray)) and len(entry) == 1:
                    unpacked.append(entry[0])
                else:
                    unpacked.append(_EntryError(
                        f"entry {entry!r} at position {position} must hold exactly one "
                        "composition (featurize takes one argument)"))
            return unpacked
        return items

    # --------------------------------------------------------- matminer API
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: Any = None, y: Any = None, **fit_kwargs: Any) -> "PolySRLComposition":
        """Make sure the wrapped featurizer is fitted (loads weights; never trains).

        An already fitted featurizer (e.g. one pretrained on structures) is
        left unchanged.

        Parameters
        ----------
        X, y : ignored
        **fit_kwargs : ignored

        Returns
        -------
        self
        """
        self._get_featurizer()
        return self

    def featurize(self, comp: Any) -> list[float]:
        """Featurize one composition.

        Parameters
        ----------
        comp : str or pymatgen.core.Composition
            A formula such as ``"Fe2O3"`` or a Composition.

        Returns
        -------
        list of float
            ``hidden_dim`` mean values, then the uncertainty.

        Raises
        ------
        CompositionError
            If ``comp`` is missing, empty, unparsable or has an unsupported
            element; the message names it.
        """
        parse_composition(comp)
        return self._get_featurizer().transform([comp])[0].tolist()

    def featurize_many(self, entries: Any, ignore_errors: bool = False,
                       return_errors: bool = False, pbar: Any = True) -> list[list[Any]]:
        """Featurize many compositions with one batched forward pass.

        Each entry is first parsed on its own, so invalid ones are found
        cheaply; the valid ones are then featurized together by a single
        ``PolySRLFeaturizer.transform`` call. Row order is preserved.

        Parameters
        ----------
        entries : list, tuple, ndarray, Series or DataFrame
            Compositions (formula strings or pymatgen Composition), either bare
            or as 1-tuples / rows of a one-column 2-D array (matminer's
            convention for featurize arguments).
        ignore_errors : bool, default=False
            If True, invalid entries give a row of NaN; if False, the first
            invalid entry raises.
        return_errors : bool, default=False
            If True (requires ``ignore_errors``), append one more value per row:
            the error traceback text for invalid entries, NaN for valid ones.
        pbar : bool or dict, default=True
            Accepted for API compatibility; no progress bar is shown (the
            forward pass is one batched call).

        Returns
        -------
        list of list
            One row of ``len(feature_labels())`` values (plus the error value
            when ``return_errors``) per entry.

        Raises
        ------
        ValueError
            If ``return_errors`` is set without ``ignore_errors``.
        CompositionError
            If ``ignore_errors`` is False and an entry cannot be featurized;
            the message names the entry and its position.
        """
        if return_errors and not ignore_errors:
            raise ValueError("Please set ignore_errors to True to use return_errors.")
        if not isinstance(entries, (tuple, list, np.ndarray, pd.Series, pd.DataFrame)):
            raise TypeError("'entries' must be a list-like object")
        if len(entries) == 0:
            return []
        items = self._unpack_entries(entries)
        featurizer = self._get_featurizer()
        width = len(featurizer.get_feature_names_out())

        # 1. validate each entry on its own
        errors: list[BaseException | None] = [None] * len(items)
        for position, item in enumerate(items):
            try:
                if isinstance(item, _EntryError):
                    raise item
                parse_composition(item, position)
            except Exception as exc:
                if not ignore_errors:
                    raise _with_skip_hint(exc) from None
                errors[position] = exc
        good = [i for i, error in enumerate(errors) if error is None]

        # 2. one batched forward pass over the valid entries
        features = np.full((len(items), width), np.nan)
        if good:
            try:
                features[good] = featurizer.transform([items[i] for i in good])
            except Exception as exc:
                if not ignore_errors:
                    raise _with_skip_hint(exc) from None
                # unexpected batch failure: isolate the culprit(s) entry by entry
                for i in good:
                    try:
                        features[i] = featurizer.transform([items[i]])[0]
                    except Exception as item_exc:
                        errors[i] = item_exc

        # 3. assemble rows as matminer's featurize_wrapper would
        rows = features.tolist()
        if return_errors:
            for row, error in zip(rows, errors):
                row.append(float("nan") if error is None else _format_error(error))
        return rows

    def feature_labels(self) -> list[str]:
        """Column names: ``polysrl_0`` ... ``polysrl_{F-1}``, then ``polysrl_uncertainty``.

        Returns
        -------
        list of str
            A new list on each call.
        """
        return [str(name) for name in self._get_featurizer().get_feature_names_out()]

    def __sklearn_tags__(self):  # noqa: D105
        # matminer's BaseFeaturizer lists TransformerMixin after BaseEstimator, so its
        # transformer tags are missing; the input is one column of compositions
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags(preserves_dtype=[])
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False  # fit only loads weights, on first use if need be
        return tags

    def citations(self) -> list[str]:
        """BibTeX citation of the PolySRL paper.

        Returns
        -------
        list of str
            One BibTeX entry.
        """
        return [_CITATION]

    def implementors(self) -> list[str]:
        """People who wrote this featurizer.

        Returns
        -------
        list of str
        """
        return ["polysrl-sklearn developers (scikit-learn/matminer port of PolySRL by "
                "Namkyeong Lee et al.)"]
