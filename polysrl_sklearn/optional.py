"""Optional dependencies: import them, or fail with the ``pip install`` line that brings them.

``polysrl featurize`` needs pyarrow and :mod:`polysrl_sklearn.distributed`
needs Dask; both come with the ``dask`` extra::

    pip install "polysrl-sklearn[dask]"

The ``chgnet`` structure encoder needs the ``chgnet`` extra
(:func:`polysrl_sklearn.chgnet_vectors.import_chgnet`).

Examples
--------
>>> from polysrl_sklearn.optional import require
>>> require("json", "reading JSON").__name__
'json'
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: The extra that holds pyarrow and ``dask[distributed]``.
DASK_EXTRA = "dask"


def require(module: str, purpose: str, extra: str = DASK_EXTRA) -> ModuleType:
    """Import ``module``, or raise an ImportError that names the extra to install.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"pyarrow.parquet"``.
    purpose : str
        What needs it, for the message (e.g. ``"polysrl featurize"``).
    extra : str, default="dask"
        The package extra that brings the module.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    ImportError
        If the module cannot be imported; the message names the module, the
        purpose and ``pip install "polysrl-sklearn[EXTRA]"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{purpose} needs {module.split('.')[0]}, which is not installed ({exc}); "
                          f'install the optional extra: pip install "polysrl-sklearn[{extra}]"') from exc
