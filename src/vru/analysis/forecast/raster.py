"""Square grid cells as a raster, so smoothing a map over space is one filter, not a loop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.signal import fftconvolve

__all__ = ["Raster"]


@dataclass(frozen=True)
class Raster:
    """The study area's square cells placed on their bounding raster.

    Attributes
    ----------
    cols, rows
        Grid column and row of each study cell (``floor(easting / size)``...).
    size
        Cell side in metres.
    """

    cols: np.ndarray
    rows: np.ndarray
    size: float

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.rows.max() - self.rows.min()) + 1,
                int(self.cols.max() - self.cols.min()) + 1)

    @property
    def _ij(self) -> tuple[np.ndarray, np.ndarray]:
        return (self.rows - self.rows.min()).astype(np.int64), \
            (self.cols - self.cols.min()).astype(np.int64)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Easting and northing of each cell's centre (British National Grid metres)."""
        return (self.cols + 0.5) * self.size, (self.rows + 0.5) * self.size

    def to_grid(self, values: np.ndarray) -> np.ndarray:
        """Cell values (L,) or (L, T) on the raster (H, W) or (H, W, T); zero off the area."""
        i, j = self._ij
        v = np.asarray(values, dtype=np.float64)
        out = np.zeros(self.shape + v.shape[1:])
        out[i, j] = v
        return out

    def from_grid(self, grid: np.ndarray) -> np.ndarray:
        """Values of the study cells read back from a raster."""
        i, j = self._ij
        return grid[i, j]

    def gaussian(self, values: np.ndarray, sigma_m: float) -> np.ndarray:
        """Each cell's values spread by a Gaussian of ``sigma_m`` metres (mass kept where the
        kernel stays on the raster; cells off the study area receive but are not read)."""
        if sigma_m <= 0:
            return np.asarray(values, dtype=np.float64).copy()
        g = self.to_grid(values)
        s = sigma_m / self.size
        sig = (s, s) + (0,) * (g.ndim - 2)
        return self.from_grid(ndimage.gaussian_filter(g, sig, mode="constant", truncate=4.0))

    def convolve(self, values: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        """Each cell's value spread by ``kernel`` (odd-sized, centred) over the raster."""
        g = self.to_grid(values)
        return self.from_grid(np.maximum(fftconvolve(g, kernel, mode="same"), 0.0))
