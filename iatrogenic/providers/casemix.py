"""Case-mix adjustment: a logistic model of a patient outcome on intake severity and covariates.

The expected probability of each patient's outcome, given who the patient is at intake, comes
from one logistic regression fitted over all patients of all therapists. A therapist's expected
count is the sum of its patients' probabilities (indirect standardisation), so that the
observed / expected ratio compares the therapist with what the whole service would achieve with
the same patients.

Why statsmodels' GLM and not scikit-learn's ``LogisticRegression``: the GLM (Binomial family,
logit link, iteratively reweighted least squares) gives the exact, unpenalised maximum-likelihood
fit, with standard errors and convergence information to report. ``LogisticRegression`` applies an
L2 penalty by default (``C=1.0``), which shrinks the coefficients and so pulls the expected counts
of high- and low-risk caseloads towards the mean, biasing O/E exactly where case mix matters.
With an intercept, the unpenalised fit also has the property that the expected counts sum to the
observed count over all patients (the score equation of the intercept), so the service-wide O/E
is exactly 1.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ColumnTypeError, InvalidValueError

__all__ = ["CasemixModel", "fit_casemix"]

# A fitted probability this close to 0 or 1 means (quasi-)complete separation.
_SEPARATION_EPS = 1e-9


@dataclass(frozen=True)
class CasemixModel:
    """A fitted case-mix model.

    Attributes
    ----------
    coefficients_ : pandas.Series
        Log-odds coefficients, indexed ``intercept``, the numeric columns, then one
        ``<column>[<level>]`` per non-reference level of each categorical column.
    standard_errors_ : pandas.Series
        Their standard errors (from the observed information).
    probabilities_ : numpy.ndarray
        Fitted probability of each patient that entered the fit.
    columns : list of str
        The covariate columns, in order.
    levels : dict
        For each categorical column, its levels (the first is the reference).
    n_iterations_ : int
        IRLS iterations.
    """

    coefficients_: pd.Series
    standard_errors_: pd.Series
    probabilities_: np.ndarray
    columns: list[str]
    levels: dict[str, list[Any]] = field(default_factory=dict)
    n_iterations_: int = 0

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of the outcome for each row of ``frame`` (which holds ``columns``)."""
        x = _design(frame, self.columns, self.levels)
        eta = x @ self.coefficients_.to_numpy()
        return np.asarray(1.0 / (1.0 + np.exp(-eta)))


