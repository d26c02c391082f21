"""Exact planted headline figures: integer yearly counts whose changes round to given percents.

The Thames Valley VRU's annual update reports "knife crime down 6% from last year and at
its lowest level since 2016", "personal robbery down 23%" and "positive outcome rate for
violence with injury up 23%". The synthetic world plants these as exact integer totals, so
the realised figures round to exactly these numbers at any ``scale``.

A percent change is ``100 * (after - before) / before``; it "rounds to" an integer target
when it lies strictly within half a point of it (so no tie-breaking rule matters).
"""

from __future__ import annotations

KNIFE_SCHEDULE = {2015: 880, 2016: 1010, 2017: 1240, 2018: 1290, 2019: 1300, 2020: 1222,
                  2021: 1240}
KNIFE_RATE_OTHER_YEARS = 0.07     # share of knife-eligible crimes flagged outside the schedule
KNIFE_CHANGE_2020 = -6
ROBBERY_CHANGE_2020 = -23
VWI_POSITIVE_RATE = {2015: 0.14, 2016: 0.13, 2017: 0.115, 2018: 0.10, 2019: 0.095,
                     2021: 0.12}
VWI_POSITIVE_RATE_OTHER = 0.11
VWI_RATE_CHANGE_2020 = 23


def pct_change(before: float, after: float) -> float:
    """Percent change from ``before`` to ``after``."""
    return 100.0 * (after - before) / before


def rounds_to(value: float, target: int) -> bool:
    """Whether ``value`` lies strictly within half a unit of ``target``."""
    return abs(value - target) < 0.5 - 1e-9


def plant_change(before: int, target_pct: int) -> tuple[int, int]:
    """Smallest ``before' >= before`` and an ``after`` whose change rounds to ``target_pct``.

    ``after`` is the integer nearest ``before' * (1 + target/100)``, tried with its
    neighbours; small counts are raised until a pair exists.
    """
    b = max(int(before), 1)
    while True:
        ideal = b * (1.0 + target_pct / 100.0)
        for a in sorted({int(round(ideal)), int(ideal), int(ideal) + 1},
                        key=lambda a: abs(a - ideal)):
            if a >= 0 and rounds_to(pct_change(b, a), target_pct):
                return b, a
        b += 1


def knife_totals(years: list[int], scale: float) -> dict[int, int]:
    """Planted knife crime totals for the scheduled years among ``years``.

    When 2016-2020 are all present the plant also guarantees: 2020 is 6% below 2019 (as
    rounded), below 2017, 2018 and 2019, and 2016 is at or below 2020 ("lowest since 2016").
    """
    k = {y: max(1, round(v * scale)) for y, v in KNIFE_SCHEDULE.items() if y in years}
    if {2019, 2020} <= set(k):
        k[2019], k[2020] = plant_change(k[2019], KNIFE_CHANGE_2020)
        for y in (2017, 2018):
            if y in k:
                k[y] = max(k[y], k[2020] + 1)
        if 2016 in k:
            k[2016] = min(k[2016], k[2020])
    return k


def positive_counts(crimes: dict[int, int]) -> tuple[dict[int, int], dict[int, int]]:
    """Planted positive outcomes for violence with injury, per year, given yearly crimes.

    2019 and 2020 (when both present) are chosen so the positive outcome *rate* rises by
    exactly 23% (relative change of the rate, rounded); other years follow fixed rates.
    With very small counts no pair may exist: 2020's crimes are then raised one at a time
    until one does.

    Returns
    -------
    (positives, crimes)
        Year -> positive outcomes, and year -> crimes (2020 possibly raised).
    """
    crimes = dict(crimes)
    out = {y: int(round(VWI_POSITIVE_RATE.get(y, VWI_POSITIVE_RATE_OTHER) * n))
           for y, n in crimes.items()}
    if 2019 in crimes and 2020 in crimes:
        v19 = crimes[2019]
        for v20 in range(crimes[2020], crimes[2020] + 10 * v19 + 100):
            pair = _rate_pair(v19, v20)
            if pair is not None:
                out[2019], out[2020] = pair
                crimes[2020] = v20
                break
        else:  # pragma: no cover - a pair always exists once 2020 is large enough
            raise ValueError(f"cannot plant a +23% positive outcome rate from {v19} crimes")
    return out, crimes


def _rate_pair(v19: int, v20: int) -> tuple[int, int] | None:
    """Positive counts (2019, 2020) nearest the intended 2019 rate with a +23% rate change."""
    want19 = VWI_POSITIVE_RATE[2019] * v19
    best: tuple[float, int, int] | None = None
    for p19 in sorted(range(1, v19 + 1), key=lambda p: abs(p - want19)):
        if best is not None and abs(p19 - want19) > best[0]:
            break
        r19 = p19 / v19
        ideal = r19 * (1 + VWI_RATE_CHANGE_2020 / 100.0) * v20
        for p20 in (int(ideal) - 1, int(ideal), int(ideal) + 1, int(ideal) + 2):
            if 0 < p20 <= v20 and rounds_to(pct_change(r19, p20 / v20), VWI_RATE_CHANGE_2020):
                cost = abs(p19 - want19) + abs(p20 - ideal)
                if best is None or cost < best[0]:
                    best = (cost, p19, p20)
    return None if best is None else (best[1], best[2])
