"""``ia.screen_providers``: the provider-level counterpart of :func:`iatrogenic.screen`.

The patient screen's events concern one patient at one session. A provider signal concerns a
therapist: it rests on the outcomes of many patients and on a case-mix model fitted over the
whole service. :func:`screen_providers` returns such signals in the screen's event columns, with
``therapist`` in place of ``patient``: one event per risk-adjusted CUSUM signal
(:func:`iatrogenic.providers.cusum.provider_cusum`) and one per funnel outlier
(:func:`iatrogenic.providers.therapists.therapist_outcomes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from ..detectors.base import EVENT_COLUMNS, label
from ..exceptions import IatrogenicError
from .cusum import provider_cusum
from .therapists import DROPOUT_VALUES, therapist_outcomes

if TYPE_CHECKING:
    from .detector import ProviderDetector

__all__ = ["PROVIDER_EVENT_COLUMNS", "provider_events", "screen_providers"]

#: Columns of the provider event table: the screen's, with ``therapist`` for ``patient``.
PROVIDER_EVENT_COLUMNS: dict[str, str] = {
    ("therapist" if key == "patient" else key): dtype for key, dtype in EVENT_COLUMNS.items()
}

_HARM = "provider"


def _fmt(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if np.isfinite(value) else "n/a"


def screen_providers(
    data: pd.DataFrame,
    *,
    therapist: str,
    outcome: str = "reliable_deterioration",
    casemix: str | Sequence[str] | None = None,
    odds_ratio: float = 2.0,
    limit: float | None = None,
    arl: float = 2000.0,
    order: str | None = None,
    seed: int = 0,
    n_paths: int = 500,
    min_patients: int = 10,
    od_adjust: bool = True,
    sr_method: str = "CQC",
    trim_by: float = 0.1,
    severity: str | None = "first",
    patient: str = "patient",
    time: str = "session",
    score: str = "score",
    instrument: Any = None,
    better: str | None = None,
    method: str = "JT",
    reliability: float | None = None,
    sd: float | None = None,
    cutoff: Any = None,
    detector: str | None = None,
    ending: str | None = None,
    dropout: Sequence[Any] = DROPOUT_VALUES,
    screen_options: Mapping[str, Any] | None = None,
    summary: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Screen therapists for harm: CUSUM signals and funnel outliers as events.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data (one row per patient and occasion), or a per-patient table when ``outcome``
        names a column. Not modified.
    therapist : str
        Column of the treating therapist (one per patient).
    outcome : str, default "reliable_deterioration"
        The patient outcome counted as harm (see
        :func:`iatrogenic.providers.therapists.patient_outcomes`).
    casemix : str or list of str, optional
        Case-mix covariates besides intake severity.
    odds_ratio, limit, arl, order, n_paths
        The CUSUM, as in :func:`iatrogenic.providers.cusum.provider_cusum`.
    seed : int, default 0
        Seed of the calibration of the CUSUM limit; fixed by default, so that the same data
        always give the same events.
    min_patients, od_adjust, sr_method, trim_by
        The funnel, as in :func:`iatrogenic.providers.therapists.therapist_outcomes` (99.8%
        limits for alarms, 95% for warnings).
    severity, patient, time, score, instrument, better, method, reliability, sd, cutoff,
    detector, ending, dropout, screen_options
        As in :func:`iatrogenic.providers.therapists.patient_outcomes`.
    summary : bool, default False
        Also return the therapist table of
        :func:`~iatrogenic.providers.therapists.therapist_outcomes` (unsuppressed) with the
        columns ``worst_level``, ``n_alarms``, ``n_warnings`` and ``cusum_signals``.

    Returns
    -------
    events : pandas.DataFrame
        One row per event, sorted by therapist, then session, then detector:

        - ``therapist``: the therapist id.
        - ``detector``: ``"provider_cusum"`` (a CUSUM signal) or ``"provider_funnel"`` (a high
          funnel outlier).
        - ``harm``: ``"provider"``.
        - ``session``: the ``order`` value (by default the last occasion) of the patient at
          which the CUSUM signalled; for a funnel event, the largest ``order`` value among the
          therapist's patients (the end of the period the funnel covers).
        - ``level``: ``"alarm"`` for a CUSUM signal or a ratio above the 99.8% limit,
          ``"warning"`` for a ratio above the 95% limit only.
        - ``value``: the CUSUM value ``S_t``, or the funnel's ``z_adjusted``.
        - ``threshold``: the control limit ``h``, or the upper limit crossed (on the O/E
          scale).
        - ``evidence``: in words: observed against expected harm over the therapist's patients
          so far, the odds ratio tested and the in-control ARL (CUSUM); O, E, O/E and the limits
          (funnel).

        ``attrs`` holds ``cusum_limit``, ``odds_ratio``, ``arl``, ``arl_estimate``, the
        funnel's ``phi``, ``tau2``, ``adjusted``, ``n_therapists`` and ``n_patients``.
    therapists : pandas.DataFrame
        Only with ``summary=True``: one row per therapist (see above).

    Raises
    ------
    iatrogenic.exceptions.ParameterTypeError
        ``summary`` not a boolean.
    iatrogenic.exceptions.IatrogenicError
        As :func:`~iatrogenic.providers.therapists.therapist_outcomes` and
        :func:`~iatrogenic.providers.cusum.provider_cusum`.

    See Also
    --------
    iatrogenic.screen : the patient-level screen.
    iatrogenic.providers.cusum.provider_cusum, iatrogenic.providers.therapists.therapist_outcomes

    Notes
    -----
    This runs the registered ``provider`` detector
    (:class:`~iatrogenic.providers.detector.ProviderDetector`, ``unit="therapist"``). The
    patient screen :func:`iatrogenic.screen` does not: every detector there returns events about
    a patient at a session, computed causally from that patient's data up to the session, while
    a provider signal concerns a therapist and depends on other patients' outcomes and on a
    case-mix model fitted over the whole service.

    Examples
    --------
    >>> import iatrogenic as ia
    >>> data, _ = ia.datasets.simulate(n_patients=600, n_therapists=12, seed=5)
    >>> events = ia.screen_providers(data, therapist="therapist", score="phq9",
    ...                              instrument="phq9", casemix="age", limit=3.0)
    >>> events.columns.tolist()
    ['therapist', 'detector', 'harm', 'session', 'level', 'value', 'threshold', 'evidence']
    >>> set(events["harm"]) <= {"provider"}
    True
    """
    from .detector import ProviderDetector

    try:
        settings = ProviderDetector(
            outcome=outcome, casemix=casemix, odds_ratio=odds_ratio, limit=limit, arl=arl,
            order=order, seed=seed, n_paths=n_paths, min_patients=min_patients,
            od_adjust=od_adjust, sr_method=sr_method, trim_by=trim_by, severity=severity,
            method=method, reliability=reliability, sd=sd, cutoff=cutoff, detector=detector,
            ending=ending, dropout=dropout, screen_options=screen_options,
        )
    except IatrogenicError as error:
        # the same checks, reported in the terms of the function the caller called
        message = str(error).replace("ProviderDetector()", "screen_providers()")
        raise type(error)(message) from None
    return settings.screen(
        data, therapist=therapist, patient=patient, time=time, score=score,
        instrument=instrument, better=better, summary=summary,
    )


