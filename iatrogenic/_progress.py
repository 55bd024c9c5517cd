"""Optional progress bars (``pip install 'iatrogenic[progress]'``) for long operations.

Every long-running function takes ``progress: bool | None = None`` and passes it here as
``enabled``:

* ``None`` (the default): a bar only when standard error is a terminal, so scripts, logs,
  notebooks run as batch jobs and the test suite stay quiet;
* ``False``: never a bar;
* ``True``: a bar whenever tqdm is installed, terminal or not (tqdm writes to standard error).
  Without tqdm the work runs unchanged with no bar, and one
  :class:`~iatrogenic.exceptions.IatrogenicWarning` per process says how to install it: the
  caller asked for a bar explicitly, so silence would look like a bug.

tqdm is imported only when a bar is actually drawn: ``import iatrogenic`` must stay light.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import TypeVar

import numpy as np

from iatrogenic.exceptions import IatrogenicWarning, ParameterTypeError

__all__ = ["INSTALL_HINT", "check_enabled", "progress"]

INSTALL_HINT = "pip install 'iatrogenic[progress]'"

_Item = TypeVar("_Item")


def progress(
    iterable: Iterable[_Item],
    *,
    total: int | None = None,
    desc: str | None = None,
    enabled: bool | None = None,
    postfix: Callable[[_Item], str] | None = None,
) -> Iterator[_Item]:
    """Yield the items of ``iterable``, drawing a tqdm bar on standard error when enabled.

    Parameters
    ----------
    iterable : iterable
        The work items; they are yielded unchanged and in order.
    total : int, optional
        Number of items, for iterables without ``len`` (generators).
    desc : str, optional
        Label at the left of the bar (e.g. ``"screen"``).
    enabled : bool or None, default None
        ``None``: a bar only if ``sys.stderr`` is a terminal; ``False``: never; ``True``: whenever
        tqdm is installed (otherwise one warning per process, and no bar).
    postfix : callable, optional
        ``postfix(item)`` is shown at the right of the bar while ``item`` is being processed
        (e.g. the detector's name).

    Returns
    -------
    iterator
        The items of ``iterable``.

    Raises
    ------
    ParameterTypeError
        If ``enabled`` is not a bool or None.

    Examples
    --------
    >>> from iatrogenic._progress import progress
    >>> list(progress(["a", "b"], desc="demo", enabled=False))
    ['a', 'b']
    """
    if not _bar_wanted(check_enabled(enabled, caller="progress")):
        return iter(iterable)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        if enabled:
            _warn_tqdm_missing()
        return iter(iterable)
    return _with_bar(tqdm(iterable, total=total, desc=desc), postfix)


def check_enabled(enabled: object, *, caller: str) -> bool | None:
    """Return ``enabled`` if it is True, False or None; raise ParameterTypeError otherwise.

    For the ``progress=`` parameter of public functions, checked before any work is done.

    Examples
    --------
    >>> check_enabled(None, caller="screen") is None
    True
    >>> check_enabled("yes", caller="screen")
    Traceback (most recent call last):
    ...
    iatrogenic.exceptions.ParameterTypeError: The 'progress' parameter of screen() must be ...
    """
    if enabled is None or isinstance(enabled, (bool, np.bool_)):
        return None if enabled is None else bool(enabled)
    raise ParameterTypeError(
        f"The 'progress' parameter of {caller}() must be True, False or None (the default: a "
        f"progress bar only when standard error is a terminal). Got {enabled!r} instead. "
        f"Suggestion: pass progress=True for a bar (needs tqdm: {INSTALL_HINT})."
    )


def _bar_wanted(enabled: bool | None) -> bool:
    if enabled is not None:
        return enabled
    stderr = sys.stderr
    return stderr is not None and stderr.isatty()


def _with_bar(bar: Iterable[_Item], postfix: Callable[[_Item], str] | None) -> Iterator[_Item]:
    try:
        for item in bar:
            if postfix is not None:
                bar.set_postfix_str(postfix(item))  # type: ignore[attr-defined]
            yield item
    finally:
        # a loop left early (an exception in the caller's body) must not leave a half-drawn bar
        bar.close()  # type: ignore[attr-defined]


@cache
def _warn_tqdm_missing() -> None:
    warnings.warn(
        f"progress=True but tqdm is not installed, so no progress bar is shown: {INSTALL_HINT}",
        IatrogenicWarning,
        stacklevel=4,
    )
