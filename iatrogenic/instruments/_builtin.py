"""The built-in instrument table. Every number carries its source; unconfirmed values stay None.

How the numbers were checked
----------------------------
Each value below was looked up in published material (article abstracts, manuals, the publishers'
or developers' own pages, or a secondary page quoting the primary source) before it was entered.
"Confirmed" means the number was seen in such material during the review, with the source named.
"Recalled" means a very well-known published figure with a precise citation that could not be
re-read during the review; there are few of these and each is listed. Everything else is ``None``:
the library never guesses a reliability, an SD, a cut-off or a reliable-change threshold.

Confirmed
    PHQ-9    alpha .89 (PHQ Primary Care Study), caseness >= 10 (sens./spec. 88%), bands 5/10/15/20:
             Kroenke et al. 2001 abstract. Reliable improvement >= 6 points and caseness >= 10:
             IAPT / NHS Talking Therapies manual (as quoted in secondary commentary).
    GAD-7    Reliable improvement >= 4 points, caseness >= 8: IAPT / NHS Talking Therapies manual
             (as quoted).
    OQ-45.2  RCI 14 points: OQ Measures FAQ table and Lambert et al. manual (via Beckstead et
             al. 2003 / secondary summaries); cut-off 63/64 (clinical >= 64): same; alpha .93
             (and test-retest .84): manual values quoted by a product page (embloom); item 8
             "I have thoughts of ending my life": published item list. Authors of the 2004
             manual: its title page.
    OQ-45 NL RCI 18 and cut-off 56: Timman, de Jong & de Neve-Enthoven 2017 abstract (NOT de Jong
             et al. 2007, which first reported Dutch norms; the 2017 values supersede them).
    CORE-10  alpha .90, clinical cut-off 11.0, reliable change index 6 at 90% CI: Barkham et al.
             2013 abstract. Norms (general population M 4.7 SD 4.8, n = 535; primary-care
             counselling M 19.7 SD 7.7, n = 1835): CORE-10 manual (Connell & Barkham 2007) as
             reported by NovoPsych. The clinical SD reproduces the RCI: 1.645 * sqrt(2) * 7.7 *
             sqrt(1 - .90) = 5.7, rounded up to 6. Bands 11-14/15-19/20-24/25+: CORE-10 scoring
             guides citing Barkham et al. 2013. Item 6 "I made plans to end my life": item list.
    CORE-OM  clinical score = item mean x 10 (0-40): CORE IMS / CORE System Trust. Cut-off 10
             (9.9 rounded): Connell et al. 2007 abstract. Reliable change = change of 5 or more in
             the clinical score: CORE IMS "How is CORE used?". Risk-to-self items 9, 16, 24, 34 and
             risk-to-others items 6, 22: CORE-OM item list and risk-domain scoring (Evans et al.
             2002).
    BDI-II   alpha .92 outpatients (n = 500) and .93 students, 1-week test-retest .93
             (n = 26), bands 0-13/14-19/20-28/29-63: Beck, Steer & Brown 1996 manual as quoted
             by the Mental Measurements Yearbook reviews and secondary summaries.
    K10      range 10-50 (1-5 scoring), bands 10-15/16-21/22-29/30-50: Australian Bureau of
             Statistics 4817.0.55.001 (drawing on Andrews & Slade 2001).
    ORS      clinical cut-off 25 (adults), reliable change 5 points: Miller et al. 2003 as reported
             by PCOMS/FIT guidance pages. Alpha .93 (clinical sample aged 13+, n = 3611): Duncan et
             al. 2006, as tabulated by Schuckard & Miller (2016).
    SRS      threshold 36 (scores below 36 flag a possible alliance problem): PCOMS / FIT guidance.
    PCL-5    alpha .94 and test-retest .82 (trauma-exposed students, n = 278): Blevins et
             al. 2015 abstract. Cut-off 31-33 (33 used): National Center for PTSD guidance;
             Bovin et al. 2016.
    EPDS     threshold 13 or more (10 or more for greater sensitivity); any score above 0 on item 10
             prompts assessment: EPDS scoring instructions (Cox, Holden & Sagovsky 1987).
    HAM-D    cut-offs 17 (mild vs moderate) and 24 (moderate vs severe): Zimmerman et al. 2013.
    WSAS     alpha 0.70-0.94, test-retest 0.73, bands <10 / 10-20 / >20: Mundt et al. 2002.
    BHS      20 true/false items scored 0/1 (total 0-20, higher is more hopeless) and internal
             consistency .93 (KR-20, the coefficient alpha of dichotomous items) in 294
             hospitalised patients who had recently attempted suicide: Beck, Weissman, Lester &
             Trexler 1974, as reported by the McMaster APN toolkit entry citing the original
             article and by Mental Measurements Yearbook review summaries (which give the manual's
             KR-20 range as .82-.93 across its sample groups). The manual's test-retest values
             (.69 over one week, n = 21; .66 over six weeks, n = 99) were seen in the same
             summaries and are noted, not used.

Recalled (entered: very well known, precise citation)
    GAD-7 alpha .92 and bands 5/10/15 (Spitzer et al. 2006); EPDS standardised alpha .87 and
    split-half .88 (Cox et al. 1987); HAM-D item 3 "suicide" rated 0-4 and BDI-II item 9
    "suicidal thoughts or wishes" rated 0-3 (the instruments themselves); the bibliographic
    details of de Jong et al. 2007 (cited in a note only, no number depends on it).

Not confirmed, left None
    Every ``sd`` except CORE-10; every ``functional_norm``/``clinical_norm`` except CORE-10 (the
    OQ-45.2 manual norms could not be re-read); every reliable-change ``confidence`` except CORE-10
    (PHQ-9, GAD-7, OQ-45, OQ-45 NL, CORE-OM, ORS sources do not state it); CORE-OM total-score
    alpha (Evans et al. 2002 give 0.75-0.95 across domains; the total-score value was not re-read)
    and CORE-OM severity bands (Barkham et al. 2006; exact boundaries not re-read); Dutch OQ-45
    reliability; K10 reliability and caseness; SRS reliability (.88 in Duncan et al. 2003 is
    recalled, not confirmed); HAM-D reliability and the 0-7 "no depression" lower band of
    Zimmerman et al. 2013 (only the 17 and 24 cut-offs were confirmed); PCL-5 reliable change (the
    National Center for PTSD gives 5 points as a minimum for "response" and 10 points for
    "clinically meaningful" change, extrapolated from the DSM-IV PCL; neither is a reliable-change
    index, so no FixedRule); K10, BDI-II, HAM-D, WSAS reliable change; BHS SD, severity bands and
    cut-offs (the 1988 manual's bands were not re-read) and any BHS reliable-change rule.
"""

