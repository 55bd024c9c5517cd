"""One BLAS thread around the model fits."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

try:  # installed with scikit-learn
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

__all__ = ["one_blas_thread"]


def one_blas_thread() -> AbstractContextManager[Any]:
    """Limit BLAS to one thread.

    The fits only do small matrix products and products over patients that are bound by memory,
    and a threaded OpenBLAS stalls on each call when the cores are busy: a 10-patient growth fit
    took 1.2 s instead of 0.07 s on a loaded 2-core machine, the example screened with dates
    6-8 s instead of 0.9 s (most of it in L-BFGS-B's BLAS calls).
    """
    if threadpool_limits is None:  # pragma: no cover
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
