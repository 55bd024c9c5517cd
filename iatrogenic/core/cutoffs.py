"""Clinical cut-offs: Jacobson & Truax's a, b, c and Hageman & Arrindell's "true" cut-offs.

``direction`` is ``+1`` when higher scores are better and ``-1`` when lower scores are better,
as in clinicalsignificance. ``sd_b`` is the SD used by cut-off b: Jacobson & Truax (1991, p. 13)
define b as two SDs *of the functional population* beyond its mean; clinicalsignificance 3.0.0
uses the clinical SD there. :func:`iatrogenic.reliable_change` passes the functional SD by default
(``cutoff_sd="functional"``) and the clinical SD with ``cutoff_sd="clinical"``.

Examples
--------
>>> round(cutoff_jt("c", m_clinical=35.475, sd_clinical=8.1586, m_functional=7.69,
...                 sd_functional=7.52, direction=-1), 2)
21.02
"""

from __future__ import annotations

import math

from ..exceptions import ParameterError

__all__ = ["cutoff_ha", "cutoff_jt"]


def cutoff_jt(
    kind: str,
    *,
    m_clinical: float,
    sd_clinical: float,
    m_functional: float | None = None,
    sd_functional: float | None = None,
    direction: int = -1,
    sd_b: float | None = None,
) -> float:
    """Jacobson & Truax (1991) cut-off ``a``, ``b`` or ``c``.

    - a: ``m_clinical + direction * 2 * sd_clinical`` (two SDs beyond the clinical mean, in the
      better direction);
    - b: ``m_functional - direction * 2 * sd_b`` (two SDs short of the functional mean; ``sd_b``
      defaults to ``sd_functional``, as in JT 1991);
    - c: ``(sd_clinical * m_functional + sd_functional * m_clinical) / (sd_clinical +
      sd_functional)`` (the point between the two means weighted by the SDs).
    """
    if kind == "a":
        return float(m_clinical + direction * 2.0 * sd_clinical)
    if m_functional is None or sd_functional is None:
        raise ParameterError(
            "Cut-offs b and c need the mean and SD of a functional population: pass "
            "functional=(mean, sd)."
        )
    if kind == "b":
        spread = sd_functional if sd_b is None else sd_b
        return float(m_functional - direction * 2.0 * spread)
    return float(
        (sd_clinical * m_functional + sd_functional * m_clinical) / (sd_clinical + sd_functional)
    )


def cutoff_ha(
    kind: str,
    *,
    m_clinical: float,
    sd_clinical: float,
    reliability_clinical: float,
    m_functional: float | None = None,
    sd_functional: float | None = None,
    reliability_functional: float | None = None,
    direction: int = -1,
    use_clinical_for_b: bool = False,
) -> float:
    """Hageman & Arrindell (1999) "true score" cut-offs: JT's formulas with ``sd * sqrt(r_xx)``.

    ``reliability_clinical`` and ``reliability_functional`` are the Hageman & Arrindell
    reliabilities of each sample, ``(sd**2 - SE**2) / sd**2`` with one common SE of measurement.
    Cut-off b uses the functional true-score SD unless ``use_clinical_for_b`` (as
    clinicalsignificance does).
    """
    true_clinical = sd_clinical * math.sqrt(reliability_clinical)
    if kind == "a":
        return float(m_clinical + direction * 2.0 * true_clinical)
    if m_functional is None or sd_functional is None or reliability_functional is None:
        raise ParameterError(
            "Cut-offs b and c need the mean and SD of a functional population: pass "
            "functional=(mean, sd)."
        )
    true_functional = sd_functional * math.sqrt(reliability_functional)
    if kind == "b":
        spread = true_clinical if use_clinical_for_b else true_functional
        return float(m_functional - direction * 2.0 * spread)
    return float(
        (true_clinical * m_functional + true_functional * m_clinical)
        / (true_clinical + true_functional)
    )