from __future__ import annotations

from .registry import Caseness, FixedRule, Instrument, RiskItem, SeverityBand

__all__ = ["BUILTIN_INSTRUMENTS"]

# --------------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------------

KROENKE_2001 = (
    "Kroenke K, Spitzer RL, Williams JBW (2001). The PHQ-9: validity of a brief depression "
    "severity measure. J Gen Intern Med 16(9):606-613."
)
SPITZER_2006 = (
    "Spitzer RL, Kroenke K, Williams JBW, Löwe B (2006). A brief measure for assessing "
    "generalized anxiety disorder: the GAD-7. Arch Intern Med 166(10):1092-1097."
)
NHS_TT_MANUAL = (
    "National Collaborating Centre for Mental Health / NHS England. The Improving Access to "
    "Psychological Therapies Manual (now the NHS Talking Therapies for anxiety and depression "
    "manual) and the IAPT data handbook: reliable improvement is a fall of >= 6 points on the "
    "PHQ-9 and >= 4 points on the GAD-7; caseness is PHQ-9 >= 10 or GAD-7 >= 8."
)
LAMBERT_2004 = (
    "Lambert MJ, Morton JJ, Hatfield D, Harmon C, Hamilton S, Reid RC, Shimokawa K, "
    "Christopherson C, Burlingame GM (2004). Administration and Scoring Manual for the Outcome "
    "Questionnaire-45.2. Salt Lake City, UT: American Professional Credentialing Services "
    "(reliable change index 14 points; clinical cut-off 63/64)."
)
OQ_MEASURES_FAQ = (
    "OQ Measures LLC. FAQs - Reliable Change Index table (OQ-45.2: RCI = 14). "
    "https://www.oqmeasures.com/faqs/"
)
BECKSTEAD_2003 = (
    "Beckstead DJ, Hatch AL, Lambert MJ, Eggett DL, Goates MK, Vermeersch DA (2003). Clinical "
    "significance of the Outcome Questionnaire (OQ-45.2). The Behavior Analyst Today 4(1)."
)
TIMMAN_2017 = (
    "Timman R, de Jong K, de Neve-Enthoven N (2017). Cut-off scores and clinical change indices "
    "for the Dutch Outcome Questionnaire (OQ-45) in a large sample of normal and several "
    "psychotherapeutic populations. Clin Psychol Psychother 24(1):72-81. doi:10.1002/cpp.1979"
)
BARKHAM_2013 = (
    "Barkham M, Bewick B, Mullin T, Gilbody S, Connell J, Cahill J, Mellor-Clark J, Richards D, "
    "Unsworth G, Evans C (2013). The CORE-10: a short measure of psychological distress for "
    "routine use in the psychological therapies. Counselling and Psychotherapy Research "
    "13(1):3-13. doi:10.1080/14733145.2012.729069"
)
CONNELL_BARKHAM_2007 = (
    "Connell J, Barkham M (2007). CORE-10 User Manual, Version 1.0. CORE System Trust / CORE "
    "Information Management Systems (normative data: general population n = 535, M = 4.7, "
    "SD = 4.8; primary-care counselling n = 1835, M = 19.7, SD = 7.7)."
)
EVANS_2002 = (
    "Evans C, Connell J, Barkham M, Margison F, McGrath G, Mellor-Clark J, Audin K (2002). "
    "Towards a standardised brief outcome measure: psychometric properties and utility of the "
    "CORE-OM. Br J Psychiatry 180:51-60. doi:10.1192/bjp.180.1.51"
)
CONNELL_2007 = (
    "Connell J, Barkham M, Stiles WB, Twigg E, Singleton N, Evans O, Miles JNV (2007). "
    "Distribution of CORE-OM scores in a general population, clinical cut-off points and "
    "comparison with the CIS-R. Br J Psychiatry 190:69-74. doi:10.1192/bjp.bp.105.017657"
)
CORE_IMS = (
    "CORE Information Management Systems. How is CORE used? (clinical score = item mean x 10; "
    "reliable change on the CORE-OM is a change of 5 or more in the clinical score). "
    "http://www.coreims.co.uk/About_Core_System_How_Used.html"
)
BECK_1996 = (
    "Beck AT, Steer RA, Brown GK (1996). Manual for the Beck Depression Inventory-II. "
    "San Antonio, TX: Psychological Corporation."
)
KESSLER_2002 = (
    "Kessler RC, Andrews G, Colpe LJ, Hiripi E, Mroczek DK, Normand S-LT, Walters EE, "
    "Zaslavsky AM (2002). Short screening scales to monitor population prevalences and trends in "
    "non-specific psychological distress. Psychol Med 32(6):959-976. "
    "doi:10.1017/S0033291702006074"
)
ABS_K10 = (
    "Australian Bureau of Statistics (2012). Information Paper: Use of the Kessler Psychological "
    "Distress Scale in ABS Health Surveys, Australia, 2007-08 (cat. no. 4817.0.55.001), Table E; "
    "drawing on Andrews G, Slade T (2001). Interpreting scores on the Kessler Psychological "
    "Distress Scale (K10). Aust N Z J Public Health 25(6):494-497."
)
MILLER_2003 = (
    "Miller SD, Duncan BL, Brown J, Sparks JA, Claud DA (2003). The Outcome Rating Scale: a "
    "preliminary study of the reliability, validity, and feasibility of a brief visual analog "
    "measure. Journal of Brief Therapy 2(2):91-100 (clinical cut-off 25; reliable change 5 points)."
)
DUNCAN_2006 = (
    "Duncan BL, Sparks JA, Miller SD, Bohanske RT, Claud DA (2006). Giving youth a voice: a "
    "preliminary study of the reliability and validity of a brief outcome measure for children, "
    "adolescents, and caretakers. Journal of Brief Therapy 5(2):71-87 (ORS alpha .93, clinical "
    "sample aged 13+, n = 3611)."
)
DUNCAN_2003 = (
    "Duncan BL, Miller SD, Sparks JA, Claud DA, Reynolds LR, Brown J, Johnson LD (2003). The "
    "Session Rating Scale: preliminary psychometric properties of a 'working' alliance measure. "
    "Journal of Brief Therapy 3(1):3-12."
)
PCOMS_SRS = (
    "Duncan BL (2012). The Partners for Change Outcome Management System (PCOMS): the Heart and "
    "Soul of Change Project. Canadian Psychology 53(2):93-104; PCOMS/FIT guidance: an SRS total "
    "below 36 indicates possible dissatisfaction with the session (e.g. OpenFIT knowledge base "
    "KA-01028)."
)
BLEVINS_2015 = (
    "Blevins CA, Weathers FW, Davis MT, Witte TK, Domino JL (2015). The Posttraumatic Stress "
    "Disorder Checklist for DSM-5 (PCL-5): development and initial psychometric evaluation. "
    "J Trauma Stress 28(6):489-498. doi:10.1002/jts.22059"
)
NCPTSD_PCL5 = (
    "Weathers FW, Litz BT, Keane TM, Palmieri PA, Marx BP, Schnurr PP (2013). The PTSD Checklist "
    "for DSM-5 (PCL-5). National Center for PTSD; National Center for PTSD, 'Using the PTSD "
    "Checklist for DSM-5 (PCL-5)' (cut-point 31-33); Bovin MJ, Marx BP, Weathers FW, et al. "
    "(2016). Psychometric properties of the PTSD Checklist for DSM-5 (PCL-5) in veterans. "
    "Psychol Assess 28(11):1379-1391."
)
COX_1987 = (
    "Cox JL, Holden JM, Sagovsky R (1987). Detection of postnatal depression: development of the "
    "10-item Edinburgh Postnatal Depression Scale. Br J Psychiatry 150:782-786. "
    "doi:10.1192/bjp.150.6.782"
)
HAMILTON_1960 = (
    "Hamilton M (1960). A rating scale for depression. J Neurol Neurosurg Psychiatry 23:56-62."
)
ZIMMERMAN_2013 = (
    "Zimmerman M, Martinez JH, Young D, Chelminski I, Dalrymple K (2013). Severity "
    "classification on the Hamilton Depression Rating Scale. J Affect Disord 150(2):384-388. "
    "doi:10.1016/j.jad.2013.04.028"
)
BECK_1974 = (
    "Beck AT, Weissman A, Lester D, Trexler L (1974). The measurement of pessimism: the "
    "Hopelessness Scale. J Consult Clin Psychol 42(6):861-865 "
    "(KR-20 .93, 294 hospitalised patients after a recent suicide attempt)."
)
BECK_STEER_1988 = (
    "Beck AT, Steer RA (1988). Manual for the Beck Hopelessness Scale. San Antonio, TX: "
    "Psychological Corporation (KR-20 .82-.93 across sample groups; test-retest .69 over one "
    "week, n = 21, and .66 over six weeks, n = 99)."
)
MUNDT_2002 = (
    "Mundt JC, Marks IM, Shear MK, Greist JH (2002). The Work and Social Adjustment Scale: a "
    "simple measure of impairment in functioning. Br J Psychiatry 180:461-464. "
    "doi:10.1192/bjp.180.5.461"
)