def provider_events(
    data: pd.DataFrame,
    settings: ProviderDetector,
    *,
    therapist: str,
    patient: str,
    time: str,
    score: str,
    instrument: Any,
    better: str | None,
    summary: bool,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """The computation behind :func:`screen_providers`, with validated ``settings``."""
    outcome = settings.outcome
    common: dict[str, Any] = {
        "therapist": therapist, "outcome": outcome, "casemix": settings.casemix,
        "severity": settings.severity, "patient": patient, "time": time, "score": score,
        "instrument": instrument, "better": better, "method": settings.method,
        "reliability": settings.reliability, "sd": settings.sd, "cutoff": settings.cutoff,
        "detector": settings.detector, "ending": settings.ending, "dropout": settings.dropout,
        "screen_options": settings.screen_options,
    }
    table, patients = cast(
        "tuple[pd.DataFrame, pd.DataFrame]",
        therapist_outcomes(
            data, min_patients=settings.min_patients, suppress=None, limit=99,
            od_adjust=settings.od_adjust, sr_method=settings.sr_method,
            trim_by=settings.trim_by, return_patients=True, **common,
        ),
    )
    result = provider_cusum(
        data, odds_ratio=settings.odds_ratio, limit=settings.limit, arl=settings.arl,
        order=settings.order, seed=settings.seed, n_paths=settings.n_paths, **common,
    )
    path, h = result.path, result.limit
    arl_text = (
        f"in-control ARL {result.arl:g} patients" if result.arl is not None
        else f"limit h = {h:g} given"
    )

    # ---- CUSUM signals ----------------------------------------------------------------------
    y = path["y"].to_numpy(dtype=float)
    p = path["p"].to_numpy(dtype=float)
    groups = path["therapist"].to_numpy(dtype=object)
    cum_o = pd.Series(np.nan_to_num(y)).groupby(groups, sort=False).cumsum().to_numpy()
    cum_e = pd.Series(np.nan_to_num(p)).groupby(groups, sort=False).cumsum().to_numpy()
    cum_n = pd.Series(np.isfinite(y).astype(int)).groupby(groups, sort=False).cumsum().to_numpy()
    values = path["cusum"].to_numpy(dtype=float)
    orders = path["order"].to_numpy(dtype=object)
    ids = path["patient"].to_numpy(dtype=object)
    ranks = path["n"].to_numpy(dtype=np.int64)
    rows: list[dict[str, Any]] = []
    for i in np.flatnonzero(path["signal"].to_numpy(dtype=bool)).tolist():
        o, e = float(cum_o[i]), float(cum_e[i])
        ratio = o / e if e > 0 else np.nan
        rows.append(
            {
                "therapist": groups[i],
                "detector": "provider_cusum",
                "harm": _HARM,
                "session": orders[i],
                "level": "alarm",
                "value": float(values[i]),
                "threshold": float(h),
                "evidence": (
                    f"risk-adjusted CUSUM {values[i]:.2f} >= h = {h:.2f} at patient "
                    f"{label(ids[i])} (no. {int(ranks[i])} of the therapist's patients, order "
                    f"{label(orders[i])}): {o:g} observed vs {_fmt(e)} expected ({outcome}) "
                    f"over {int(cum_n[i])} scored patients so far (O/E {_fmt(ratio)}); tests "
                    f"odds ratio {result.odds_ratio:g} against 1, {arl_text}"
                ),
                "_key": float(i),
            }
        )

    # ---- funnel outliers --------------------------------------------------------------------
    last_order = path.groupby("therapist", sort=False)["order"].max()
    on_funnel = table["z_adjusted"].notna().to_numpy()
    for j in np.flatnonzero(on_funnel):
        row = table.iloc[j]
        ratio = float(row["ratio"])
        high998 = row["outlier"] == "high"
        high95 = ratio > float(row["upper95"])
        if not (high998 or high95):
            continue
        crossed = float(row["upper998"] if high998 else row["upper95"])
        rows.append(
            {
                "therapist": row["therapist"],
                "detector": "provider_funnel",
                "harm": _HARM,
                "session": last_order.get(row["therapist"], None),
                "level": "alarm" if high998 else "warning",
                "value": float(row["z_adjusted"]),
                "threshold": crossed,
                "evidence": (
                    f"{int(row['observed'])} observed vs {_fmt(float(row['expected']))} "
                    f"expected ({outcome}) over {int(row['n_scored'])} scored patients: O/E "
                    f"{_fmt(ratio)} above the funnel's "
                    f"{'99.8%' if high998 else '95%'} limit {_fmt(crossed)} (95% limits "
                    f"{_fmt(float(row['lower95']))}-{_fmt(float(row['upper95']))}, 99.8% limits "
                    f"{_fmt(float(row['lower998']))}-{_fmt(float(row['upper998']))}; "
                    f"z adjusted {_fmt(float(row['z_adjusted']))})"
                ),
                "_key": np.inf,
            }
        )

    events = _event_frame(rows, table["therapist"])
    events.attrs.update(
        cusum_limit=float(h), odds_ratio=result.odds_ratio, arl=result.arl,
        arl_estimate=result.arl_estimate, phi=table.attrs.get("phi"),
        tau2=table.attrs.get("tau2"), adjusted=table.attrs.get("adjusted"),
        n_therapists=len(table), n_patients=len(patients),
    )
    if not summary:
        return events
    return events, _therapist_summary(table, events, path)


def _event_frame(rows: list[dict[str, Any]], therapists: pd.Series) -> pd.DataFrame:
    columns = list(PROVIDER_EVENT_COLUMNS)
    if not rows:
        return pd.DataFrame(
            {col: pd.Series(dtype=dtype) for col, dtype in PROVIDER_EVENT_COLUMNS.items()}
        )
    frame = pd.DataFrame(rows)
    code = pd.Index(therapists).get_indexer(pd.Index(frame["therapist"]))
    frame = frame.assign(_code=code).sort_values(
        ["_code", "_key", "detector"], kind="stable"
    )
    frame["session"] = frame["session"].astype(object)
    return frame.loc[:, columns].reset_index(drop=True).astype(PROVIDER_EVENT_COLUMNS)


def _therapist_summary(
    table: pd.DataFrame, events: pd.DataFrame, path: pd.DataFrame
) -> pd.DataFrame:
    out = table.copy()
    ids = pd.Index(out["therapist"])
    code = ids.get_indexer(pd.Index(events["therapist"]))
    alarm = (events["level"] == "alarm").to_numpy()
    n_alarms = np.bincount(code[alarm], minlength=len(ids))
    n_warnings = np.bincount(code[~alarm], minlength=len(ids))
    signals = path.loc[path["signal"], "therapist"].value_counts()
    out["worst_level"] = np.where(
        n_alarms > 0, "alarm", np.where(n_warnings > 0, "warning", "none")
    )
    out["n_alarms"] = n_alarms
    out["n_warnings"] = n_warnings
    out["cusum_signals"] = signals.reindex(ids, fill_value=0).to_numpy(dtype=np.int64)
    return out
