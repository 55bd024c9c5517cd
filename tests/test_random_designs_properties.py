"""The random designs of the lme4 comparison, fed to the engines built on the growth model.

``tests/refs/lme4_designs`` holds 129 generated designs (balanced and unbalanced, missing
sessions, singular and near-singular truths, unmodelled therapists...; see its README). The
growth fits themselves are compared with lme4 in ``test_growth_random_designs.py``; here the
designs feed ``worsening_trajectory`` and ``fit_expected_response``, whose results must not
depend on row order or patient ids.
"""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import REFS_DIR
from numpy.testing import assert_allclose

import iatrogenic as ia
from iatrogenic.detectors.worsening_trajectory import WorseningTrajectory
from iatrogenic.exceptions import InvalidValueError, SingularFitWarning

DESIGN_DIR = REFS_DIR / "lme4_designs"
DESIGNS = json.loads((DESIGN_DIR / "designs.json").read_text())
# the smaller designs of every family (the detector refits at every occasion)
SMALL = [d for d in DESIGNS if d["n_patients"] <= 400 and d["time_transform"] != "quadratic"]
CHOSEN = [d for i, d in enumerate(sorted(SMALL, key=lambda d: d["id"])) if i % 3 == 0]


def _load(design: dict) -> pd.DataFrame:
    return pd.read_csv(DESIGN_DIR / design["file"])


def _relabelled(data: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    ids = data["patient"].unique()
    mapping = {old: f"p{code:05d}" for old, code in zip(ids, rng.permutation(len(ids)),
                                                         strict=True)}
    other = data.assign(patient=data["patient"].map(mapping))
    return other.sample(frac=1.0, random_state=seed).reset_index(drop=True), mapping


def test_enough_designs_are_chosen():
    assert len(CHOSEN) >= 15
    assert len({d["family"] for d in CHOSEN}) >= 8


@pytest.mark.parametrize("design", CHOSEN, ids=[d["id"] for d in CHOSEN])
def test_worsening_trajectory_ignores_row_order_and_ids(design):
    data = _load(design)
    detector = [WorseningTrajectory()]
    first = ia.screen(data, detectors=detector)
    other, mapping = _relabelled(data, design["seed"])
    second = ia.screen(other, detectors=detector)
    first = first.assign(patient=first["patient"].map(mapping))
    key = ["patient", "session"]
    first = first.sort_values(key, ignore_index=True)
    second = second.sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(first[key], second[key], check_dtype=False)
    assert_allclose(second["value"], first["value"], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("design", CHOSEN, ids=[d["id"] for d in CHOSEN])
def test_expected_response_ignores_row_order_and_ids(design):
    data = _load(design).dropna(subset=["score"])
    if (data["session"] <= 0).any():
        data = data.assign(session=data["session"] - data["session"].min() + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        try:
            first = ia.fit_expected_response(data, better="lower")
        except InvalidValueError as error:  # the same refusal whatever the order
            other, _ = _relabelled(data, design["seed"])
            with pytest.raises(InvalidValueError, match=re.escape(str(error).split(":")[0])):
                ia.fit_expected_response(other, better="lower")
            return
        other, mapping = _relabelled(data, design["seed"])
        second = ia.fit_expected_response(other, better="lower")
    probe = data.assign(patient=data["patient"].map(mapping))
    a = first.track(probe).sort_values(["patient", "session"], ignore_index=True)
    b = second.track(probe).sort_values(["patient", "session"], ignore_index=True)
    numeric = a.select_dtypes("number").columns
    assert_allclose(b[numeric].to_numpy(float), a[numeric].to_numpy(float), rtol=1e-6,
                    atol=1e-8)
    assert (a["signal"] == b["signal"]).all()