# --------------------------------------------------------------------------------------------------
# Depression and anxiety (NHS Talking Therapies pair)
# --------------------------------------------------------------------------------------------------

PHQ9 = Instrument(
    name="phq9",
    label="PHQ-9",
    construct="depression severity",
    low=0,
    high=27,
    better="lower",
    n_items=9,
    reliability=0.89,
    reliability_kind=(
        "Cronbach's alpha, PHQ Primary Care Study (3000 of the 6000 validation patients); "
        "0.86 in the obstetrics-gynaecology study"
    ),
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
    notes=(
        "Caseness >= 10 had sensitivity and specificity of 88% for major depression (Kroenke "
        "2001); NHS Talking Therapies uses the same caseness and reliable change >= 6 points (the "
        "manual does not state a confidence level)."
    ),
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
    notes=(
        "Spitzer et al. (2006) recommend >= 10 for GAD; NHS Talking Therapies uses >= 8. No "
        "suicide item. Reliable change >= 4 points (NHS Talking Therapies; confidence not stated)."
    ),
)

# --------------------------------------------------------------------------------------------------
# Outcome Questionnaire
# --------------------------------------------------------------------------------------------------

_OQ45_ITEM8 = RiskItem(
    item=8,
    column="oq45_item8",
    low=0,
    high=4,
    wording="Thoughts of ending one's life (OQ-45.2 item 8, a critical item)",
    source=LAMBERT_2004,
)

