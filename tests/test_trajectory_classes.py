"""Tests of fit_trajectory_classes (latent-class growth analysis) against flexmix 2.3.18.

References: tests/refs/flexmix/ (made by tests/refs/scripts/flexmix_designs.py and
flexmix_refs.R; see the README there). flexmix is fitted with
``stepFlexmix(score ~ x1 (+ x2) | patient, k = 1:K, nrep = 20, model = <model>,
control = list(minprior = 0, tolerance = 1e-10, iter.max = 5000))``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score

import iatrogenic as ia
from iatrogenic.classes import TrajectoryClassModel, fit_trajectory_classes
from iatrogenic.classes import _engine as eng
from iatrogenic.exceptions import (
    ColumnNotFoundError,
    InvalidValueError,
    ParameterError,
    ParameterTypeError,
)

REFS = Path(__file__).parent / "refs" / "flexmix"
DESIGNS = pd.read_csv(REFS / "designs.csv")
SEED = 1234567890


def _data(design: str) -> pd.DataFrame:
    return pd.read_csv(REFS / "data" / f"{design}.csv")


def _design_row(design: str) -> pd.Series:
    return DESIGNS.set_index("design").loc[design]


def _summary(design: str, model: str) -> pd.DataFrame:
    return pd.read_csv(REFS / "out" / f"{design}_{model}_summary.csv")


def _coef(design: str, model: str) -> pd.DataFrame:
    return pd.read_csv(REFS / "out" / f"{design}_{model}_coef.csv")


_FITS: dict[tuple[str, str, int | None], TrajectoryClassModel] = {}


def _fit(design: str, variance: str, k: int | None = None) -> TrajectoryClassModel:
    key = (design, variance, k)
    if key not in _FITS:
        row = _design_row(design)
        _FITS[key] = fit_trajectory_classes(
            _data(design),
            n_classes=range(1, int(row.k_max) + 1) if k is None else k,
            time_transform=row.time_transform,
            variance=variance,
            seed=SEED,
        )
    return _FITS[key]


def _simulate(n: int = 400, s: int = 8, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    cls = rng.choice(3, n, p=[0.55, 0.35, 0.10])
    t = np.tile(np.arange(1, s + 1), n).astype(float)
    c = np.repeat(cls, s)
    b0 = np.array([19.0, 17.0, 15.0])[c]
    b1 = np.array([-5.0, -1.0, 3.0])[c]
    y = b0 + b1 * np.log(t) + rng.normal(0, 2.0, n * s)
    data = pd.DataFrame({"patient": np.repeat(np.arange(n), s), "session": t, "score": y})
    return data, cls


# ------------------------------------------------------------------------------------------------
# Against flexmix
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("design", DESIGNS["design"].tolist())
def test_loglik_against_flexmix(design: str) -> None:
    """Our maximised log-likelihood is at least flexmix's best (20 replications) - 1e-4."""
    ours_class = _fit(design, "class").selection_.set_index("n_classes")["loglik"]
    ours_equal = _fit(design, "equal").selection_.set_index("n_classes")["loglik"]
    # R: stepFlexmix(score ~ x | patient, k = 1:K, nrep = 20, model = FLXMRglm(), control = ...)
    glm = _summary(design, "glm").set_index("k")["logLik"]
    # R: the same with FLXMRglm_ml() (ML variance in the M-step)
    ml = _summary(design, "ml").set_index("k")["logLik"]
    # R: the same with FLXMRglmfix(varFix = TRUE) (one variance)
    fix = _summary(design, "fix").set_index("k")["logLik"]
    # R: the best ml solution polished with tolerance = 1e-14 (flexmix_polish.R)
    polished = _summary(design, "mlpolish").set_index("k")["logLik"]
    for k in glm.index:
        assert ours_class[k] >= max(glm[k], ml[k], polished[k]) - 1e-4, (design, k)
        assert ours_equal[k] >= fix[k] - 1e-4, (design, k)


