"""The bundled example data set, its ground truth and the data set catalogue.

The example is simulated (no real patient appears in it) by :func:`iatrogenic.datasets.simulate`
with the arguments in :data:`EXAMPLE_ARGS`. ``tests/test_datasets.py`` regenerates it and compares
it with the bundled files, so they never go stale; after a deliberate change to the simulator,
rewrite them with::

    python -c "from iatrogenic.datasets.example import _write_example; _write_example()"

and update the row counts in ``_CATALOGUE`` and the docstrings.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Literal, overload

import numpy as np
import pandas as pd

from .simulate import (
    ATTENDANCE,
    END_REASONS,
    ITEM_COLUMNS,
    MEDICATION_COLUMNS,
    TRUTH_COLUMNS,
    _ids,
    simulate,
)

__all__ = [
    "EXAMPLE_ARGS",
    "EXAMPLE_VERSION",
    "list_datasets",
    "load_example",
    "load_example_medications",
    "load_example_truth",
]

#: The exact call that made the bundled example: ``simulate(**EXAMPLE_ARGS)`` (its medication
#: table with ``return_medications=True``).
EXAMPLE_ARGS: dict[str, int] = {"n_patients": 600, "n_therapists": 30, "seed": 20240108}

#: Version of iatrogenic that generated the bundled files.
EXAMPLE_VERSION = "0.1.0"

_LICENCE = "CC0-1.0 (simulated data, no real patients)"
_SOURCE = (
    f"simulated: iatrogenic {EXAMPLE_VERSION}, iatrogenic.datasets.simulate("
    + ", ".join(f"{k}={v!r}" for k, v in EXAMPLE_ARGS.items())
    + ")"
)


@dataclass(frozen=True)
class _Entry:
    name: str
    file: str
    description: str
    rows: int


_CATALOGUE: tuple[_Entry, ...] = (
    _Entry(
        name="example",
        file="example.csv",
        description=(
            "600 simulated patients of 30 therapists, planned courses of 6-16 weekly sessions "
            "(dependency courses up to 30): PHQ-9 total and items, GAD-7, SRS, BHS, attendance, "
            "dates, age, end reason; with every harm of the taxonomy injected (deterioration, "
            "sudden worsening, self-harm ideation, disengagement, alliance rupture, dependency, "
            "symptom emergence, secondary worsening, medication). load_example()"
        ),
        rows=6119,
    ),
    _Entry(
        name="example_truth",
        file="example_truth.csv",
        description=(
            "ground truth of the example: one row per injected harm (patient, harm, onset "
            "session, magnitude). load_example_truth()"
        ),
        rows=246,
    ),
    _Entry(
        name="example_medications",
        file="example_medications.csv",
        description=(
            "prescriptions of the example's patients (patient, start, stop, drug, atc, dose), "
            "with the medication problems of the truth. load_example_medications()"
        ),
        rows=616,
    ),
)

_SCORES: tuple[str, ...] = ("phq9", "gad7", *ITEM_COLUMNS, "srs", "bhs")
_WHOLE: tuple[str, ...] = ("phq9", "gad7", *ITEM_COLUMNS, "bhs")


def _read(file: str) -> pd.DataFrame:
    resource = files("iatrogenic.datasets").joinpath("data", file)
    with resource.open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle, keep_default_na=False, na_values=[""])


def _patient_dtype() -> pd.CategoricalDtype:
    return pd.CategoricalDtype(_ids("P", EXAMPLE_ARGS["n_patients"], 5))


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, format="%Y-%m-%d").astype("datetime64[ns]")


def _normalise_data(frame: pd.DataFrame) -> pd.DataFrame:
    """Give the CSV's columns the dtypes that :func:`simulate` returns."""
    out = pd.DataFrame(
        {
            "patient": frame["patient"].astype(str).astype(_patient_dtype()),
            "therapist": frame["therapist"]
            .astype(str)
            .astype(pd.CategoricalDtype(_ids("T", EXAMPLE_ARGS["n_therapists"], 2))),
            "session": frame["session"].astype(np.int64),
            "date": _dates(frame["date"]),
            "attendance": frame["attendance"]
            .astype(str)
            .astype(pd.CategoricalDtype(list(ATTENDANCE))),
        }
    )
    for column in _SCORES:
        out[column] = frame[column].astype(np.float64)
    out["age"] = frame["age"].astype(np.int64)
    out["end_reason"] = pd.Categorical(frame["end_reason"], categories=list(END_REASONS))
    return out