OQ45 = Instrument(
    name="oq45",
    aliases=("OQ-45.2", "OQ45.2"),
    label="OQ-45.2",
    construct="global distress: symptom distress, interpersonal relations, social role",
    low=0,
    high=180,
    better="lower",
    n_items=45,
    reliability=0.93,
    reliability_kind=(
        "Cronbach's alpha of the total score, US normative samples (test-retest 0.84)"
    ),
    reliability_source=LAMBERT_2004,
    fixed_rule=FixedRule(points=14, confidence=None, source=f"{LAMBERT_2004}; {OQ_MEASURES_FAQ}"),
    caseness=Caseness(
        threshold=64,
        clinical_if=">=",
        source=f"{LAMBERT_2004}; {BECKSTEAD_2003}",
        population="US community vs outpatient norms (functional <= 63, dysfunctional >= 64)",
    ),
    risk_items=(_OQ45_ITEM8,),
    notes=(
        "US norms. Other critical items (not registered as risk items because they are not "
        "self-harm items): 11, 26, 32 (substance use) and 44 (anger at work/school). For the Dutch "
        "norms use 'oq45_nl'. Community and outpatient means/SDs from the manual were not re-read "
        "and are left None."
    ),
)

OQ45_NL = Instrument(
    name="oq45_nl",
    aliases=("OQ-45 NL", "OQ-45-NL"),
    variant_of="oq45",
    label="OQ-45 (Dutch norms)",
    construct="global distress: symptom distress, interpersonal relations, social role",
    low=0,
    high=180,
    better="lower",
    n_items=45,
    fixed_rule=FixedRule(points=18, confidence=None, source=TIMMAN_2017),
    caseness=Caseness(
        threshold=56,
        clinical_if=">=",
        source=TIMMAN_2017,
        population=(
            "Dutch normal population (n = 1810) vs patients in five treatment settings "
            "(Jacobson-Truax cut-off c, rounded)"
        ),
    ),
    risk_items=(_OQ45_ITEM8,),
    notes=(
        "Same questionnaire as 'oq45' (same item columns), Dutch norms. RCI 18 and cut-off 56 are "
        "from Timman et al. (2017), which supersede the earlier Dutch values of de Jong et al. "
        "(2007), 'The Outcome Questionnaire (OQ-45) in a Dutch population: a cross-cultural "
        "validation', Clin Psychol Psychother 14:288-301. Whether a score of exactly 56 counts as "
        "clinical is a convention (>= used here). Dutch reliability and SDs were not confirmed."
    ),
)