def _match(ours: TrajectoryClassModel, ref: pd.DataFrame, k: int) -> np.ndarray:
    """flexmix's class of each of our classes (by the closest coefficients)."""
    ref = ref[(ref.k == k) & ~ref.term.isin(["sigma", "prior"])]
    rb = ref.pivot(index="class", columns="term", values="estimate").to_numpy()
    ob = ours._state.B
    cost = ((ob[:, None, :] - rb[None, :, :]) ** 2).sum(axis=2)
    _, col = linear_sum_assignment(cost)
    return col


@pytest.mark.parametrize("design", DESIGNS["design"].tolist())
def test_curves_and_posteriors_against_flexmix(design: str) -> None:
    """Where we and flexmix (ML variance, polished) reach the same optimum, all matches (1e-4).

    The reference is flexmix's best ML solution of 20 replications restarted from its own
    posterior with tolerance 1e-14 (flexmix_polish.R), so that flexmix's own EM is converged
    well beyond the 1e-4 compared here.
    """
    summ = _summary(design, "mlpolish").set_index("k")
    coef = _coef(design, "mlpolish")
    post = pd.read_csv(REFS / "out" / f"{design}_mlpolish_posterior.csv.gz")
    compared = 0
    for k in summ.index:
        ours = _fit(design, "class", int(k))
        ref_ll = summ.loc[k, "logLik"]
        # R: logLik(flexmix(f, data = d, k = k, cluster = <posterior>, model = FLXMRglm_ml(),
        #                   control = list(minprior = 0, tolerance = 1e-14, iter.max = 20000)))
        assert ours.loglik_ >= ref_ll - 1e-4, (design, k)
        if ours.loglik_ - ref_ll > 1e-6:
            continue  # ours is a higher optimum: nothing to match
        compared += 1
        col = _match(ours, coef, int(k))
        ref = coef[coef.k == k]
        for j in range(int(k)):
            r = ref[ref["class"] == col[j] + 1].set_index("term")["estimate"]
            # R: parameters(m)[, j]; prior(m)[j]
            rb = r.drop(["sigma", "prior"]).to_numpy()
            assert_allclose(ours._state.B[j], rb, atol=1e-4, rtol=1e-4)
            assert_allclose(np.sqrt(ours._state.s2[j]), r["sigma"], atol=1e-4, rtol=1e-4)
            assert_allclose(np.exp(ours._state.logpi[j]), r["prior"], atol=1e-4)
        # R: posterior(m)[!duplicated(d$patient), ]
        p = post[post.k == k].set_index("patient")
        mine = ours.posterior_.set_index("patient")
        for j in range(int(k)):
            assert_allclose(
                mine[f"p_class_{j + 1}"].to_numpy(),
                p.loc[mine.index, f"p{col[j] + 1}"].to_numpy(),
                atol=1e-4,
            )
        ref_s = summ.loc[k]
        sel = ours.selection_.iloc[0]
        # R: ICL(m) - BIC(m) = -2 sum_i log max_k posterior; EIC(m) is our relative entropy.
        # Sums over patients of posteriors matched to 1e-4: relative tolerance 1e-4.
        assert_allclose(sel.icl - sel.bic, ref_s.ICL - ref_s.BIC, rtol=1e-4, atol=1e-3)
        if k > 1:
            assert_allclose(sel.entropy, ref_s.EIC, atol=1e-4)
        # R: BIC(m), with nobs = rows: our log-likelihood and parameter count give it
        assert sel.n_parameters == ref_s.df
        assert_allclose(-2 * sel.loglik + sel.n_parameters * np.log(ref_s.nobs), ref_s.BIC,
                        atol=1e-3)
    assert compared >= 2, design


