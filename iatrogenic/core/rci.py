"""Reliable change indices: pure numpy formulas, one function per method.

Every function takes arrays of pre and post scores (NaN allowed, it propagates) and the
constants the method needs, and returns ``(rci, constants)``: the index for each element and a
dict of the derived constants (standard errors, reliabilities) under the names that
:func:`iatrogenic.reliable_change` stores on ``result.attrs``.

The formulas follow clinicalsignificance 3.0.0 (Claus, R package), whose references are
Jacobson & Truax (1991) for JT, Hsu (1989, 1995) for GLN and HLL, Speer (1992) for EN,
Nunnally & Kotsch (1983) for NK and Hageman & Arrindell (1999) for HA; see
``docs/reliable-change.md``. Sample means and SDs are computed by the caller over the patients
that have both scores.

Examples
--------
>>> import numpy as np
>>> rci, consts = rci_jt(np.array([20.0]), np.array([10.0]), sd=7.5, reliability=0.89)
>>> round(float(rci[0]), 3), round(consts["s_diff"], 3)
(-2.843, 3.518)
>>> round(critical_difference(7.5, 0.89), 3)
6.895
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri

__all__ = [
    "critical_difference",
    "critical_value",
    "ha_reliability",
    "rci_en",
    "rci_gln",
    "rci_ha",
    "rci_hll",
    "rci_jt",
    "rci_nk",
    "s_diff",
    "se_measurement",
    "se_prediction",
]

Constants = dict[str, float]


def se_measurement(sd: float, reliability: float) -> float:
    """Standard error of measurement, ``sd * sqrt(1 - r)``."""
    return float(sd * math.sqrt(1.0 - reliability))


def s_diff(sd: float, reliability: float) -> float:
    """Standard error of the difference of two scores, ``sqrt(2) * SE_measurement``."""
    return float(math.sqrt(2.0 * se_measurement(sd, reliability) ** 2))


def se_prediction(sd: float, reliability: float) -> float:
    """Standard error of prediction, ``sd * sqrt(1 - r**2)`` (Hsu 1989)."""
    return float(sd * math.sqrt(1.0 - reliability**2))


def ha_reliability(sd: float, se: float) -> float:
    """Hageman & Arrindell's reliability of a sample with SD ``sd``: ``(sd**2 - se**2) / sd**2``."""
    return float((sd**2 - se**2) / sd**2)


def critical_value(alpha: float = 0.05, *, one_sided: bool = False) -> float:
    """The standard-normal quantile ``z_{1 - alpha/2}`` (or ``z_{1 - alpha}`` when one-sided).

    Examples
    --------
    >>> round(critical_value(0.05), 4), round(critical_value(0.05, one_sided=True), 4)
    (1.96, 1.6449)
    """
    return float(ndtri(1.0 - alpha if one_sided else 1.0 - alpha / 2.0))


def critical_difference(sd: float, reliability: float, *, alpha: float = 0.05) -> float:
    """Change in points needed for a reliable change by the Jacobson & Truax criterion.

    ``z_{1 - alpha/2} * sd * sqrt(2 * (1 - reliability))``: a change at least this large (in
    absolute value) has ``|RCI| >= z``.

    Parameters
    ----------
    sd : float
        Standard deviation of the scores (normally of a clinical sample at intake).
    reliability : float
        Reliability of the instrument, in [0, 1).
    alpha : float, default 0.05
        Two-sided significance level.

    Returns
    -------
    float

    Examples
    --------
    >>> round(critical_difference(5.0, 0.84), 2)
    5.54
    """
    return critical_value(alpha) * float(sd) * math.sqrt(2.0 * (1.0 - float(reliability)))


def rci_jt(
    pre: np.ndarray, post: np.ndarray, *, sd: float, reliability: float
) -> tuple[np.ndarray, Constants]:
    """Jacobson & Truax (1991): ``(post - pre) / S_diff``, ``S_diff = sqrt(2) sd sqrt(1 - r)``."""
    sem = se_measurement(sd, reliability)
    sdiff = math.sqrt(2.0 * sem**2)
    return (post - pre) / sdiff, {"se_measurement": sem, "s_diff": sdiff}