# --------------------------------------------------------------------------------------------------
# CORE family
# --------------------------------------------------------------------------------------------------

CORE10 = Instrument(
    name="core10",
    label="CORE-10",
    construct="general psychological distress",
    low=0,
    high=40,
    better="lower",
    n_items=10,
    reliability=0.90,
    reliability_kind="Cronbach's alpha, UK primary-care clinical sample",
    reliability_source=BARKHAM_2013,
    sd=7.7,
    sd_population="UK primary-care counselling clients at intake (n = 1835)",
    sd_source=CONNELL_BARKHAM_2007,
    fixed_rule=FixedRule(points=6, confidence=0.90, source=BARKHAM_2013),
    caseness=Caseness(threshold=11, clinical_if=">=", source=BARKHAM_2013),
    functional_norm=(4.7, 4.8),
    clinical_norm=(19.7, 7.7),
    norms_source=CONNELL_BARKHAM_2007,
    severity_bands=(
        SeverityBand("healthy / low level", 0, 10),
        SeverityBand("mild", 11, 14),
        SeverityBand("moderate", 15, 19),
        SeverityBand("moderate-to-severe", 20, 24),
        SeverityBand("severe", 25, 40),
    ),
    severity_source=BARKHAM_2013,
    risk_items=(
        RiskItem(
            item=6,
            column="core10_item6",
            low=0,
            high=4,
            wording="Made plans to end one's life",
            source=BARKHAM_2013,
        ),
    ),
    notes=(
        "Clinical score = sum of the 10 items (= item mean x 10). Reliable change index 6 points "
        "at 90% confidence (Barkham 2013); it follows from the intake SD 7.7 and alpha .90. For "
        "depression Barkham et al. report a cut-off of 13. Some guides split 0-10 into healthy "
        "(0-5) and low level (6-10); that split was not confirmed."
    ),
)

