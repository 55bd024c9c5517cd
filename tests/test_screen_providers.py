"""ia.screen_providers: CUSUM signals and funnel outliers as events about therapists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
from iatrogenic.detectors import EVENT_COLUMNS, HARMS
from iatrogenic.detectors.registry import registered_names
from iatrogenic.exceptions import ColumnNotFoundError, ParameterTypeError

COLUMNS = ["therapist", "detector", "harm", "session", "level", "value", "threshold", "evidence"]


def _table(seed: int = 0, n: int = 1200) -> pd.DataFrame:
    """Per-patient table, 12 therapists; T3's patients have three times the risk of harm."""
    rng = np.random.default_rng(seed)
    tab = pd.DataFrame(
        {
            "patient": range(n),
            "therapist": np.repeat([f"T{i}" for i in range(12)], n // 12),
            "intake": rng.normal(15, 5, n),
        }
    )
    risk = 1 / (1 + np.exp(-(-2 + 0.05 * (tab["intake"] - 15))))
    risk[tab["therapist"] == "T3"] *= 3
    tab["harm"] = rng.random(n) < risk
    return tab


def _run(tab: pd.DataFrame, **kw):
    return ia.screen_providers(
        tab, therapist="therapist", outcome="harm", severity="intake", limit=3.0, **kw
    )


def test_columns_dtypes_and_harm() -> None:
    events = _run(_table())
    assert events.columns.tolist() == COLUMNS
    expected = {("therapist" if k == "patient" else k): v for k, v in EVENT_COLUMNS.items()}
    assert dict(events.dtypes.astype(str)) == expected
    assert "provider" in HARMS
    assert set(events["harm"]) == {"provider"}
    assert set(events["detector"]) == {"provider_cusum", "provider_funnel"}
    assert set(events["level"]) <= {"alarm", "warning"}
    assert events["evidence"].map(lambda e: isinstance(e, str) and len(e) > 20).all()
    assert np.isfinite(events["value"]).all() and np.isfinite(events["threshold"]).all()


def test_cusum_events_match_provider_cusum() -> None:
    tab = _table()
    events = _run(tab)
    _, signals = ia.provider_cusum(tab, therapist="therapist", outcome="harm",
                                   severity="intake", limit=3.0)
    cusum = events[events["detector"] == "provider_cusum"].reset_index(drop=True)
    assert len(cusum) == len(signals) > 0
    assert (cusum["level"] == "alarm").all()
    np.testing.assert_allclose(cusum["value"], signals["value"])
    assert (cusum["threshold"] == 3.0).all()
    assert cusum["therapist"].tolist() == signals["therapist"].tolist()
    assert cusum["session"].tolist() == signals["order"].tolist()
    # the harmful therapist signals; evidence gives O vs E so far, the odds ratio and h
    first = cusum[cusum["therapist"] == "T3"].iloc[0]
    assert "observed vs" in first["evidence"] and "odds ratio 2" in first["evidence"]
    assert "h = 3" in first["evidence"]


def test_funnel_events_match_therapist_outcomes() -> None:
    tab = _table()
    events = _run(tab)
    table = ia.therapist_outcomes(tab, therapist="therapist", outcome="harm", severity="intake",
                                  suppress=None)
    funnel = events[events["detector"] == "provider_funnel"].set_index("therapist")
    high = table[table["outlier"] == "high"].set_index("therapist")
    assert set(high.index) == {"T3"}
    assert (funnel.loc[high.index, "level"] == "alarm").all()
    np.testing.assert_allclose(funnel.loc[high.index, "value"], high["z_adjusted"])
    np.testing.assert_allclose(funnel.loc[high.index, "threshold"], high["upper998"])
    warn = table[(table["ratio"] > table["upper95"]) & (table["outlier"] != "high")]
    assert set(funnel.index[funnel["level"] == "warning"]) == set(warn["therapist"])
    text = funnel.loc["T3", "evidence"]
    assert "O/E" in text and "99.8% limit" in text and "observed vs" in text


def test_summary_names_the_therapists() -> None:
    events, therapists = _run(_table(), summary=True)
    assert len(therapists) == 12
    row = therapists.set_index("therapist").loc["T3"]
    assert row["worst_level"] == "alarm" and row["cusum_signals"] >= 1
    assert therapists["n_alarms"].sum() == (events["level"] == "alarm").sum()
    assert set(therapists["worst_level"]) <= {"alarm", "warning", "none"}


def test_deterministic_with_calibrated_limit_and_no_mutation() -> None:
    tab = _table(n=600)
    before = tab.copy(deep=True)
    kw = {"therapist": "therapist", "outcome": "harm", "severity": "intake", "arl": 200,
          "n_paths": 100}
    a = ia.screen_providers(tab, **kw)
    b = ia.screen_providers(tab, **kw)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs["cusum_limit"] == b.attrs["cusum_limit"]
    pd.testing.assert_frame_equal(tab, before)


def test_row_order_invariant() -> None:
    tab = _table()
    shuffled = tab.sample(frac=1.0, random_state=2)
    # the order of patients within a therapist comes from the patient ids (row order otherwise)
    tab["end"] = tab["patient"]
    shuffled = shuffled.assign(end=shuffled["patient"])
    kw = {"order": "end"}
    pd.testing.assert_frame_equal(_run(tab, **kw), _run(shuffled, **kw))


def test_long_data_example() -> None:
    data, _ = ia.datasets.simulate(n_patients=600, n_therapists=12, seed=5)
    events, therapists = ia.screen_providers(
        data, therapist="therapist", score="phq9", instrument="phq9", casemix="age",
        limit=3.0, summary=True,
    )
    assert events.columns.tolist() == COLUMNS
    assert len(therapists) == 12
    assert events.attrs["n_therapists"] == 12 and events.attrs["n_patients"] == 600


def test_errors_name_the_parameter() -> None:
    tab = _table(n=240)
    with pytest.raises(ColumnNotFoundError, match="therapist"):
        ia.screen_providers(tab, therapist="clinician", outcome="harm", severity="intake")
    with pytest.raises(ParameterTypeError, match="summary"):
        ia.screen_providers(tab, therapist="therapist", outcome="harm", severity="intake",
                            summary="yes")  # type: ignore[call-overload]


def test_not_a_patient_screen_detector() -> None:
    # provider events concern therapists; they live in screen_providers, not the registry
    assert not any(name.startswith("provider") for name in registered_names())