# ------------------------------------------------------------------------------------------------
# Standard errors, recovery
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variance", ["class", "equal"])
def test_standard_errors_against_numerical_hessian(variance: str) -> None:
    """Louis' observed information equals the numerical Hessian of the log-likelihood."""
    data, _ = _simulate(n=150, s=6, seed=7)
    model = fit_trajectory_classes(data, n_classes=2, seed=1, variance=variance)
    s = model._state
    t = data["session"].to_numpy()
    X = np.column_stack([np.ones(len(t)), np.log(t)])
    starts = np.flatnonzero(np.r_[True, np.diff(data["patient"].to_numpy()) != 0])
    st = eng.stats_from_rows(X, data["score"].to_numpy(), starts)
    K, p = s.B.shape
    nv = 1 if variance == "equal" else K

    def loglik(theta: np.ndarray) -> float:
        B = theta[: K * p].reshape(K, p)
        s2 = np.broadcast_to(theta[K * p : K * p + nv], (K,)).copy()
        eta = np.r_[0.0, theta[K * p + nv :]]
        par = eng.Params(B, s2, eta - np.log(np.exp(eta).sum()))
        return float(eng.posterior(eng.loglik_matrix(st, par)[0])[1].sum())

    theta = np.r_[s.B.ravel(), s.s2[:nv], (s.logpi - s.logpi[0])[1:]]
    d = len(theta)
    h = 1e-4 * np.maximum(1.0, np.abs(theta))
    H = np.zeros((d, d))
    for i in range(d):
        for j in range(d):
            ei, ej = np.eye(d)[i] * h[i], np.eye(d)[j] * h[j]
            H[i, j] = (
                loglik(theta + ei + ej) - loglik(theta + ei - ej)
                - loglik(theta - ei + ej) + loglik(theta - ei - ej)
            ) / (4 * h[i] * h[j])
    numerical = np.sqrt(np.diag(np.linalg.inv(-H)))
    assert_allclose(np.sqrt(np.diag(s.cov)), numerical, rtol=1e-4)
    assert_allclose(model.class_curves_["se"].to_numpy(), numerical[: K * p], rtol=1e-4)


def test_recovery_of_known_classes() -> None:
    data, truth = _simulate(n=600, s=8, seed=11)
    model = fit_trajectory_classes(data, n_classes=range(1, 6), seed=1)
    assert model.n_classes_ == 3
    ari = adjusted_rand_score(truth, model.posterior_["modal_class"].to_numpy(int))
    assert ari > 0.95
    curves = model.class_curves_.pivot(index="class", columns="term", values="estimate")
    true = np.array([[19.0, -5.0], [17.0, -1.0], [15.0, 3.0]])
    assert np.abs(curves[["intercept", "time"]].to_numpy() - true).max() < 0.5
    assert model.deteriorating_class_ == 3
    assert model.converged_


# ------------------------------------------------------------------------------------------------
# Behaviour
# ------------------------------------------------------------------------------------------------


def test_reproducible_with_seed() -> None:
    data, _ = _simulate(n=200, seed=5)
    a = fit_trajectory_classes(data, n_classes=range(1, 4), seed=42)
    b = fit_trajectory_classes(data, n_classes=range(1, 4), seed=42)
    pd.testing.assert_frame_equal(a.selection_, b.selection_)
    pd.testing.assert_frame_equal(a.posterior_, b.posterior_)
    pd.testing.assert_frame_equal(a.class_curves_, b.class_curves_)
    assert a.to_json() == b.to_json()


def test_no_mutation_and_row_order_invariance() -> None:
    data, _ = _simulate(n=200, seed=5)
    data["patient"] = "P" + data["patient"].astype(str).str.zfill(4)
    before = data.copy()
    a = fit_trajectory_classes(data, n_classes=range(1, 4), seed=1)
    pd.testing.assert_frame_equal(data, before)
    shuffled = data.sample(frac=1.0, random_state=0)
    b = fit_trajectory_classes(shuffled, n_classes=range(1, 4), seed=1)
    pd.testing.assert_frame_equal(a.selection_, b.selection_)
    pd.testing.assert_frame_equal(a.posterior_, b.posterior_)


def test_id_relabelling_invariance() -> None:
    data, _ = _simulate(n=200, seed=5)
    a = fit_trajectory_classes(data, n_classes=3, seed=1)
    relabel = data.assign(patient=(data["patient"] * 7919) % 100_003)  # reorders the patients
    b = fit_trajectory_classes(relabel, n_classes=3, seed=1)
    assert_allclose(b.loglik_, a.loglik_, rtol=1e-10)
    assert_allclose(b.class_curves_["estimate"], a.class_curves_["estimate"], atol=1e-6)
    pa = a.posterior_.set_index("patient")
    mapping = dict(zip((pa.index * 7919) % 100_003, pa.index, strict=True))
    pb = b.posterior_.assign(patient=b.posterior_["patient"].map(mapping)).set_index("patient")
    cols = ["p_class_1", "p_class_2", "p_class_3"]
    assert_allclose(pb.loc[pa.index, cols].to_numpy(), pa[cols].to_numpy(), atol=1e-6)