COREOM = Instrument(
    name="coreom",
    label="CORE-OM",
    construct="global psychological distress: well-being, problems, functioning, risk",
    low=0,
    high=40,
    better="lower",
    n_items=34,
    fixed_rule=FixedRule(points=5, confidence=None, source=CORE_IMS),
    caseness=Caseness(
        threshold=10,
        clinical_if=">=",
        source=CONNELL_2007,
        population="UK general population (n = 535) vs aggregated clinical sample (n = 10761)",
    ),
    risk_items=(
        RiskItem(9, "coreom_item9", 0, 4, "Thought of hurting oneself", EVANS_2002),
        RiskItem(16, "coreom_item16", 0, 4, "Made plans to end one's life", EVANS_2002),
        RiskItem(24, "coreom_item24", 0, 4, "Thought it would be better to be dead", EVANS_2002),
        RiskItem(
            34,
            "coreom_item34",
            0,
            4,
            "Hurt oneself physically or took dangerous risks with one's health",
            EVANS_2002,
        ),
    ),
    notes=(
        "Scored on the CLINICAL SCORE: mean of the answered items x 10 (0-40, may be fractional). "
        "Multiply a 0-4 mean-item score by 10 before use. Cut-off 9.9, rounded to 10 (Connell "
        "2007). Reliable change = change of 5 or more in the clinical score (0.5 on the mean); "
        "confidence level not stated. Risk domain = items 6, 9, 16, 22, 24, 34; only the four "
        "risk-to-self items are registered (6 and 22 are risk to others). Evans et al. (2002) "
        "report internal and test-retest reliabilities of 0.75-0.95; the total-score alpha and the "
        "severity bands of Barkham et al. (2006) were not re-read and are left None."
    ),
)

# --------------------------------------------------------------------------------------------------
# Depression (other)
# --------------------------------------------------------------------------------------------------

BDI2 = Instrument(
    name="bdi2",
    aliases=("BDI-II", "BDI2", "BDI"),
    label="BDI-II",
    construct="depression severity",
    low=0,
    high=63,
    better="lower",
    n_items=21,
    reliability=0.92,
    reliability_kind=(
        "Cronbach's alpha, psychiatric outpatients (n = 500); 0.93 in college students; "
        "1-week test-retest 0.93 (n = 26 outpatients)"
    ),
    reliability_source=BECK_1996,
    severity_bands=(
        SeverityBand("minimal", 0, 13),
        SeverityBand("mild", 14, 19),
        SeverityBand("moderate", 20, 28),
        SeverityBand("severe", 29, 63),
    ),
    severity_source=BECK_1996,
    risk_items=(
        RiskItem(
            item=9,
            column="bdi2_item9",
            low=0,
            high=3,
            wording="Suicidal thoughts or wishes",
            source=BECK_1996,
        ),
    ),
    notes="No published fixed reliable-change threshold or caseness cut-off is registered.",
)

