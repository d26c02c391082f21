"""Kernel density: binned FFT agrees with the exact sum, and the grid integrates to n."""

from __future__ import annotations

import numpy as np
import pytest

from vru.analysis.density import bandwidth_arcgis, bandwidth_silverman, kernel_density


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(9)
    centres = rng.uniform(1000, 4000, (6, 2))
    pts = centres[rng.integers(0, 6, 3000)] + rng.normal(0, 250, (3000, 2))
    return pts[:, 0] + 450_000, pts[:, 1] + 170_000


@pytest.mark.parametrize("kernel,bw", [("quartic", 400.0), ("gaussian", 150.0)])
def test_fft_matches_exact(points, kernel, bw):
    x, y = points
    ext = (x.min() - 1000, y.min() - 1000, x.max() + 1000, y.max() + 1000)
    fft = kernel_density(x, y, 25.0, bandwidth=bw, kernel=kernel, extent=ext)
    exact = kernel_density(x, y, 25.0, bandwidth=bw, kernel=kernel, extent=ext, method="exact")
    assert fft.values.shape == exact.values.shape
    err = np.abs(fft.values - exact.values).max() / exact.values.max()
    assert err < 0.01  # linear binning error ~ (cell / bandwidth)²
    assert exact.integral() == pytest.approx(3000, rel=0.005)
    assert fft.integral() == pytest.approx(3000, rel=0.005)


def test_quartic_formula_at_a_point_and_population_weights():
    # one point on a cell centre with population 2: density at that centre = 2 · 3/(π r²)
    g = kernel_density(
        [125.0],
        [125.0],
        50.0,
        bandwidth=100.0,
        weights=[2.0],
        extent=(0, 0, 250, 250),
        method="exact",
        area_unit="m2",
    )
    assert g.values[2, 2] == pytest.approx(2 * 3 / (np.pi * 100.0**2))
    x, y = g.centres()
    assert x[2] == 125.0 and y[2] == 125.0
    # 50 m away: (1 − 0.25)² of the peak
    assert g.values[2, 3] == pytest.approx(g.values[2, 2] * 0.75**2)


def test_bandwidth_rules(points):
    x, y = points
    r = bandwidth_arcgis(x, y)
    h = bandwidth_silverman(x, y)
    sd = np.sqrt(((x - x.mean()) ** 2 + (y - y.mean()) ** 2).mean())
    assert 0 < r <= 0.9 * sd * 3000**-0.2 + 1e-9
    assert h == pytest.approx(np.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2) * 3000 ** (-1 / 6))
    g = kernel_density(x, y, 100.0)  # default: ArcGIS rule
    assert g.bandwidth == pytest.approx(r)


def test_bad_points_are_refused():
    with pytest.raises(ValueError, match="missing coordinates"):
        kernel_density([1.0, np.nan], [1.0, 2.0], 10.0, bandwidth=50.0)
