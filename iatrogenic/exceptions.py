"""Exceptions and warnings raised by iatrogenic.

Every error that bad input can cause is a subclass of :class:`IatrogenicError` and of the matching
built-in (``ValueError`` or ``TypeError``), so callers may catch either. Messages name the column or
parameter, show the offending rows (count and first few) and say what to do.
"""

from __future__ import annotations

__all__ = [
    "ColumnNotFoundError",
    "ColumnTypeError",
    "ConvergenceWarning",
    "DataQualityWarning",
    "DuplicateRowsError",
    "EmptyDataError",
    "IatrogenicError",
    "IatrogenicWarning",
    "InvalidValueError",
    "OutOfRangeError",
    "ParameterError",
    "ParameterTypeError",
    "SingularFitWarning",
    "UnknownNameError",
]


class IatrogenicError(Exception):
    """Base class of every error raised on purpose by iatrogenic."""


class ParameterError(IatrogenicError, ValueError):
    """A keyword argument has a value outside what the function accepts."""


class ParameterTypeError(IatrogenicError, TypeError):
    """A keyword argument has the wrong type."""


class UnknownNameError(ParameterError):
    """A name (instrument, detector, method) is not registered; the message lists valid names."""


class EmptyDataError(IatrogenicError, ValueError):
    """The input table has no rows (or none left after selection)."""


class ColumnNotFoundError(IatrogenicError, ValueError):
    """A column named by a keyword argument is not in the input table."""


class ColumnTypeError(IatrogenicError, TypeError):
    """A column has a dtype that cannot hold the values it should (e.g. text in a score column)."""


class InvalidValueError(IatrogenicError, ValueError):
    """A column holds values that cannot be used (infinite scores, missing patient ids...)."""


class DuplicateRowsError(IatrogenicError, ValueError):
    """More than one row for the same patient and occasion."""


class OutOfRangeError(IatrogenicError, ValueError):
    """Scores fall outside the instrument's possible range."""


class IatrogenicWarning(UserWarning):
    """Base class of the warnings iatrogenic emits."""


class DataQualityWarning(IatrogenicWarning):
    """The input is usable but something in it deserves a look (e.g. many patients excluded)."""


class ConvergenceWarning(IatrogenicWarning):
    """A model fit did not converge; the fitted object records the details."""


class SingularFitWarning(IatrogenicWarning):
    """A model fit converged on the boundary: a variance is 0 or a correlation is +-1.

    The estimates are a verified optimum (not a failure), but the random-effects structure is
    richer than the data support (lme4's "boundary (singular) fit").
    """