def test_predict_proba_uses_only_given_rows() -> None:
    data, _ = _simulate(n=200, seed=5)
    model = fit_trajectory_classes(data, n_classes=3, seed=1)
    full = model.predict_proba(data)
    cols = ["p_class_1", "p_class_2", "p_class_3"]
    assert_allclose(full[cols].to_numpy(), model.posterior_[cols].to_numpy(), atol=1e-12)
    early = data[data["session"] <= 3]
    one = early[early["patient"] == 5]
    alone = model.predict_proba(one)
    together = model.predict_proba(early).set_index("patient").loc[[5]]
    assert_allclose(alone[cols].to_numpy(), together[cols].to_numpy(), rtol=1e-12)
    assert alone["n_obs"].tolist() == [3]
    new = pd.DataFrame({"patient": ["a", "a", "b"], "session": [1, 2, 1],
                        "score": [20.0, np.nan, np.nan]})
    out = model.predict_proba(new)
    assert out["reason"].tolist() == [None, "no observed score"]
    assert pd.isna(out.loc[1, "modal_class"]) and np.isnan(out.loc[1, "p_class_1"])


def test_output_columns_as_documented() -> None:
    data, _ = _simulate(n=150, seed=5)
    model = fit_trajectory_classes(data, n_classes=range(1, 3), seed=1)
    assert model.selection_.columns.tolist() == [
        "n_classes", "loglik", "n_parameters", "bic", "icl", "entropy",
        "smallest_class_share", "converged", "n_iter", "n_starts", "n_degenerate", "message",
    ]
    K = model.n_classes_
    assert model.posterior_.columns.tolist() == (
        ["patient"] + [f"p_class_{k}" for k in range(1, K + 1)]
        + ["modal_class", "n_obs", "reason"]
    )
    assert model.class_curves_.columns.tolist() == [
        "class", "term", "estimate", "se", "ci_lower", "ci_upper"
    ]
    assert model.class_sizes_.columns.tolist() == ["class", "prior", "n_patients", "share"]
    assert model.class_changes_.columns.tolist() == [
        "class", "start", "end", "change", "harmful_change", "threshold", "worsening"
    ]
    assert model.selection_["n_classes"].tolist() == [1, 2]
    assert np.isnan(model.selection_["entropy"].iloc[0])
    assert len(model.posterior_) == data["patient"].nunique()


def test_patient_without_scores_keeps_row() -> None:
    data, _ = _simulate(n=100, seed=5)
    extra = pd.DataFrame({"patient": [999, 999], "session": [1, 2], "score": [np.nan, np.nan]})
    model = fit_trajectory_classes(pd.concat([data, extra]), n_classes=2, seed=1)
    row = model.posterior_.set_index("patient").loc[999]
    assert row["reason"] == "no observed score" and row["n_obs"] == 0
    assert np.isnan(row["p_class_1"]) and pd.isna(row["modal_class"])


def test_json_round_trip() -> None:
    data, _ = _simulate(n=150, seed=5)
    model = fit_trajectory_classes(data, n_classes=range(1, 4), seed=1, instrument=None)
    again = TrajectoryClassModel.from_json(model.to_json())
    for name in ("selection_", "posterior_", "class_curves_", "class_sizes_", "class_changes_"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(model, name))
    assert again.deteriorating_class_ == model.deteriorating_class_
    pd.testing.assert_frame_equal(again.predict_proba(data), model.predict_proba(data))
    with pytest.raises(ParameterError, match="GrowthModel"):
        TrajectoryClassModel.from_json(ia.fit_growth(data, random="intercept").to_json())


