"""The worsening_trajectory detector: causal growth-model slopes credibly on the harmful side."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

import iatrogenic as ia
import iatrogenic.exceptions as exc
from iatrogenic.core.growth import fit_growth
from iatrogenic.detectors import EVENT_COLUMNS
from iatrogenic.detectors.worsening_trajectory import WorseningTrajectory


def cohort(seed: int = 2, n: int = 60, sessions: int = 10) -> pd.DataFrame:
    """Most patients improve by 1 point per session; patients w00..w04 worsen by 1.5."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        worse = i < 5
        slope = 1.5 if worse else -1.0 + rng.normal(0, 0.3)
        start = rng.normal(18, 3)
        for s in range(1, sessions + 1):
            rows.append((f"{'w' if worse else 'p'}{i:02d}", s,
                         start + slope * (s - 1) + rng.normal(0, 1.5)))
    return pd.DataFrame(rows, columns=["patient", "session", "score"])


def screen(data: pd.DataFrame, **params) -> pd.DataFrame:
    return ia.screen(data, detectors=[WorseningTrajectory(**params)])


def test_flags_the_worsening_patients_once_each():
    events = screen(cohort())
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert set(events["patient"]) == {f"w{i:02d}" for i in range(5)}
    assert events["patient"].is_unique  # one spell each: an alarm at its first session
    assert (events["harm"] == "worsening_course").all() and (events["level"] == "alarm").all()
    assert (events["value"] > 0).all() and (events["threshold"] == 0).all()
    assert (events["session"].astype(int) >= 3).all()
    assert events["evidence"].str.contains("95% interval").all()


def test_event_matches_a_refit_on_the_data_so_far():
    data = cohort()
    events = screen(data)
    first = events.iloc[0]
    so_far = data[data["session"] <= first["session"]]
    model = fit_growth(so_far)
    eb = model.random_effects_.set_index("patient").loc[first["patient"]]
    slope = model.fixed_effects_["time"] + eb["time"]
    assert first["value"] == pytest.approx(slope, rel=1e-6)
    sd = np.sqrt(model.fixed_effects_se_["time"] ** 2 + eb["time_sd"] ** 2)
    assert slope - 1.959963984540054 * sd > 0
    # and not yet credible one session earlier
    earlier = data[data["session"] <= first["session"] - 1]
    assert first["patient"] not in set(screen(earlier)["patient"])


def test_causal_under_truncation():
    data = cohort(seed=5)
    full = screen(data)
    for t in (3, 4, 6, 8):
        truncated = screen(data[data["session"] <= t])
        expected = full[full["session"].astype(float) <= t].reset_index(drop=True)
        pd.testing.assert_frame_equal(truncated, expected)


def test_higher_is_better_mirrors():
    data = cohort()
    mirrored = data.assign(score=100 - data["score"])
    lower = screen(data)
    higher = ia.screen(mirrored, detectors=[WorseningTrajectory()], better="higher")
    assert lower["patient"].tolist() == higher["patient"].tolist()
    assert lower["session"].tolist() == higher["session"].tolist()
    np.testing.assert_allclose(higher["value"], -lower["value"], rtol=1e-6)


def test_min_sessions_and_alpha():
    data = cohort()
    late = screen(data, min_sessions=6)
    assert (late["session"].astype(int) >= 6).all()
    strict = screen(data, alpha=0.001)
    assert set(strict["patient"]) <= set(screen(data)["patient"])


def test_nothing_to_flag_in_improving_or_tiny_data():
    data = cohort()
    improving = data[data["patient"].str.startswith("p")]
    assert len(screen(improving)) == 0
    tiny = pd.DataFrame({"patient": [1, 1], "session": [1, 2], "score": [3.0, 5.0]})
    assert len(screen(tiny)) == 0


@pytest.mark.parametrize(
    ("params", "error"),
    [({"min_sessions": 1}, exc.ParameterError), ({"min_sessions": 2.5}, exc.ParameterTypeError),
     ({"alpha": 0.0}, exc.ParameterError), ({"alpha": "0.05"}, exc.ParameterTypeError)],
)
def test_bad_parameters(params, error):
    with pytest.raises(error, match=next(iter(params))):
        WorseningTrajectory(**params)
    with pytest.raises(TypeError):
        WorseningTrajectory(0.05)  # type: ignore[misc]


def test_contract_cohort_is_fast_and_finds_events():
    data, _ = ia.datasets.simulate(n_patients=120, n_therapists=6, seed=20261127)
    begin = time.perf_counter()
    events = ia.screen(data, detectors=[WorseningTrajectory()], score="phq9", instrument="phq9",
                       therapist="therapist")
    assert time.perf_counter() - begin < 3.0  # ~0.6 s on an idle 2-core machine
    assert len(events) > 0
    shuffled = data.sample(frac=1.0, random_state=3)
    again = ia.screen(shuffled, detectors=[WorseningTrajectory()], score="phq9",
                      instrument="phq9", therapist="therapist")
    pd.testing.assert_frame_equal(events, again)