HAMD17 = Instrument(
    name="hamd17",
    aliases=("HAM-D", "HAMD", "HRSD", "HDRS"),
    label="HAM-D 17",
    construct="depression severity (clinician-rated)",
    low=0,
    high=52,
    better="lower",
    n_items=17,
    severity_bands=(
        SeverityBand("none or mild", 0, 16),
        SeverityBand("moderate", 17, 23),
        SeverityBand("severe", 24, 52),
    ),
    severity_source=ZIMMERMAN_2013,
    risk_items=(
        RiskItem(
            item=3,
            column="hamd17_item3",
            low=0,
            high=4,
            wording="Suicide: from absent, through life not worth living, to suicide attempts",
            source=HAMILTON_1960,
        ),
    ),
    notes=(
        "Clinician-rated. Items are scored 0-4 or 0-2; total 0-52. Zimmerman et al. (2013) "
        "cut-offs: 17 (mild vs moderate) and 24 (moderate vs severe); their further split of the "
        "lowest band (0-7 no depression, 8-16 mild) was not confirmed and is not registered. "
        "Reliability is rater- and sample-dependent: none registered."
    ),
)

EPDS = Instrument(
    name="epds",
    label="EPDS",
    construct="perinatal depression",
    low=0,
    high=30,
    better="lower",
    n_items=10,
    reliability=0.87,
    reliability_kind="standardised alpha, validation sample (84 postnatal women); split-half 0.88",
    reliability_source=COX_1987,
    caseness=Caseness(
        threshold=13,
        clinical_if=">=",
        source=COX_1987,
        population="postnatal women; probable major depression (12/13 threshold)",
    ),
    risk_items=(
        RiskItem(
            item=10,
            column="epds_item10",
            low=0,
            high=3,
            wording="The thought of harming oneself has occurred",
            source=COX_1987,
        ),
    ),
    notes=(
        "A threshold of >= 10 may be used when greater sensitivity is required. Any score above 0 "
        "on item 10 should prompt further assessment whatever the total."
    ),
)

# --------------------------------------------------------------------------------------------------
# Distress, trauma, functioning
# --------------------------------------------------------------------------------------------------

K10 = Instrument(
    name="k10",
    label="K10",
    construct="non-specific psychological distress",
    low=10,
    high=50,
    better="lower",
    n_items=10,
    severity_bands=(
        SeverityBand("low", 10, 15),
        SeverityBand("moderate", 16, 21),
        SeverityBand("high", 22, 29),
        SeverityBand("very high", 30, 50),
    ),
    severity_source=ABS_K10,
    notes=(
        f"Instrument: {KESSLER_2002} Items scored 1-5 (Australian convention, total 10-50); the "
        "US convention scores 0-4 (total 0-40): subtract 10 from the total before using US "
        "thresholds. No caseness, reliability or reliable-change value is registered."
    ),
)

PCL5 = Instrument(
    name="pcl5",
    label="PCL-5",
    construct="PTSD symptom severity (DSM-5)",
    low=0,
    high=80,
    better="lower",
    n_items=20,
    reliability=0.94,
    reliability_kind=(
        "Cronbach's alpha, trauma-exposed college students (n = 278); test-retest 0.82"
    ),
    reliability_source=BLEVINS_2015,
    caseness=Caseness(
        threshold=33,
        clinical_if=">=",
        source=NCPTSD_PCL5,
        population="probable PTSD; the recommended cut-point range is 31-33 (33 registered)",
    ),
    notes=(
        "No fixed reliable-change rule is registered: the National Center for PTSD suggests 5 "
        "points as a minimum for treatment response and 10 points for clinically meaningful "
        "change (extrapolated from the DSM-IV PCL); these are not reliable-change indices. No "
        "suicide item."
    ),
)

