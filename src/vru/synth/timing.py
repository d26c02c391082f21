"""When synthetic events happen: seasonal, weekly and daily profiles, sampled jointly.

A profile is a 7 x 24 weekday-by-hour weight matrix (Monday = 0) and a seasonal cosine over
the day of the year. Sampling draws a (day, hour) cell from the product of the day weights
and the matrix in one ``searchsorted``, then a uniform minute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Night-time economy: Friday and Saturday nights, 22:00 to 03:00. Hours after midnight fall on
# the next calendar day (Saturday and Sunday) in the records.
NTE_HOUR_WEIGHTS = {22: 0.75, 23: 1.0, 0: 0.95, 1: 0.8, 2: 0.5}
NTE_NIGHTS = {4: 1.0, 5: 1.25}  # Friday, Saturday (Saturday night is busier)

# Pubs and clubs shut by law (England): no night-time economy on these dates (inclusive).
NTE_CLOSURES = (
    ("2020-03-21", "2020-07-03"),
    ("2020-11-05", "2020-12-01"),
    ("2020-12-20", "2021-05-16"),
)


def nte_cells() -> list[tuple[int, int]]:
    """(weekday, hour) cells of the night-time-economy window, as recorded times."""
    cells = []
    for night in sorted(NTE_NIGHTS):
        for h in sorted(NTE_HOUR_WEIGHTS, key=lambda h: (h < 12, h)):
            cells.append(((night + (1 if h < 12 else 0)) % 7, h))
    return cells


def _hours(peaks: dict[int, float], floor: float = 0.2) -> np.ndarray:
    """A smooth 24-hour profile: a floor plus Gaussian bumps (hour -> height), circular."""
    h = np.arange(24)
    out = np.full(24, floor)
    for centre, height in peaks.items():
        d = np.minimum(np.abs(h - centre), 24 - np.abs(h - centre))
        out += height * np.exp(-0.5 * (d / 2.5) ** 2)
    return out


@dataclass(frozen=True)
class Profile:
    """A weekday x hour matrix and a seasonal cosine (peak day of year, amplitude)."""

    name: str
    matrix: np.ndarray          # (7, 24), any scale
    peak_doy: int = 182
    amplitude: float = 0.0

    def describe(self) -> dict[str, object]:
        """A JSON-able summary for the manifest."""
        m = self.matrix / self.matrix.sum()
        wd, hr = np.unravel_index(int(m.argmax()), m.shape)
        return {"seasonal_peak_day_of_year": self.peak_doy,
                "seasonal_amplitude": self.amplitude,
                "peak_cell": {"weekday": WEEKDAYS[wd], "hour": int(hr)},
                "weekday_share": [round(float(x), 4) for x in m.sum(axis=1)],
                "hour_share": [round(float(x), 4) for x in m.sum(axis=0)]}


def _matrix(hours: np.ndarray, weekday: tuple[float, ...]) -> np.ndarray:
    return np.outer(np.asarray(weekday, dtype=np.float64), hours)


def _violence() -> np.ndarray:
    m = _matrix(_hours({20: 1.0, 15: 0.4}, 0.25), (0.9, 0.85, 0.9, 0.95, 1.1, 1.25, 1.1))
    # Weekend evenings are busier everywhere, not only in town centres.
    m[4, 19:] *= 1.3
    m[5, 19:] *= 1.4
    m[5, :3] *= 1.3
    m[6, :3] *= 1.3
    return m


def _nte() -> np.ndarray:
    m = np.zeros((7, 24))
    for night, w in NTE_NIGHTS.items():
        for h, hw in NTE_HOUR_WEIGHTS.items():
            m[(night + (1 if h < 12 else 0)) % 7, h] = w * hw
    return m


PROFILES: dict[str, Profile] = {
    "violence": Profile("violence", _violence(), 196, 0.12),
    "nte": Profile("nte", _nte(), 196, 0.10),
    "domestic": Profile("domestic", _matrix(_hours({21: 1.0, 17: 0.5}, 0.3),
                                            (0.95, 0.9, 0.9, 0.95, 1.05, 1.15, 1.2)), 182,
                        0.08),
    "residential": Profile("residential", _matrix(_hours({13: 1.0, 19: 0.7}, 0.25),
                                                  (1.05, 1.05, 1.05, 1.05, 1.05, 0.9, 0.85)),
                           350, 0.12),
    "nonresidential": Profile("nonresidential", _matrix(_hours({2: 1.0, 22: 0.4}, 0.2),
                                                        (1.0, 0.9, 0.9, 0.9, 1.0, 1.15, 1.15)),
                              350, 0.08),
    "vehicle": Profile("vehicle", _matrix(_hours({1: 1.0, 20: 0.5}, 0.3),
                                          (1.0, 1.0, 1.0, 1.0, 1.05, 1.0, 0.95)), 330, 0.08),
    "retail": Profile("retail", _matrix(_hours({13: 1.0, 16: 0.8}, 0.05),
                                        (1.0, 1.0, 1.0, 1.0, 1.1, 1.25, 0.7)), 345, 0.10),
    "evening": Profile("evening", _matrix(_hours({19: 1.0, 23: 0.6}, 0.2),
                                          (0.95, 0.9, 0.9, 0.95, 1.1, 1.2, 1.0)), 300, 0.08),
    "daytime": Profile("daytime", _matrix(_hours({11: 1.0, 16: 0.8}, 0.15),
                                          (1.1, 1.1, 1.1, 1.1, 1.05, 0.8, 0.7)), 182, 0.05),
    "patrol": Profile("patrol", _matrix(_hours({17: 1.0, 22: 0.8}, 0.2),
                                        (0.9, 0.95, 1.0, 1.0, 1.1, 1.1, 0.95)), 196, 0.06),
}


def day_weights(days: np.ndarray, profile: Profile, closures: bool) -> np.ndarray:
    """Seasonal weight of each day (``datetime64[D]``); zero on closure dates if asked."""
    doy = (days - days.astype("datetime64[Y]")).astype(np.int64)
    w = 1.0 + profile.amplitude * np.cos(2 * np.pi * (doy - profile.peak_doy) / 365.25)
    if closures:
        for a, b in NTE_CLOSURES:
            w[(days >= np.datetime64(a)) & (days <= np.datetime64(b))] = 0.0
    return w


def weekday_of(days: np.ndarray) -> np.ndarray:
    """Monday = 0 for ``datetime64[D]`` values."""
    return ((days.astype(np.int64) + 3) % 7).astype(np.int64)  # 1970-01-01 was a Thursday


def sample_times(n: int, days: np.ndarray, profile: Profile, rng: np.random.Generator,
                 closures: bool = False) -> np.ndarray:
    """``n`` event times (``datetime64[m]``) over ``days`` following ``profile``.

    Parameters
    ----------
    n
        Number of events.
    days
        The days of the window (``datetime64[D]``, consecutive).
    profile
        The weekday x hour matrix and seasonal cosine.
    rng
        Random generator.
    closures
        Give zero weight to the night-time-economy closure dates (pubs shut).
    """
    if n == 0:
        return np.empty(0, dtype="datetime64[m]")
    dw = day_weights(days, profile, closures)
    cell = dw[:, None] * profile.matrix[weekday_of(days)]
    cum = np.cumsum(cell.ravel())
    if cum[-1] <= 0:
        raise ValueError(f"profile {profile.name!r} has no weight in the window")
    idx = np.searchsorted(cum, rng.random(n) * cum[-1], side="right")
    idx = np.minimum(idx, len(cum) - 1)
    day, hour = np.divmod(idx, 24)
    minute = rng.integers(0, 60, n)
    return (days[day].astype("datetime64[m]") + (hour * 60 + minute).astype("timedelta64[m]"))
