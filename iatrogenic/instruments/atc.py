"""Psychotropic drug classes by ATC code, and a small drug-name -> ATC lookup, with sources.

The Anatomical Therapeutic Chemical (ATC) classification of the WHO Collaborating Centre for Drug
Statistics Methodology files each active substance under a 7-character code whose prefixes are the
therapeutic, pharmacological and chemical subgroups (``N06AB06``: N nervous system, N06
psychoanaleptics, N06A antidepressants, N06AB selective serotonin reuptake inhibitors, N06AB06
sertraline). The medication detector works on the classes below, found by the longest matching
prefix of a code, so that a table with only ATC codes, only drug names, or both can be screened.

Source of every code and class name: WHO Collaborating Centre for Drug Statistics Methodology,
ATC/DDD Index (https://atcddd.fhi.no/atc_ddd_index/), groups N03A, N05A, N05B, N05C, N06A and N06B.
The grouping of benzodiazepine derivatives from three ATC groups (N05BA, N05CD and N03AE, where
clonazepam is filed) into one class, and of lithium (N05AN, filed under antipsychotics) as a mood
stabiliser, are choices of this project, made because prescribing guidance treats them that way
(NICE NG215 and the BNF treat benzodiazepines as one group whatever their licensed indication).

Examples
--------
>>> from iatrogenic.instruments import atc
>>> atc.atc_for_drug("Sertraline"), atc.classify("N06AB06")
('N06AB06', 'antidepressant')
>>> atc.classify(atc.atc_for_drug("clonazepam")), atc.classify("N05AN01")
('benzodiazepine', 'lithium')
>>> atc.classify("C10AA05") is None  # atorvastatin: not a psychotropic class
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "ATC_CLASSES",
    "ATC_SOURCE",
    "CLASS_LABELS",
    "DRUG_ATC",
    "AtcClass",
    "atc_for_drug",
    "classify",
    "classify_many",
    "is_valid_atc",
    "list_atc_classes",
    "list_drugs",
]

ATC_SOURCE = (
    "WHO Collaborating Centre for Drug Statistics Methodology. ATC/DDD Index "
    "(https://atcddd.fhi.no/atc_ddd_index/): groups N03A, N05A, N05B, N05C, N06A, N06B."
)

#: A well-formed ATC code or prefix: level 1 (N) to level 5 (N06AB06).
_ATC_PATTERN = re.compile(r"^[A-Z](\d{2}([A-Z]([A-Z](\d{2})?)?)?)?$")


@dataclass(frozen=True)
class AtcClass:
    """An ATC group and the class of the medication rules it belongs to.

    Attributes
    ----------
    prefix : str
        ATC code prefix (``"N05BA"``).
    who_name : str
        The group's name in the WHO ATC index.
    drug_class : str
        Class key used by the medication detector (``"benzodiazepine"``).
    note : str
        Why the group is in this class, where that is a project choice.
    """

    prefix: str
    who_name: str
    drug_class: str
    note: str = ""


#: Psychotropic ATC groups. A code takes the class of its longest matching prefix.
ATC_CLASSES: tuple[AtcClass, ...] = (
    AtcClass("N05A", "Antipsychotics", "antipsychotic"),
    AtcClass(
        "N05AN",
        "Lithium",
        "lithium",
        "filed under antipsychotics by the WHO; a mood stabiliser, kept apart here",
    ),
    AtcClass("N05B", "Anxiolytics", "anxiolytic", "non-benzodiazepine anxiolytics (N05BB, N05BE)"),
    AtcClass("N05BA", "Benzodiazepine derivatives", "benzodiazepine"),
    AtcClass("N05C", "Hypnotics and sedatives", "hypnotic", "other hypnotics (N05CA, N05CH...)"),
    AtcClass("N05CD", "Benzodiazepine derivatives", "benzodiazepine"),
    AtcClass("N05CF", "Benzodiazepine related drugs", "z_drug", "zopiclone, zolpidem, zaleplon"),
    AtcClass("N06A", "Antidepressants", "antidepressant"),
    AtcClass("N06B", "Psychostimulants, agents used for ADHD and nootropics", "psychostimulant"),
    AtcClass(
        "N03A",
        "Antiepileptics",
        "antiepileptic",
        "counted as psychotropic because valproate, lamotrigine and pregabalin are prescribed as "
        "mood stabilisers or for anxiety; in epilepsy they are not psychotropic prescriptions",
    ),
    AtcClass(
        "N03AE",
        "Benzodiazepine derivatives",
        "benzodiazepine",
        "clonazepam: a benzodiazepine filed under antiepileptics",
    ),
)

#: Readable names of the class keys, for evidence text.
CLASS_LABELS: dict[str, str] = {
    "antipsychotic": "antipsychotic",
    "lithium": "lithium (mood stabiliser)",
    "anxiolytic": "anxiolytic (non-benzodiazepine)",
    "benzodiazepine": "benzodiazepine",
    "hypnotic": "hypnotic (non-benzodiazepine)",
    "z_drug": "Z-drug",
    "antidepressant": "antidepressant",
    "psychostimulant": "psychostimulant",
    "antiepileptic": "antiepileptic / mood stabiliser",
}

#: Common psychotropic drugs (international non-proprietary names) -> ATC code (WHO ATC/DDD Index).
DRUG_ATC: dict[str, str] = {
    # Antidepressants (N06A)
    "amitriptyline": "N06AA09",
    "fluoxetine": "N06AB03",
    "citalopram": "N06AB04",
    "paroxetine": "N06AB05",
    "sertraline": "N06AB06",
    "escitalopram": "N06AB10",
    "mirtazapine": "N06AX11",
    "venlafaxine": "N06AX16",
    "duloxetine": "N06AX21",
    # Benzodiazepines (N05BA anxiolytic, N05CD hypnotic, N03AE antiepileptic)
    "diazepam": "N05BA01",
    "lorazepam": "N05BA06",
    "alprazolam": "N05BA12",
    "temazepam": "N05CD07",
    "clonazepam": "N03AE01",
    # Benzodiazepine-related hypnotics, "Z-drugs" (N05CF)
    "zopiclone": "N05CF01",
    "zolpidem": "N05CF02",
    # Antipsychotics (N05A) and lithium (N05AN)
    "haloperidol": "N05AD01",
    "olanzapine": "N05AH03",
    "quetiapine": "N05AH04",
    "risperidone": "N05AX08",
    "aripiprazole": "N05AX12",
    "lithium": "N05AN01",
    # Psychostimulants and ADHD drugs (N06B)
    "methylphenidate": "N06BA04",
    "atomoxetine": "N06BA09",
    # Antiepileptics used as mood stabilisers or for anxiety (N03A)
    "valproate": "N03AG01",
    "lamotrigine": "N03AX09",
    "pregabalin": "N03AX16",
}

#: Other spellings of the same substances (salts, US/UK names); same ATC code as the entry.
_ALIASES: dict[str, str] = {
    "valproic acid": "valproate",
    "sodium valproate": "valproate",
    "lithium carbonate": "lithium",
    "lithium citrate": "lithium",
}

_BY_LENGTH = sorted(ATC_CLASSES, key=lambda c: len(c.prefix), reverse=True)


def _normalise_name(name: str) -> str:
    return " ".join(name.strip().lower().split())


def atc_for_drug(name: object) -> str | None:
    """The ATC code of a drug name from the built-in lookup (case and spacing ignored), or None.

    Examples
    --------
    >>> atc_for_drug("  ZOPICLONE "), atc_for_drug("sodium valproate"), atc_for_drug("aspirin")
    ('N05CF01', 'N03AG01', None)
    """
    if not isinstance(name, str):
        return None
    key = _normalise_name(name)
    key = _ALIASES.get(key, key)
    return DRUG_ATC.get(key)


def is_valid_atc(code: object) -> bool:
    """True when ``code`` is a well-formed ATC code or prefix (``"N06A"``, ``"N06AB06"``).

    Examples
    --------
    >>> is_valid_atc("N06AB06"), is_valid_atc("N06"), is_valid_atc("sertraline")
    (True, True, False)
    """
    return isinstance(code, str) and bool(_ATC_PATTERN.match(code.strip().upper()))


def classify(code: object) -> str | None:
    """The class key of an ATC code (longest matching prefix), or None for other codes.

    Examples
    --------
    >>> classify("N05CF01"), classify("n05ba01"), classify("N05AN01"), classify("N05A")
    ('z_drug', 'benzodiazepine', 'lithium', 'antipsychotic')
    """
    if not isinstance(code, str):
        return None
    code = code.strip().upper()
    for entry in _BY_LENGTH:
        if code.startswith(entry.prefix):
            return entry.drug_class
    return None


def classify_many(codes: Iterable[object]) -> np.ndarray:
    """:func:`classify` over many codes: an object array of class keys (None where unclassified).

    Examples
    --------
    >>> classify_many(["N06AB06", None, "A10BA02"]).tolist()
    ['antidepressant', None, None]
    """
    cache: dict[str, str | None] = {}
    out = [
        (cache[c] if c in cache else cache.setdefault(c, classify(c)))
        if isinstance(c, str)
        else None
        for c in codes
    ]
    return np.array(out, dtype=object)


def list_atc_classes() -> pd.DataFrame:
    """The ATC groups behind the medication classes.

    Returns
    -------
    DataFrame
        One row per ATC group: ``prefix``, ``who_name`` (the WHO index's name of the group),
        ``drug_class`` (the class key the medication detector uses), ``note`` and ``source``.

    Examples
    --------
    >>> table = list_atc_classes()
    >>> table.set_index("prefix").loc["N05CF", "drug_class"]
    'z_drug'
    """
    return pd.DataFrame(
        [
            {
                "prefix": c.prefix,
                "who_name": c.who_name,
                "drug_class": c.drug_class,
                "note": c.note,
                "source": ATC_SOURCE,
            }
            for c in ATC_CLASSES
        ],
        columns=["prefix", "who_name", "drug_class", "note", "source"],
    )


def list_drugs() -> pd.DataFrame:
    """The built-in drug-name lookup.

    Returns
    -------
    DataFrame
        One row per drug: ``drug`` (non-proprietary name), ``atc`` (code), ``drug_class``.

    Examples
    --------
    >>> list_drugs().set_index("drug").loc["quetiapine", "atc"]
    'N05AH04'
    """
    return pd.DataFrame(
        [{"drug": d, "atc": a, "drug_class": classify(a)} for d, a in DRUG_ATC.items()],
        columns=["drug", "atc", "drug_class"],
    )