def rci_gln(
    pre: np.ndarray, post: np.ndarray, *, sd: float, reliability: float, m_pre: float
) -> tuple[np.ndarray, Constants]:
    """Gulliksen, Lord & Novick (Hsu 1989, 1995): regression towards the pre mean.

    ``((post - m_pre) - r * (pre - m_pre)) / (sd * sqrt(1 - r**2))``.
    """
    sep = se_prediction(sd, reliability)
    rci = ((post - m_pre) - reliability * (pre - m_pre)) / sep
    return rci, {"se_prediction": sep}


def rci_hll(
    pre: np.ndarray,
    post: np.ndarray,
    *,
    sd: float,
    reliability: float,
    m_pre: float,
    m_post: float,
) -> tuple[np.ndarray, Constants]:
    """Hsu, Linn & Lord (Hsu 1989): like GLN but the post score is centred on the post mean.

    ``((post - m_post) - r * (pre - m_pre)) / (sd * sqrt(1 - r**2))``.
    """
    sep = se_prediction(sd, reliability)
    rci = ((post - m_post) - reliability * (pre - m_pre)) / sep
    return rci, {"se_prediction": sep}


def rci_en(
    pre: np.ndarray, post: np.ndarray, *, sd: float, reliability: float, m_pre: float
) -> tuple[np.ndarray, Constants]:
    """Edwards & Nunnally (Speer 1992): change from the estimated true pre score.

    ``(post - (r * (pre - m_pre) + m_pre)) / (sd * sqrt(1 - r))``.
    """
    sem = se_measurement(sd, reliability)
    rci = (post - (reliability * (pre - m_pre) + m_pre)) / sem
    return rci, {"se_measurement": sem}


def rci_nk(
    pre: np.ndarray,
    post: np.ndarray,
    *,
    sd: float,
    reliability: float,
    reliability_post: float,
    m_pre: float,
) -> tuple[np.ndarray, Constants]:
    """Nunnally & Kotsch (1983): estimated true pre score, pre and post reliabilities.

    ``(post - (r * (pre - m_pre) + m_pre)) / sqrt(r**2 sd**2 (1 - r) + sd**2 (1 - r_post))``.
    """
    denominator = math.sqrt(
        reliability**2 * sd**2 * (1.0 - reliability) + sd**2 * (1.0 - reliability_post)
    )
    rci = (post - (reliability * (pre - m_pre) + m_pre)) / denominator
    return rci, {"se_nk": denominator}


def rci_ha(
    pre: np.ndarray,
    post: np.ndarray,
    *,
    sd: float,
    reliability: float,
    m_pre: float,
    m_post: float,
    sd_post: float,
    correlation: float,
) -> tuple[np.ndarray, Constants]:
    """Hageman & Arrindell (1999): RC_indiv with the reliability of the difference ``r_dd``.

    With ``SE = sd * sqrt(1 - r)``, ``r_xx = (sd**2 - SE**2) / sd**2`` at pre and post and the
    pre-post correlation ``rho``:
    ``r_dd = (sd_pre**2 r_pre + sd_post**2 r_post - 2 sd_pre sd_post rho)
    / (sd_pre**2 + sd_post**2 - 2 sd_pre sd_post rho)`` and
    ``RC = ((post - pre) r_dd + (m_post - m_pre)(1 - r_dd)) / (sqrt(r_dd) sqrt(2) SE)``.
    """
    sem = se_measurement(sd, reliability)
    r_pre = ha_reliability(sd, sem)
    r_post = ha_reliability(sd_post, sem)
    cross = 2.0 * sd * sd_post * correlation
    r_dd = (sd**2 * r_pre + sd_post**2 * r_post - cross) / (sd**2 + sd_post**2 - cross)
    # r_dd <= 0 (post scores no more variable than the error) leaves the index undefined.
    root = math.sqrt(r_dd) if r_dd > 0 else math.nan
    rci = ((post - pre) * r_dd + (m_post - m_pre) * (1.0 - r_dd)) / (root * math.sqrt(2.0 * sem**2))
    return rci, {"se_measurement": sem, "r_dd": float(r_dd), "reliability_post_ha": r_post}