def _is_categorical(series: pd.Series) -> bool:
    return bool(
        isinstance(series.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(series.dtype)
        or pd.api.types.is_string_dtype(series.dtype)
    )


def _design(frame: pd.DataFrame, columns: list[str], levels: dict[str, list[Any]]) -> np.ndarray:
    """Design matrix: intercept, numeric columns as they are, dummies for categorical ones."""
    blocks = [np.ones((len(frame), 1))]
    for column in columns:
        values = frame[column]
        if column in levels:
            codes = pd.Categorical(values, categories=levels[column]).codes
            dummies = codes[:, None] == np.arange(1, len(levels[column]))[None, :]
            blocks.append(dummies.astype(float))
        else:
            blocks.append(values.to_numpy(dtype=float)[:, None])
    return np.hstack(blocks)


def _patterns(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pattern id of each row of ``x`` and the first row of each pattern (vectorised)."""
    n = x.shape[0]
    key = np.zeros(n, dtype=np.int64)
    size = 1
    for j in range(1, x.shape[1]):
        codes, uniques = pd.factorize(x[:, j])
        if size * max(len(uniques), 1) >= 2**62:
            return np.arange(n), np.arange(n)
        key = key * len(uniques) + codes
        size *= max(len(uniques), 1)
        if size > n:  # more possible patterns than rows: compress the key as we go
            key, kept = pd.factorize(key)
            size = len(kept)
    pattern, uniques = pd.factorize(key)
    first = np.full(len(uniques), n, dtype=np.int64)
    np.minimum.at(first, pattern, np.arange(n))
    return pattern.astype(np.int64), first


def _newton_start(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray | None, max_iter: int = 30
) -> np.ndarray | None:
    """Starting values for statsmodels' IRLS by a plain numpy Newton-Raphson (or None).

    On a million patients statsmodels' IRLS spends most of its time in the first iterations;
    started here it confirms convergence in one, with the same estimates and standard errors.
    None (statsmodels starts on its own) when Newton does not converge, e.g. under separation.
    """
    w = np.ones(len(y)) if weights is None else weights
    beta = np.zeros(x.shape[1])
    with np.errstate(all="ignore"):
        for _ in range(max_iter):
            p = 1.0 / (1.0 + np.exp(-(x @ beta)))
            hessian = (x * (w * p * (1 - p))[:, None]).T @ x
            try:
                step = np.linalg.solve(hessian, x.T @ (w * (y - p)))
            except np.linalg.LinAlgError:
                return None
            beta = beta + step
            if not np.all(np.isfinite(beta)) or np.max(np.abs(beta)) > 50:
                return None
            if np.max(np.abs(step)) < 1e-10:
                return beta
    return None


def fit_casemix(
    frame: pd.DataFrame,
    *,
    outcome: str,
    columns: list[str],
    caller: str = "fit_casemix",
    keywords: dict[str, str] | None = None,
) -> CasemixModel:
    """Fit the logistic case-mix model of ``outcome`` on ``columns`` over the rows of ``frame``.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per patient; every row enters the fit (drop patients with a missing outcome or
        covariate before). Not modified.
    outcome : str
        Column of 0/1 (or boolean) outcomes.
    columns : list of str
        Covariates. Numeric (and boolean) columns enter linearly; text and categorical columns
        are dummy-coded against their first level (sorted, or the categories' order).
    caller : str
        Public function named in error messages.
    keywords : dict, optional
        For messages: the keyword that named each column (e.g. ``{"age": "casemix"}``).

    Returns
    -------
    CasemixModel

    Raises
    ------
    iatrogenic.exceptions.InvalidValueError
        The outcome is constant, a covariate is constant (or a categorical one has a single
        level), the covariates are collinear, the fit does not converge, or the outcome is
        (quasi-)completely separated by the covariates (fitted probabilities of 0 or 1).
    iatrogenic.exceptions.ColumnTypeError
        A covariate that is neither numeric nor categorical (e.g. dates).

    Notes
    -----
    ``logit P(y_i = 1) = b0 + sum_k b_k x_ik``, fitted by maximum likelihood with
    ``statsmodels.api.GLM(y, X, family=Binomial())`` (IRLS). When patients share covariate
    patterns (integer scores, categories) and there are at most half as many patterns as
    patients, the model is fitted on the patterns with their counts as ``freq_weights`` and
    their mean outcomes as response: the same likelihood up to a constant, hence the same
    estimates, standard errors and probabilities, much faster. IRLS starts from a numpy
    Newton-Raphson solution when that converges (statsmodels then confirms convergence in one
    iteration); otherwise statsmodels starts on its own. Separation is detected from
    statsmodels' ``PerfectSeparationWarning`` and ``ConvergenceWarning`` and from fitted
    probabilities within 1e-9 of 0 or 1.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"intake": rng.normal(15, 5, 400), "sex": rng.choice(["f", "m"], 400)})
    >>> df["y"] = rng.random(400) < 1 / (1 + np.exp(-(-3 + 0.1 * df["intake"])))
    >>> model = fit_casemix(df, outcome="y", columns=["intake", "sex"])
    >>> model.coefficients_.index.tolist()
    ['intercept', 'intake', 'sex[m]']
    >>> bool(np.isclose(model.probabilities_.sum(), df["y"].sum()))
    True
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import (
        ConvergenceWarning as SmConvergenceWarning,
    )
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    keywords = keywords or {}
    y = frame[outcome].to_numpy(dtype=float)
    if len(y) == 0:
        raise InvalidValueError(
            f"{caller}() has no patient with an outcome and complete case-mix covariates to fit "
            "the case-mix model. Suggestion: check the outcome and the casemix columns."
        )
    if np.all(y == y[0]):
        raise InvalidValueError(
            f"The outcome passed to {caller}() is {int(y[0])} for all {len(y)} scored patients, "
            "so no case-mix model can be fitted and every therapist's O/E is undefined. "
            "Suggestion: choose a more common outcome or pool more data."
        )

    levels: dict[str, list[Any]] = {}
    names = ["intercept"]
    for column in columns:
        values = frame[column]
        keyword = keywords.get(column, "casemix")
        if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
            numeric = values.to_numpy(dtype=float)
            if np.all(numeric == numeric[0]):
                raise InvalidValueError(
                    f"Case-mix column {column!r} (given as {keyword}=) passed to {caller}() is "
                    f"constant ({numeric[0]!r} for all {len(numeric)} patients in the fit), so "
                    "its coefficient cannot be estimated. Suggestion: drop it from casemix=."
                )
            names.append(column)
        elif _is_categorical(values):
            if isinstance(values.dtype, pd.CategoricalDtype):
                present = set(values.dropna().unique())
                level_list = [c for c in values.cat.categories if c in present]
            else:
                level_list = sorted(values.dropna().unique(), key=str)
            if len(level_list) < 2:
                raise InvalidValueError(
                    f"Case-mix column {column!r} (given as {keyword}=) passed to {caller}() has "
                    f"a single level ({level_list[0]!r}) among the patients in the fit, so its "
                    "effect cannot be estimated. Suggestion: drop it from casemix=."
                )
            levels[column] = level_list
            names.extend(f"{column}[{level}]" for level in level_list[1:])
        else:
            raise ColumnTypeError(
                f"Case-mix column {column!r} (given as {keyword}=) passed to {caller}() has "
                f"dtype {values.dtype}, which is neither numeric nor categorical. Suggestion: "
                "convert it, e.g. a date to the patient's age or year at intake."
            )

    x = _design(frame, columns, levels)
    # Collinearity: the rank of X'X (cheap for many rows and few columns).
    xtx = x.T @ x
    scale = np.sqrt(np.diag(xtx))
    rank = np.linalg.matrix_rank(xtx / np.outer(scale, scale), tol=1e-10)
    if rank < x.shape[1]:
        raise InvalidValueError(
            f"The case-mix covariates passed to {caller}() are collinear (design rank {rank} "
            f"< {x.shape[1]} terms: {names}); their effects cannot be separated. Suggestion: "
            "drop one of the redundant casemix= columns."
        )

    # Identical covariate patterns (integer scores, categories) are fitted once, with their
    # count as frequency weight and their mean outcome as response: the likelihood, estimates
    # and standard errors are exactly those of the patient-level fit.
    pattern, first = _patterns(x)
    grouped = len(first) <= len(y) // 2
    if grouped:
        count = np.bincount(pattern).astype(float)
        endog = np.bincount(pattern, weights=y) / count
        exog = x[first]
    else:
        count, endog, exog = None, y, x
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            start = _newton_start(exog, endog, count)
            result = sm.GLM(endog, exog, family=sm.families.Binomial(), freq_weights=count).fit(
                start_params=start
            )
        except Exception as exc:  # statsmodels < 0.14 raised PerfectSeparationError
            raise InvalidValueError(
                f"The case-mix model of {caller}() could not be fitted: {exc}. Suggestion: "
                "the outcome is probably separated by a covariate; drop or coarsen it."
            ) from exc
    p = np.asarray(result.fittedvalues, dtype=float)
    if grouped:
        p = p[pattern]
    params = np.asarray(result.params, dtype=float)
    bse = np.asarray(result.bse, dtype=float)
    separated = [w for w in caught if issubclass(w.category, PerfectSeparationWarning)]
    extreme = np.flatnonzero((p < _SEPARATION_EPS) | (p > 1 - _SEPARATION_EPS))
    if separated or len(extreme):
        # The separating term has the largest standard error (its likelihood is flat).
        worst = names[1 + int(np.nanargmax(bse[1:]))] if len(names) > 1 else "intercept"
        raise InvalidValueError(
            f"The outcome passed to {caller}() is (quasi-)completely separated by the case-mix "
            f"covariates: {len(extreme)} patients have a fitted probability of 0 or 1 and the "
            f"maximum-likelihood estimate does not exist (largest effect: {worst!r}). "
            "Suggestion: drop or coarsen that covariate, or merge its rare levels."
        )
    unconverged = [w for w in caught if issubclass(w.category, SmConvergenceWarning)]
    converged = bool(getattr(result, "converged", True))
    if unconverged or not converged or not np.all(np.isfinite(params)):
        raise InvalidValueError(
            f"The case-mix model of {caller}() did not converge "
            f"({result.fit_history.get('iteration', '?')} IRLS iterations); its expected "
            "counts would be unreliable. Suggestion: rescale numeric casemix= columns, merge "
            "rare levels of categorical ones, or drop covariates."
        )
    return CasemixModel(
        coefficients_=pd.Series(params, index=names, name="coefficient"),
        standard_errors_=pd.Series(bse, index=names, name="se"),
        probabilities_=p,
        columns=list(columns),
        levels=levels,
        n_iterations_=int(result.fit_history.get("iteration", 0)),
    )
