"""Headline KPI statistics: periods, changes with their tests, "lowest since", and wording.

Pure functions on counts the service hands over (already released for the reader). A change
is a pair of counts with its test: the exact conditional test for two Poisson counts (the
current count given the total is binomial with the current period's share of the exposure)
and the two-proportion test for rates such as a positive outcome rate. The wording never
calls a change a rise or a fall when its test says it could be noise.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np

#: A change is called a rise or a fall only when its two-sided p-value is below this.
ALPHA = 0.05

_YEAR = re.compile(r"^(\d{4})$")
_FY = re.compile(r"^(?:FY)?(\d{4})/(\d{2})$", re.IGNORECASE)
_ROLLING = re.compile(r"^(?:rolling|12m)(?::(\d{4}-\d{2}))?$", re.IGNORECASE)
_DAYS = re.compile(r"^28d(?::(\d{4}-\d{2}-\d{2}))?$", re.IGNORECASE)
_MONTHS = re.compile(r"^(\d{4}-\d{2})(?:\.\.(\d{4}-\d{2}))?$")

PERIOD_HELP = ("2020 (calendar year), 2020/21 (financial year, April-March), rolling:2020-06 "
               "(12 months to June 2020; `rolling` alone ends at the last month held), "
               "28d:2020-12-31 (28 days to that day; `28d` alone ends at the last day held), "
               "2020-01..2020-06 (any run of months)")


class PeriodError(ValueError):
    """A period written in a way vru cannot read; the message shows the forms it reads."""


def _month_start(text: str) -> date:
    y, m = int(text[:4]), int(text[5:7])
    if not 1 <= m <= 12:
        raise PeriodError(f"{text!r}: months are 01..12")
    return date(y, m, 1)


def _month_end(d: date) -> date:
    return date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def _add_months(d: date, k: int) -> date:
    i = d.year * 12 + d.month - 1 + k
    return date(i // 12, i % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """A reporting period: first and last day (inclusive), its kind and how it is written.

    Attributes
    ----------
    kind
        ``year``, ``financial_year``, ``rolling_12``, ``days_28`` or ``months``.
    start, end
        First and last day, inclusive.
    """

    kind: str
    start: date
    end: date

    @property
    def label(self) -> str:
        """The period as people write it: ``2020``, ``2020/21``, ``Jul 2019-Jun 2020``..."""
        if self.kind == "year":
            return str(self.start.year)
        if self.kind == "financial_year":
            return f"{self.start.year}/{(self.start.year + 1) % 100:02d}"
        if self.kind == "days_28":
            return f"28 days {self.start.isoformat()} to {self.end.isoformat()}"
        first, last = self.start.strftime("%b %Y"), self.end.strftime("%b %Y")
        return first if first == last else f"{first} to {last}"

    @property
    def days(self) -> int:
        """Its length in days: the exposure of a count over it."""
        return (self.end - self.start).days + 1

    @property
    def month_grained(self) -> bool:
        """Whether it is a whole number of calendar months (month-precision data suffice)."""
        return self.kind != "days_28"

    def months(self) -> list[str]:
        """Every calendar month (YYYY-MM) it touches."""
        out, d = [], date(self.start.year, self.start.month, 1)
        while d <= self.end:
            out.append(f"{d.year:04d}-{d.month:02d}")
            d = _add_months(d, 1)
        return out

    def previous(self) -> Period:
        """The period it is compared with by default: the one of the same kind just before."""
        if self.kind == "days_28":
            return replace(self, start=self.start - timedelta(days=28),
                           end=self.start - timedelta(days=1))
        n = len(self.months())
        start = _add_months(self.start, -n)
        return replace(self, start=start, end=_month_end(_add_months(start, n - 1)))

    def years_back(self, k: int) -> Period | None:
        """The same period ``k`` years earlier (None for 28-day periods, which have no
        yearly history worth ranking)."""
        if self.kind == "days_28":
            return None
        n = len(self.months())
        start = _add_months(self.start, -12 * k)
        return replace(self, start=start, end=_month_end(_add_months(start, n - 1)))

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "label": self.label}


def parse_period(text: str, last_day: date | None = None) -> Period:
    """Read a period (see `PERIOD_HELP`).

    Parameters
    ----------
    text
        ``2020``, ``2020/21``, ``rolling[:YYYY-MM]``, ``28d[:YYYY-MM-DD]``,
        ``YYYY-MM[..YYYY-MM]``.
    last_day
        The last day the data hold: where ``rolling`` and ``28d`` end when not told.

    Raises
    ------
    PeriodError
        With the forms that are read.
    """
    t = text.strip()
    if m := _YEAR.match(t):
        y = int(m.group(1))
        return Period("year", date(y, 1, 1), date(y, 12, 31))
    if m := _FY.match(t):
        y = int(m.group(1))
        if int(m.group(2)) != (y + 1) % 100:
            raise PeriodError(f"{text!r}: a financial year runs April {y} to March {y + 1}, "
                              f"written {y}/{(y + 1) % 100:02d}")
        return Period("financial_year", date(y, 4, 1), date(y + 1, 3, 31))
    if m := _ROLLING.match(t):
        if m.group(1):
            end = _month_end(_month_start(m.group(1)))
        elif last_day is not None:  # the last whole month held
            end = last_day if last_day == _month_end(last_day) else (
                date(last_day.year, last_day.month, 1) - timedelta(days=1))
        else:
            raise PeriodError("rolling needs its last month (rolling:2020-06) when the lake "
                              "holds no data yet")
        return Period("rolling_12", _add_months(date(end.year, end.month, 1), -11), end)
    if m := _DAYS.match(t):
        if m.group(1):
            try:
                end = date.fromisoformat(m.group(1))
            except ValueError:
                raise PeriodError(f"{text!r}: {m.group(1)} is not a day") from None
        elif last_day is not None:
            end = last_day
        else:
            raise PeriodError("28d needs its last day (28d:2020-12-31) when the lake holds no "
                              "data yet")
        return Period("days_28", end - timedelta(days=27), end)
    if m := _MONTHS.match(t):
        start = _month_start(m.group(1))
        end = _month_end(_month_start(m.group(2) or m.group(1)))
        if end < start:
            raise PeriodError(f"{text!r}: the first month comes after the last")
        return Period("months", start, end)
    raise PeriodError(f"cannot read the period {text!r}; write {PERIOD_HELP}")


# -- tests ---------------------------------------------------------------------------------


def poisson_test(current: int, previous: int, t_current: float = 1.0,
                 t_previous: float = 1.0) -> float:
    """Two-sided p-value that two Poisson counts share one rate (exposure-adjusted).

    The exact conditional test: given the total ``current + previous``, the current count is
    binomial with probability ``t_current / (t_current + t_previous)`` when the rates are
    equal (exposures are days, or person-days).

    Parameters
    ----------
    current, previous
        The two counts.
    t_current, t_previous
        Their exposures.

    Returns
    -------
    float
        The p-value (1.0 when both counts are 0).
    """
    n = int(current) + int(previous)
    if n == 0:
        return 1.0
    p = t_current / (t_current + t_previous)
    k = np.arange(n + 1)
    lf = _log_factorials(n)
    logpmf = lf[n] - lf[k] - lf[n - k] + k * math.log(p) + (n - k) * math.log1p(-p)
    return _two_sided(logpmf, int(current))


def two_proportion_test(x_current: int, n_current: int, x_previous: int,
                        n_previous: int) -> float:
    """Two-sided p-value that two proportions are equal.

    The pooled z test; Fisher's exact test when any expected cell is below 5 (where the
    normal approximation misleads).

    Returns
    -------
    float
        The p-value; NaN when either denominator is 0.
    """
    if n_current <= 0 or n_previous <= 0:
        return math.nan
    table = [[x_current, n_current - x_current], [x_previous, n_previous - x_previous]]
    pooled = (x_current + x_previous) / (n_current + n_previous)
    expected = [n * q for n in (n_current, n_previous) for q in (pooled, 1 - pooled)]
    if min(expected) < 5:
        return fisher_exact(table)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_current + 1 / n_previous))
    if se == 0:
        return 1.0
    z = (x_current / n_current - x_previous / n_previous) / se
    return float(math.erfc(abs(z) / math.sqrt(2)))


def fisher_exact(table: Sequence[Sequence[int]]) -> float:
    """Two-sided p-value of Fisher's exact test of a 2 x 2 table (margins fixed): the
    probability of every table no more likely than the one observed."""
    (a, b), (c, d) = table
    row, col, n = a + b, a + c, a + b + c + d
    lo, hi = max(0, col - (n - row)), min(row, col)
    x = np.arange(lo, hi + 1)
    lf = _log_factorials(n)
    logpmf = (lf[row] + lf[n - row] + lf[col] + lf[n - col] - lf[n] - lf[x] - lf[row - x]
              - lf[col - x] - lf[n - row - col + x])
    return _two_sided(logpmf, a - lo)


def _log_factorials(n: int) -> np.ndarray:
    """log(k!) for k = 0..n (a cumulative sum of logs: exact enough for p-values)."""
    return np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=np.float64)))])


def _two_sided(logpmf: np.ndarray, observed: int) -> float:
    """Sum of the probabilities no larger than the observed one's (the "minlike" rule, with
    the same relative tolerance as SciPy so ties of equal probability are kept)."""
    top = logpmf.max()
    pmf = np.exp(logpmf - top)
    keep = pmf <= pmf[observed] * (1 + 1e-7)
    return float(min(1.0, pmf[keep].sum() * math.exp(top)))


def pct_change(previous: float | None, current: float | None) -> float | None:
    """Percent change from ``previous`` to ``current`` (None when unknown or from 0)."""
    if previous is None or current is None or previous == 0:
        return None
    return 100.0 * (current - previous) / previous


def lowest_since(current: float, history: Sequence[tuple[int, float | None]]) -> int | None:
    """The year of the latest earlier period at or below ``current``, when the period just
    before was above it ("lowest since 2016").

    Parameters
    ----------
    current
        This period's value.
    history
        (year, value) of the same period in earlier years, most recent first; a None value
        (not held, or suppressed) ends the search, because nothing is known beyond it.

    Returns
    -------
    int | None
        The year, or None when the previous period was not above ``current`` or no earlier
        period at or below it is known (a record low is reported by `record_low`).
    """
    return _since(current, history, lambda v: v <= current)


def highest_since(current: float, history: Sequence[tuple[int, float | None]]) -> int | None:
    """As `lowest_since`, for the latest earlier period at or above ``current``."""
    return _since(current, history, lambda v: v >= current)


def _since(current: float, history: Sequence[tuple[int, float | None]], stop) -> int | None:
    if not history or history[0][1] is None or stop(history[0][1]):
        return None
    for year, value in history[1:]:
        if value is None:
            return None
        if stop(value):
            return year
    return None


def record_low(current: float, history: Sequence[tuple[int, float | None]]) -> int | None:
    """When ``current`` is below every earlier period held (all known), the first year of
    that record; else None."""
    if not history or any(v is None for _, v in history):
        return None
    return history[-1][0] if all(v > current for _, v in history) else None


# -- wording --------------------------------------------------------------------------------


def _n(v: float | None) -> str:
    return "*" if v is None else f"{v:,.0f}"


def _pct(v: float) -> str:
    return f"{abs(v):.0f}%"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}" if p < 0.01 else f"p = {p:.2f}"


def describe_change(label: str, previous: float | None, current: float | None,
                    p_value: float | None, *, alpha: float = ALPHA,
                    since: int | None = None, rate: tuple[str, str] | None = None,
                    plural: bool = False) -> str:
    """One sentence about a change, honest about noise.

    Parameters
    ----------
    label
        What is measured ("Knife crime", "The positive outcome rate for ...").
    previous, current
        The two values (counts; or rates when ``rate`` is given).
    p_value
        Its test's two-sided p-value.
    alpha
        Below this the change is called a rise or a fall.
    since
        A "lowest / highest since" year to add.
    rate
        (previous, current) as text (e.g. ``"9.5%"``) when the values are rates.
    plural
        The label is plural ("ED assault attendances are down ...").

    Returns
    -------
    str
        ``"Knife crime is down 6% (1,300 → 1,222; p = 0.003)"`` or
        ``"Knife crime: no significant change (1,300 → 1,262; p = 0.47)"``.
    """
    pair = (f"{rate[0]} → {rate[1]}" if rate else f"{_n(previous)} → {_n(current)}")
    change = pct_change(previous, current)
    if change is None or p_value is None or math.isnan(p_value):
        why = ("too few to compare" if previous in (None, 0) or current is None
               else "no test possible")
        return f"{label}: {why} ({pair})"
    if p_value < alpha and change != 0:
        word = "down" if change < 0 else "up"
        text = f"{label} {'are' if plural else 'is'} {word} {_pct(change)} ({pair}; {_p(p_value)})"
        if since is not None:
            text += f", the {'lowest' if change < 0 else 'highest'} since {since}"
        return text
    sign = "−" if change < 0 else "+"
    text = (f"{label}: no significant change ({pair}, {sign}{_pct(change)}; {_p(p_value)}, "
            "within what chance alone gives)")
    if since is not None:
        text += f"; the {'lowest' if change < 0 else 'highest'} since {since}"
    return text