def _normalise_truth(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "patient": frame["patient"].astype(str).astype(_patient_dtype()),
            "harm": frame["harm"].astype(str),
            "onset": frame["onset"].astype(np.int64),
            "magnitude": frame["magnitude"].astype(np.float64),
        }
    )
    return out.loc[:, list(TRUTH_COLUMNS)]


def _normalise_medications(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "patient": frame["patient"].astype(str).astype(_patient_dtype()),
            "start": _dates(frame["start"]),
            "stop": _dates(frame["stop"]),
            "drug": frame["drug"].astype(str),
            "atc": frame["atc"].astype(str),
            "dose": frame["dose"].astype(np.float64),
        }
    )
    return out.loc[:, list(MEDICATION_COLUMNS)]


@overload
def load_example(*, return_truth: Literal[False] = ...) -> pd.DataFrame: ...


@overload
def load_example(*, return_truth: Literal[True]) -> tuple[pd.DataFrame, pd.DataFrame]: ...


def load_example(*, return_truth: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Load the bundled example: 600 simulated patients of 30 therapists, in long format.

    The data are simulated; no real patient appears in them. They were made by iatrogenic 0.1.0
    with ``iatrogenic.datasets.simulate(n_patients=600, n_therapists=30, seed=20240108)`` (all
    other arguments at their defaults) and the test suite checks that this call still reproduces
    them exactly. They contain, by design, every harm of the taxonomy, each in at least 24
    patients (see :func:`load_example_truth`): reliable deterioration (including patients who
    start below the PHQ-9 cut-off and end above it), sudden losses, rises of PHQ-9 item 9 from 0
    to 2 or more, disengagement, alliance ruptures, dependency, symptom emergence, worsening
    hopelessness and medication problems (:func:`load_example_medications`), besides dropout,
    missed sessions and minors.

    Parameters
    ----------
    return_truth : bool, default False
        Also return the ground truth (as :func:`load_example_truth`).

    Returns
    -------
    data : DataFrame
        6119 rows, one per patient and scheduled session, sorted by patient and session,
        with the columns and dtypes documented in :func:`iatrogenic.datasets.simulate`:
        ``patient``, ``therapist``, ``session``, ``date``, ``attendance``, ``phq9``, ``gad7``,
        ``phq9_item1`` ... ``phq9_item9``, ``srs``, ``bhs``, ``age``, ``end_reason``.
    truth : DataFrame
        Only with ``return_truth=True``: one row per injected harm, columns ``patient``,
        ``harm``, ``onset``, ``magnitude``.

    See Also
    --------
    load_example_truth, load_example_medications, list_datasets, simulate

    Examples
    --------
    >>> from iatrogenic.datasets import load_example
    >>> data = load_example()
    >>> data.shape
    (6119, 20)
    >>> data, truth = load_example(return_truth=True)
    >>> truth["harm"].nunique()
    9
    """
    data = _normalise_data(_read("example.csv"))
    if return_truth:
        return data, load_example_truth()
    return data


def load_example_truth() -> pd.DataFrame:
    """Load the ground truth of the bundled example: one row per injected harm.

    Patients without injected harm have no row. See :func:`load_example` for the provenance and
    :func:`iatrogenic.datasets.simulate` for the meaning of each harm's onset and magnitude.

    Returns
    -------
    DataFrame
        - ``patient`` (category): patient id, same categories as ``load_example()["patient"]``.
        - ``harm`` (str): one of ``"deterioration"``, ``"sudden_worsening"``, ``"self_harm"``,
          ``"disengagement"``, ``"alliance_rupture"``, ``"dependency"``,
          ``"symptom_emergence"``, ``"secondary_worsening"``, ``"medication"``.
        - ``onset`` (int64): session at which the harm begins.
        - ``magnitude`` (float64): size of the harm (units depend on the harm).

    Examples
    --------
    >>> from iatrogenic.datasets import load_example_truth
    >>> truth = load_example_truth()
    >>> truth.columns.tolist()
    ['patient', 'harm', 'onset', 'magnitude']
    """
    return _normalise_truth(_read("example_truth.csv"))


def load_example_medications() -> pd.DataFrame:
    """Load the prescriptions of the bundled example's patients.

    Made by the same call as :func:`load_example`, with ``return_medications=True``. The
    ``medication`` rows of :func:`load_example_truth` say who has a problem (``magnitude`` is the
    problem's code, see ``iatrogenic.datasets.simulate.MEDICATION_PROBLEMS``).

    Returns
    -------
    DataFrame
        One row per prescription period at a constant dose, sorted by patient, start and drug:
        ``patient`` (category, same categories as ``load_example()["patient"]``), ``start`` and
        ``stop`` (datetime64[ns]; ``stop`` is the first day without the drug, NaT while
        ongoing), ``drug`` (str), ``atc`` (str, WHO ATC code), ``dose`` (float64, mg a day).

    Examples
    --------
    >>> from iatrogenic.datasets import load_example_medications
    >>> meds = load_example_medications()
    >>> meds.columns.tolist()
    ['patient', 'start', 'stop', 'drug', 'atc', 'dose']
    """
    return _normalise_medications(_read("example_medications.csv"))


def list_datasets() -> pd.DataFrame:
    """The catalogue of bundled data sets.

    Returns
    -------
    DataFrame
        One row per data set:

        - ``name`` (str): the data set's name.
        - ``description`` (str): what it holds and the function that loads it.
        - ``rows`` (int64): number of rows.
        - ``source`` (str): where it comes from (for simulated data, the exact call).
        - ``licence`` (str): the terms of use.

    Examples
    --------
    >>> from iatrogenic.datasets import list_datasets
    >>> list_datasets()[["name", "rows"]]
                      name  rows
    0              example  6119
    1        example_truth   246
    2  example_medications   616
    """
    return pd.DataFrame(
        {
            "name": [entry.name for entry in _CATALOGUE],
            "description": [entry.description for entry in _CATALOGUE],
            "rows": np.array([entry.rows for entry in _CATALOGUE], dtype=np.int64),
            "source": [_SOURCE] * len(_CATALOGUE),
            "licence": [_LICENCE] * len(_CATALOGUE),
        }
    )


def _write_example(
    directory: Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Regenerate the bundled CSV files from ``simulate(**EXAMPLE_ARGS)`` and return them."""
    directory = directory or Path(__file__).resolve().parent / "data"
    data, truth, medications = simulate(
        n_patients=EXAMPLE_ARGS["n_patients"],
        n_therapists=EXAMPLE_ARGS["n_therapists"],
        seed=EXAMPLE_ARGS["seed"],
        return_medications=True,
    )
    written = data.copy()
    # Whole-number scores as integers, so the CSV reads "12" rather than "12.0" (smaller, and
    # what a service's export looks like); missed sessions stay empty.
    for column in _WHOLE:
        written[column] = written[column].astype("Int64")
    written.to_csv(
        directory / "example.csv", index=False, date_format="%Y-%m-%d", lineterminator="\n"
    )
    truth.to_csv(directory / "example_truth.csv", index=False, lineterminator="\n")
    medications.to_csv(
        directory / "example_medications.csv",
        index=False,
        date_format="%Y-%m-%d",
        lineterminator="\n",
    )
    return data, truth, medications
