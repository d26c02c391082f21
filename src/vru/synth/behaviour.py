"""How each offence subgroup behaves: timing, deprivation gradient, windows, flags, outcomes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AGE_BANDS = ("0-9", "10-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+", "unknown")

# Home Office outcome types (1-22; type 19 was withdrawn). "Positive" follows the usual
# definition of police.uk / HMICFRS analyses: charge/summons, cautions, offences taken into
# consideration, penalty notices, cannabis/khat warnings and community resolutions.
POSITIVE_OUTCOMES = (1, 2, 3, 4, 6, 7, 8)
OUTCOME_NAMES = {
    1: "Charged/summonsed", 2: "Caution - youth", 3: "Caution - adult",
    4: "Taken into consideration", 5: "Offender died", 6: "Penalty notice for disorder",
    7: "Cannabis/khat warning", 8: "Community resolution",
    9: "Prosecution not in the public interest (CPS)",
    10: "Formal action not in the public interest (police)",
    11: "Prosecution prevented - suspect under age",
    12: "Prosecution prevented - suspect too ill",
    13: "Prosecution prevented - victim/key witness dead or too ill",
    14: "Evidential difficulties: suspect not identified; victim does not support",
    15: "Evidential difficulties: suspect identified; victim supports",
    16: "Evidential difficulties: victim does not support",
    17: "Prosecution time limit expired",
    18: "Investigation complete - no suspect identified",
    20: "Action undertaken by another body/agency",
    21: "Further investigation not in the public interest",
    22: "Diversionary, educational or intervention activity",
}
_POSITIVE_MIX = {1: 0.60, 2: 0.04, 3: 0.08, 4: 0.02, 6: 0.04, 7: 0.06, 8: 0.16}
_POSITIVE_MIX_DRUGS = {1: 0.35, 2: 0.05, 3: 0.05, 4: 0.0, 6: 0.05, 7: 0.30, 8: 0.20}
_NEGATIVE_MIX = {
    "person": {5: 0.002, 9: 0.01, 10: 0.02, 11: 0.005, 12: 0.003, 13: 0.005, 14: 0.12,
               15: 0.18, 16: 0.30, 17: 0.01, 18: 0.30, 20: 0.03, 21: 0.02, 22: 0.01},
    "property": {9: 0.005, 10: 0.01, 14: 0.05, 15: 0.08, 16: 0.08, 17: 0.005, 18: 0.74,
                 20: 0.01, 21: 0.015, 22: 0.005},
    "state": {9: 0.10, 10: 0.12, 15: 0.30, 17: 0.08, 20: 0.12, 21: 0.18, 22: 0.10},
}

# Offences on which knife_flag may be Y: the ONS "offences involving a knife or sharp
# instrument" selection - homicide, attempted murder, threats to kill, assault with injury,
# assault with intent to cause serious harm, robbery, rape and sexual assault. Weights make
# a knife likelier in the gravest of them.
KNIFE_WEIGHTS = {
    "1": 0.45, "2": 0.55, "3B": 0.12, "5D": 0.30, "8N": 0.035, "8P": 0.03, "8S": 0.02,
    "34A": 0.10, "34B": 0.14, "19C": 0.01, "19D": 0.005, "19E": 0.002, "19F": 0.01,
    "19G": 0.005, "19H": 0.002, "17A": 0.005, "17B": 0.002, "20A": 0.005, "20B": 0.002,
}


@dataclass(frozen=True)
class Behaviour:
    """Behaviour of one offence subgroup."""

    profile: str              # timing profile in timing.PROFILES
    kappa: float              # deprivation gradient: weight exp(kappa * (10 - decile) / 9)
    window_share: float       # share recorded with a from/to window
    window_median_h: float    # median window length, hours
    domestic_share: float     # share flagged domestic
    positive_rate: float      # share with a positive outcome (violence with injury: planted)
    outcome_kind: str         # "person" | "property" | "state"
    ages: tuple[float, ...]   # victim age band weights, AGE_BANDS order


_VIOLENT = (1, 8, 22, 25, 18, 13, 7, 3, 3)
_NONE = (0, 0, 0, 0, 0, 0, 0, 0, 1)
_ADULT = (0, 1, 9, 22, 23, 20, 14, 9, 2)
BEHAVIOUR: dict[str, Behaviour] = {
    "Violence with injury": Behaviour("violence", 1.2, 0.05, 1, 0.35, 0.10, "person", _VIOLENT),
    "Violence without injury": Behaviour("violence", 1.0, 0.05, 1, 0.40, 0.10, "person",
                                         _VIOLENT),
    "Homicide": Behaviour("violence", 1.2, 0.10, 2, 0.30, 0.60, "person",
                          (2, 5, 20, 25, 18, 14, 8, 6, 2)),
    "Stalking and harassment": Behaviour("daytime", 0.6, 0.30, 48, 0.50, 0.07, "person",
                                         (0, 8, 20, 25, 20, 14, 8, 3, 2)),
    "Rape offences": Behaviour("evening", 0.8, 0.30, 3, 0.30, 0.03, "person",
                               (6, 22, 22, 18, 12, 8, 4, 2, 6)),
    "Other sexual offences": Behaviour("evening", 0.6, 0.20, 2, 0.15, 0.05, "person",
                                       (6, 22, 22, 18, 12, 8, 4, 2, 6)),
    "Domestic burglary": Behaviour("residential", 0.7, 0.55, 8, 0.0, 0.05, "property",
                                   (0, 0, 5, 20, 22, 20, 15, 15, 3)),
    "Non-domestic burglary": Behaviour("nonresidential", 0.5, 0.70, 14, 0.0, 0.06,
                                       "property", _NONE),
    "Theft from a vehicle": Behaviour("vehicle", 0.6, 0.65, 10, 0.0, 0.03, "property", _ADULT),
    "Theft of a motor vehicle": Behaviour("vehicle", 0.6, 0.60, 9, 0.0, 0.04, "property",
                                          _ADULT),
    "Vehicle interference": Behaviour("vehicle", 0.6, 0.50, 8, 0.0, 0.03, "property", _ADULT),
    "Theft from the person": Behaviour("retail", 0.3, 0.20, 1, 0.0, 0.02, "property",
                                       (0, 10, 25, 22, 15, 12, 8, 6, 2)),
    "Bicycle theft": Behaviour("retail", 0.3, 0.50, 6, 0.0, 0.02, "property",
                               (2, 15, 20, 25, 18, 10, 6, 2, 2)),
    "Shoplifting": Behaviour("retail", 0.4, 0.02, 1, 0.0, 0.25, "property", _NONE),
    "Other theft offences": Behaviour("daytime", 0.4, 0.30, 4, 0.05, 0.07, "property",
                                      (0, 3, 12, 22, 20, 18, 12, 10, 3)),
    "Robbery of business property": Behaviour("evening", 1.0, 0.03, 1, 0.0, 0.12, "property",
                                              _NONE),
    "Robbery of personal property": Behaviour("evening", 1.2, 0.03, 1, 0.02, 0.09, "person",
                                              (0, 30, 30, 18, 10, 6, 3, 2, 1)),
    "Arson": Behaviour("evening", 0.9, 0.30, 6, 0.05, 0.05, "property", _ADULT),
    "Criminal damage": Behaviour("evening", 0.9, 0.40, 8, 0.15, 0.07, "property", _ADULT),
    "Possession of drugs": Behaviour("patrol", 1.3, 0.0, 1, 0.0, 0.70, "state", _NONE),
    "Trafficking of drugs": Behaviour("patrol", 1.3, 0.0, 1, 0.0, 0.55, "state", _NONE),
    "Possession of weapons offences": Behaviour("patrol", 1.3, 0.0, 1, 0.0, 0.55, "state",
                                                _NONE),
    "Public order offences": Behaviour("violence", 0.9, 0.03, 1, 0.10, 0.15, "person",
                                       (0, 8, 18, 22, 18, 14, 8, 4, 8)),
    "Miscellaneous crimes": Behaviour("daytime", 0.6, 0.10, 24, 0.0, 0.30, "state", _NONE),
}
_CHILD_AGES = (35, 60, 0, 0, 0, 0, 0, 0, 5)


def age_weights(subgroup: str, description: str) -> np.ndarray:
    """Victim age band weights for an offence; offences against children use child bands."""
    d = description.lower()
    if "child" in d or "under 13" in d or "under 16" in d:
        w = _CHILD_AGES
    else:
        w = BEHAVIOUR[subgroup].ages
    a = np.asarray(w, dtype=np.float64)
    return a / a.sum()


def outcome_mixes(subgroup: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(positive types, their weights, other types, their weights) for a subgroup."""
    pos = _POSITIVE_MIX_DRUGS if "drugs" in subgroup.lower() else _POSITIVE_MIX
    neg = _NEGATIVE_MIX[BEHAVIOUR[subgroup].outcome_kind]
    pk = np.array(list(pos), dtype=np.int64)
    pw = np.array(list(pos.values()), dtype=np.float64)
    nk = np.array(list(neg), dtype=np.int64)
    nw = np.array(list(neg.values()), dtype=np.float64)
    return pk, pw / pw.sum(), nk, nw / nw.sum()