WSAS = Instrument(
    name="wsas",
    label="WSAS",
    construct="functional impairment (work, home, social and private leisure, relationships)",
    low=0,
    high=40,
    better="lower",
    n_items=5,
    reliability=0.73,
    reliability_kind=(
        "test-retest correlation (Cronbach's alpha ranged 0.70-0.94 across the depression and "
        "OCD samples)"
    ),
    reliability_source=MUNDT_2002,
    severity_bands=(
        SeverityBand("subclinical", 0, 9),
        SeverityBand("significant impairment, less severe symptoms", 10, 20),
        SeverityBand("moderately severe or worse", 21, 40),
    ),
    severity_source=MUNDT_2002,
    notes=(
        "Five items scored 0-8. Bands: < 10 subclinical, 10-20 significant functional impairment "
        "but less severe clinical symptomatology, > 20 moderately severe or worse (depression and "
        "OCD samples). Alpha is a range, so the test-retest value is registered."
    ),
)

# --------------------------------------------------------------------------------------------------
# PCOMS: outcome and alliance (higher is better)
# --------------------------------------------------------------------------------------------------

ORS = Instrument(
    name="ors",
    label="ORS",
    construct="well-being (individual, interpersonal, social, overall)",
    low=0,
    high=40,
    better="higher",
    n_items=4,
    reliability=0.93,
    reliability_kind="Cronbach's alpha, clinical sample aged 13+ (n = 3611)",
    reliability_source=DUNCAN_2006,
    fixed_rule=FixedRule(points=5, confidence=None, source=MILLER_2003),
    caseness=Caseness(threshold=25, clinical_if="<", source=MILLER_2003, population="adults (13+)"),
    notes=(
        "Higher is better: a score below 25 is in the clinical range. Some PCOMS tools treat 25 "
        "itself as clinical (<= 25); the published cut-off is 25. Four 10-cm visual analogue "
        "lines scored 0-10. The child version (CORS) uses cut-off 32 and is not registered."
    ),
)

SRS = Instrument(
    name="srs",
    label="SRS",
    construct="therapeutic alliance (session rating)",
    low=0,
    high=40,
    better="higher",
    n_items=4,
    caseness=Caseness(
        threshold=36,
        clinical_if="<",
        source=f"{DUNCAN_2003}; {PCOMS_SRS}",
        population="alliance concern threshold (not a clinical caseness)",
    ),
    notes=(
        "Alliance measure, higher is better. A total below 36 flags a possible alliance problem "
        "to discuss with the client. Reliability (.88 in Duncan et al. 2003) was not confirmed "
        "and is left None."
    ),
)

# --------------------------------------------------------------------------------------------------
# Secondary measures (hopelessness)
# --------------------------------------------------------------------------------------------------

BHS = Instrument(
    name="bhs",
    label="BHS",
    construct="hopelessness (negative expectations about the future)",
    low=0,
    high=20,
    better="lower",
    n_items=20,
    reliability=0.93,
    reliability_kind=(
        "KR-20 internal consistency, 294 hospitalised patients after a recent suicide attempt "
        "(the manual reports .82-.93 across sample groups)"
    ),
    reliability_source=f"{BECK_1974}; {BECK_STEER_1988}",
    notes=(
        "Beck Hopelessness Scale: 20 true/false statements, each scored 1 when answered in the "
        "hopeless direction, so the total is 0-20 and higher is worse. A secondary measure for "
        "SecondaryWorsening (secondary={'bhs': 'bhs'}); with no registered SD the critical "
        "difference uses the SD of the intake scores in the data. Test-retest reliability is "
        "lower (.69 over one week, .66 over six weeks: hopelessness is a state, not a trait), "
        "so the internal consistency gives the narrower critical difference. No SD, cut-off or "
        "severity bands are registered (not confirmed)."
    ),
    aliases=("beck hopelessness scale",),
)

BUILTIN_INSTRUMENTS: tuple[Instrument, ...] = (
    PHQ9,
    GAD7,
    OQ45,
    OQ45_NL,
    CORE10,
    COREOM,
    BDI2,
    K10,
    ORS,
    SRS,
    PCL5,
    EPDS,
    HAMD17,
    WSAS,
    BHS,
)
