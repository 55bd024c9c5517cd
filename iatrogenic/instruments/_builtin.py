"""The built-in instrument table. Every number carries its source; unconfirmed values stay None."""

from __future__ import annotations

from .registry import Caseness, FixedRule, Instrument, RiskItem, SeverityBand

__all__ = ["BUILTIN_INSTRUMENTS"]

KROENKE_2001 = (
    "Kroenke K, Spitzer RL, Williams JBW (2001). The PHQ-9: validity of a brief depression "
    "severity measure. J Gen Intern Med 16(9):606-613."
)
SPITZER_2006 = (
    "Spitzer RL, Kroenke K, Williams JBW, Löwe B (2006). A brief measure for assessing "
    "generalized anxiety disorder: the GAD-7. Arch Intern Med 166(10):1092-1097."
)
NHS_TT_MANUAL = (
    "NHS England (2024). NHS Talking Therapies for anxiety and depression manual, v7; and the "
    "NHS Talking Therapies data handbook (reliable change: PHQ-9 >= 6 points, GAD-7 >= 4 points; "
    "caseness: PHQ-9 >= 10, GAD-7 >= 8)."
)

PHQ9 = Instrument(
    name="phq9",
    label="PHQ-9",
    construct="depression severity",
    low=0,
    high=27,
    better="lower",
    n_items=9,
    reliability=0.89,
    reliability_kind="Cronbach's alpha, primary care sample (n = 6000 PHQ studies)",
    reliability_source=KROENKE_2001,
    fixed_rule=FixedRule(points=6, confidence=None, source=NHS_TT_MANUAL),
    caseness=Caseness(threshold=10, clinical_if=">=", source=KROENKE_2001),
    severity_bands=(
        SeverityBand("minimal", 0, 4),
        SeverityBand("mild", 5, 9),
        SeverityBand("moderate", 10, 14),
        SeverityBand("moderately severe", 15, 19),
        SeverityBand("severe", 20, 27),
    ),
    severity_source=KROENKE_2001,
    risk_items=(
        RiskItem(
            item=9,
            column="phq9_item9",
            low=0,
            high=3,
            wording="Thoughts that you would be better off dead or of hurting yourself in some way",
            source=KROENKE_2001,
        ),
    ),
    notes="NHS Talking Therapies uses caseness >= 10 and reliable change >= 6 points.",
)

GAD7 = Instrument(
    name="gad7",
    label="GAD-7",
    construct="generalised anxiety severity",
    low=0,
    high=21,
    better="lower",
    n_items=7,
    reliability=0.92,
    reliability_kind="Cronbach's alpha, primary care validation sample",
    reliability_source=SPITZER_2006,
    fixed_rule=FixedRule(points=4, confidence=None, source=NHS_TT_MANUAL),
    caseness=Caseness(
        threshold=8, clinical_if=">=", source=NHS_TT_MANUAL, population="NHS Talking Therapies"
    ),
    severity_bands=(
        SeverityBand("minimal", 0, 4),
        SeverityBand("mild", 5, 9),
        SeverityBand("moderate", 10, 14),
        SeverityBand("severe", 15, 21),
    ),
    severity_source=SPITZER_2006,
    notes="Spitzer et al. (2006) recommend >= 10 for GAD; NHS Talking Therapies uses >= 8.",
)

BUILTIN_INSTRUMENTS: tuple[Instrument, ...] = (PHQ9, GAD7)
