"""When violence happens: aoristic hour × weekday matrix, month-of-year seasonality, monthly trend.

Aoristic apportioning (Ratcliffe 2002): an event known only to lie between ``start`` and ``end``
has unit weight spread *uniformly in time* over that window, so each hour of the week receives
the fraction of the window that falls in it (an event from 23:30 to 01:30 gives 0.25, 0.5,
0.25 to three hours).  Events with an exact time (no end, or end = start) give weight 1 to their
hour.  Windows of 7 days or more carry no hour-of-week information: they are capped, i.e.
spread evenly over all 168 hours of the week (exactly what a 7-day window gives).  Weights
therefore always sum to the number of events.  Times are local clock times (Europe/London);
convert time-zone-aware values to local naive times first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from vru.analysis.mann_kendall import MannKendallResult, mann_kendall
from vru.lake.coverage import month_runs

__all__ = [
    "MonthlyTrend",
    "WEEKDAYS",
    "hour_weekday_matrix",
    "month_of_year",
    "monthly_trend",
]

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
WEEK_HOURS = 168
#: Windows at least this long (hours) are spread evenly over the week.
MAX_SPAN_HOURS = 168.0
_MONDAY = np.datetime64("1970-01-05T00:00", "ns")  # the first Monday after the Unix epoch


def _to_ns(values: ArrayLike) -> np.ndarray:
    arr = pd.to_datetime(pd.Series(np.asarray(values).ravel()), errors="coerce")
    if getattr(arr.dt, "tz", None) is not None:
        arr = arr.dt.tz_localize(None)
    return arr.to_numpy(dtype="datetime64[ns]")


def _box_mass(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mass per week-hour of unit boxes uniform on [a, b) (0 ≤ a < 168, b − a < 168).

    With breakpoints x (+1/span at a, −1/span at b) the cumulative mass at an integer hour h is
    ``G(h) = Σ_{x<h} w·(h − x) = h·W(h) − XW(h)``, where W and XW are running sums of w and
    w·x; the bins of a two-week line are then folded onto one week.
    """
    length = 2 * WEEK_HOURS
    dens = 1.0 / (b - a)
    x = np.concatenate([a, b])
    w = np.concatenate([dens, -dens])
    k = np.floor(x).astype(np.int64)
    w_sum = np.concatenate([[0.0], np.cumsum(np.bincount(k, weights=w, minlength=length))])
    xw_sum = np.concatenate([[0.0], np.cumsum(np.bincount(k, weights=w * x, minlength=length))])
    h = np.arange(length + 1)
    g = h * w_sum[: length + 1] - xw_sum[: length + 1]
    per_hour = np.diff(g)
    return per_hour[:WEEK_HOURS] + per_hour[WEEK_HOURS:]


def hour_weekday_matrix(
    start: ArrayLike, end: ArrayLike | None = None, max_span_hours: float = MAX_SPAN_HOURS
) -> pd.DataFrame:
    """Events per weekday (rows, Monday first) and hour of day (columns 0–23), aoristic.

    Parameters
    ----------
    start : array_like of datetime
        Earliest possible time of each event (the exact time if known).
    end : array_like of datetime, optional
        Latest possible time; missing or equal to ``start`` means the time is exact.
    max_span_hours : float, default 168
        Windows this long or longer are spread evenly over the whole week.

    Returns
    -------
    pandas.DataFrame
        7 × 24 weights summing to the number of events.  ``df.attrs`` records ``n_events``,
        ``n_exact``, ``n_window`` and ``n_capped``.
    """
    s = _to_ns(start)
    if np.isnat(s).any():
        raise ValueError(
            f"start times missing or unparseable (first at row {int(np.isnat(s).argmax())})"
        )
    e = s.copy() if end is None else _to_ns(end)
    if e.shape != s.shape:
        raise ValueError(f"{s.size} start times but {e.size} end times")
    e = np.where(np.isnat(e), s, e)
    hours_s = (s - _MONDAY).astype(np.int64) / 3.6e12
    span = (e - s).astype(np.int64) / 3.6e12
    if (span < 0).any():
        bad = np.flatnonzero(span < 0)
        raise ValueError(f"{bad.size} events end before they start (first at row {int(bad[0])})")
    pos = np.mod(hours_s, WEEK_HOURS)  # position in the week, hours since Monday 00:00
    exact = span == 0
    capped = span >= max_span_hours
    window = ~exact & ~capped
    week = np.zeros(WEEK_HOURS)
    # exact times: whole weight in their hour
    week += np.bincount(np.floor(pos[exact]).astype(np.int64) % WEEK_HOURS, minlength=WEEK_HOURS)
    # capped windows: flat over the week
    week += capped.sum() / WEEK_HOURS
    if window.any():
        week += _box_mass(pos[window], pos[window] + span[window])
    df = pd.DataFrame(week.reshape(7, 24), index=WEEKDAYS, columns=range(24))
    df.index.name, df.columns.name = "weekday", "hour"
    df.attrs.update(
        n_events=int(s.size),
        n_exact=int(exact.sum()),
        n_window=int(window.sum()),
        n_capped=int(capped.sum()),
    )
    return df


