"""The per-patient functions of iatrogenic on Dask DataFrames (``pip install 'iatrogenic[dask]'``).

Each public function of the library that works per patient also accepts a
``dask.dataframe.DataFrame`` and then calls the function of the same name here. The rows of one
patient are brought into one partition (by a shuffle only when the partitions are not already
split by patient), anything that depends on the whole sample is computed in a first pass and
passed to every partition as an explicit parameter, and the pandas code of the library runs on
each partition: there is one implementation of every statistic. See ``docs/dask.md``.

Importing this package does not import dask: :func:`is_dask_frame` is what the core functions
call on every input, and the entry points are loaded on first use.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = [
    "dispatch",
    "fit_expected_response",
    "fit_growth",
    "is_dask_frame",
    "reliable_change",
    "screen",
    "sudden_changes",
    "talking_therapies_outcomes",
    "track",
]

#: Entry points defined in :mod:`iatrogenic.dask._entrypoints` and :mod:`iatrogenic.dask._growth`.
_LAZY = {
    "reliable_change": "._entrypoints",
    "screen": "._entrypoints",
    "sudden_changes": "._entrypoints",
    "talking_therapies_outcomes": "._entrypoints",
    "track": "._entrypoints",
    "fit_growth": "._growth",
    "fit_expected_response": "._growth",
}


def is_dask_frame(data: Any) -> bool:
    """Whether ``data`` is a Dask DataFrame, without importing dask.

    Examples
    --------
    >>> import pandas as pd
    >>> is_dask_frame(pd.DataFrame({"a": [1]}))
    False
    """
    if "dask" not in sys.modules:
        return False
    module = type(data).__module__
    return module == "dask" or module.startswith("dask.") or module.startswith("dask_expr")


def dispatch(name: str, arguments: dict[str, Any]) -> Any:
    """Call the Dask version of the public function ``name`` with the caller's arguments.

    ``arguments`` is the public function's ``locals()`` taken on entry: its parameters by name
    (``self`` for a method, passed first).
    """
    from importlib import import_module

    function = getattr(import_module(_LAZY[name], __name__), name)
    keywords = dict(arguments)
    # a method (the model's track) passes its model first
    bound = [keywords.pop("self")] if "self" in keywords else []
    return function(*bound, **keywords)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