def test_deteriorating_class_direction_and_threshold() -> None:
    data, _ = _simulate(n=300, seed=5)
    lower = fit_trajectory_classes(data, n_classes=3, seed=1)
    assert lower.deteriorating_class_ == 3
    higher = fit_trajectory_classes(data, n_classes=3, seed=1, better="higher")
    ch = higher.class_changes_
    assert higher.deteriorating_class_ == int(ch.loc[ch.harmful_change.idxmax(), "class"])
    assert_allclose(ch.harmful_change, -lower.class_changes_.harmful_change)
    none = fit_trajectory_classes(data, n_classes=3, seed=1, deterioration=100.0)
    assert none.deteriorating_class_ is None
    phq = fit_trajectory_classes(data.assign(score=data.score.clip(0, 27)), n_classes=3, seed=1,
                                 instrument="phq9")
    inst = ia.instruments.get("phq9")
    assert inst.fixed_rule is not None
    assert_allclose(phq.class_changes_.threshold, inst.fixed_rule.points)  # 6 points


@pytest.mark.parametrize("transform", ["linear", "log1p", "quadratic", "piecewise"])
def test_other_time_transforms(transform: str) -> None:
    data, _ = _simulate(n=150, seed=5)
    knot = 4.0 if transform == "piecewise" else None
    model = fit_trajectory_classes(data, n_classes=2, time_transform=transform, knot=knot, seed=1)
    assert model.converged_
    n_terms = 3 if transform in ("quadratic", "piecewise") else 2
    assert len(model.class_curves_) == 2 * n_terms


def test_covariates_enter_class_curves() -> None:
    data, _ = _simulate(n=200, seed=5)
    arm = (data["patient"] % 2).map({0: "a", 1: "b"})
    model = fit_trajectory_classes(data.assign(arm=arm), n_classes=2, covariates="arm", seed=1)
    assert model.class_curves_["term"].tolist()[:4] == [
        "intercept", "time", "arm[T.b]", "arm[T.b]:time"
    ]
    out = model.predict_proba(data.assign(arm=arm).head(16))
    assert len(out) == 2


def test_errors() -> None:
    data, _ = _simulate(n=50, seed=5)
    with pytest.raises(ParameterError, match="n_classes"):
        fit_trajectory_classes(data, n_classes=0)
    with pytest.raises(ParameterError, match="n_classes"):
        fit_trajectory_classes(data, n_classes="3")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="variance"):
        fit_trajectory_classes(data, variance="free")
    with pytest.raises(ParameterError, match="'random'"):
        fit_trajectory_classes(data, random="slope")
    with pytest.raises(ParameterError, match="knot"):
        fit_trajectory_classes(data, time_transform="piecewise")
    with pytest.raises(ParameterTypeError, match="seed"):
        fit_trajectory_classes(data, seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(ColumnNotFoundError, match="phq"):
        fit_trajectory_classes(data, score="phq")
    with pytest.raises(InvalidValueError, match="log1p"):
        fit_trajectory_classes(data.assign(session=data.session - 1), n_classes=2)
    with pytest.raises(InvalidValueError, match="fewer than n_classes"):
        fit_trajectory_classes(data.head(16), n_classes=3)
    with pytest.raises(InvalidValueError, match="constant"):
        fit_trajectory_classes(data.assign(score=1.0), n_classes=2)
    varying = data.assign(age=np.arange(len(data)))
    with pytest.raises(InvalidValueError, match="constant within each patient"):
        fit_trajectory_classes(varying, n_classes=2, covariates="age")


def test_exported() -> None:
    assert ia.fit_trajectory_classes is fit_trajectory_classes
    assert ia.TrajectoryClassModel is TrajectoryClassModel
    assert "plot_trajectory_classes" in ia.__all__


def test_plot_trajectory_classes() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data, _ = _simulate(n=150, seed=5)
    model = fit_trajectory_classes(data, n_classes=3, seed=1)
    ax = ia.plot_trajectory_classes(model, data, n_patients=12)
    assert len(ax.collections) == 3  # one band per class
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("deteriorating" in t for t in labels)
    assert len(ax.lines) == 3 + 12  # class means + sampled courses
    plt.close("all")
    with pytest.raises(ParameterTypeError, match="TrajectoryClassModel"):
        ia.plot_trajectory_classes(ia.fit_growth(data, random="intercept"))  # type: ignore[arg-type]