def _held_months(held: ArrayLike | None, months: np.ndarray) -> np.ndarray:
    """Held months as sorted unique ``datetime64[M]``: the given ones plus every month with an
    event (an event's month is held by definition), else every month first to last."""
    if held is None:
        return np.arange(months.min(), months.max() + 1)
    h = pd.to_datetime(pd.Series(np.asarray(held, dtype=object).ravel()).astype(str)
                       .str.slice(0, 7) + "-01", format="%Y-%m-%d", errors="coerce")
    if h.isna().any():
        raise ValueError("held months must be YYYY-MM")
    h = h.to_numpy(dtype="datetime64[ns]").astype("datetime64[M]")
    return np.unique(np.concatenate([h, months]))


def month_of_year(dates: ArrayLike, held: ArrayLike | None = None) -> pd.DataFrame:
    """Seasonality: events per calendar month, and the mean per month over the months held.

    Parameters
    ----------
    dates : array_like of datetime
        Event dates (month precision is enough).
    held : array_like of str, optional
        The months the data hold (``YYYY-MM``, see :mod:`vru.lake.coverage`): a month not
        held is missing, not a zero, and does not count in ``years``. Default: every month
        from the first event's to the last's.

    Returns
    -------
    pandas.DataFrame
        Index 1–12 (``month``) with ``name``, ``events``, ``years`` (how many of that calendar
        month are held), ``mean_per_year`` (NaN for a calendar month never held) and
        ``share``.
    """
    d = _to_ns(dates)
    if np.isnat(d).any():
        raise ValueError(f"dates missing or unparseable (first at row {int(np.isnat(d).argmax())})")
    months = d.astype("datetime64[M]")
    moy = months.astype(np.int64) % 12 + 1
    events = np.bincount(moy, minlength=13)[1:]
    covered = _held_months(held, months)
    years = np.bincount(covered.astype(np.int64) % 12 + 1, minlength=13)[1:]
    df = pd.DataFrame(
        {
            "name": pd.to_datetime([f"2000-{m:02d}-01" for m in range(1, 13)]).month_name(),
            "events": events,
            "years": years,
        },
        index=pd.RangeIndex(1, 13, name="month"),
    )
    df["mean_per_year"] = np.divide(events, years, out=np.full(12, np.nan), where=years > 0)
    df["share"] = events / max(1, events.sum())
    return df


@dataclass(frozen=True)
class MonthlyTrend:
    """Counts per month held with a linear trend and a Mann–Kendall test."""

    counts: pd.DataFrame  #: columns month (period), events: the months held only
    slope_per_month: float  #: ordinary least squares slope (events per month)
    slope_p: float  #: two-sided p of the OLS slope (t test)
    mann_kendall: MannKendallResult
    missing: tuple[str, ...] = ()  #: months between the first and last held that are not held

    def summary(self) -> str:
        """One sentence for a briefing."""
        mk = self.mann_kendall
        word = "rising" if mk.s > 0 else "falling" if mk.s < 0 else "flat"
        gap = (f" ({len(self.missing)} not held, left out: {month_runs(self.missing)})"
               if self.missing else "")
        return (
            f"{len(self.counts)} months held{gap}, {int(self.counts['events'].sum())} events; "
            f"linear trend {self.slope_per_month:+.2f} events/month (p={self.slope_p:.3g}); "
            f"Mann-Kendall {word}, tau={float(mk.tau):.3f}, p={float(mk.p):.3g}"
        )


def monthly_trend(dates: ArrayLike, held: ArrayLike | None = None) -> MonthlyTrend:
    """Events per month held (held months without events as zeros) and their trend.

    A month not held is missing, never a zero: it is left out of the series. The least-squares
    line is fitted on the months' true positions in time (a gap stretches the x axis); the
    Mann–Kendall test runs on the held months in order. No Poisson or negative binomial model.
    Needs at least three months held.

    Parameters
    ----------
    dates : array_like of datetime
        Event dates (month precision is enough).
    held : array_like of str, optional
        The months held (``YYYY-MM``, :mod:`vru.lake.coverage`); default every month from the
        first event's to the last's.
    """
    d = _to_ns(dates)
    if np.isnat(d).any():
        raise ValueError(f"dates missing or unparseable (first at row {int(np.isnat(d).argmax())})")
    months = d.astype("datetime64[M]")
    if months.size == 0 and held is None:
        raise ValueError("a monthly trend needs at least 3 months of data, got 0")
    keep = _held_months(held, months)
    if keep.size < 3:
        raise ValueError(f"a monthly trend needs at least 3 months held, got {keep.size}")
    pos = np.searchsorted(keep, months)
    counts = np.bincount(pos, minlength=keep.size)
    x = (keep - keep[0]).astype(np.int64)
    every = np.arange(keep[0], keep[-1] + 1)
    missing = tuple(str(m) for m in every[~np.isin(every, keep)])
    periods = pd.PeriodIndex([str(m) for m in keep], freq="M")
    frame = pd.DataFrame({"month": periods, "events": counts})
    fit = stats.linregress(x, counts)
    return MonthlyTrend(frame, float(fit.slope), float(fit.pvalue), mann_kendall(counts),
                        missing)
