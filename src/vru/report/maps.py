"""Static maps for reports: Gi* classes on LSOA boundaries, named, scaled and fully keyed."""

from __future__ import annotations

import base64
import io
from typing import Any

import pandas as pd

#: Gi* class -> (label, colour). Hot spots in the Analysis Function's dark pink and
#: orange, cold spots in its blues; every class is in the legend, drawn or not.
CLASSES: dict[int, tuple[str, str]] = {
    3: ("Hot spot, 99% confidence", "#801650"),
    2: ("Hot spot, 95% confidence", "#C0576F"),
    1: ("Hot spot, 90% confidence", "#F46A25"),
    0: ("Not significant", "#EEEEEE"),
    -1: ("Cold spot, 90% confidence", "#C5DCF2"),
    -2: ("Cold spot, 95% confidence", "#6BACE6"),
    -3: ("Cold spot, 99% confidence", "#12436D"),
}


def _scale_bar(ax: Any, width_m: float) -> None:
    """A bar of a round number of km, bottom left, in map metres (British National Grid)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    target = (x1 - x0) / 5
    km = max(1, min((1, 2, 5, 10, 20, 50), key=lambda k: abs(k * 1000 - target)))
    bx, by = x0 + 0.04 * (x1 - x0), y0 + 0.05 * (y1 - y0)
    ax.plot([bx, bx + km * 1000], [by, by], color="#0B0C0C", linewidth=3,
            solid_capstyle="butt")
    ax.text(bx + km * 500, by + 0.015 * (y1 - y0), f"{km} km", ha="center", va="bottom",
            fontsize=8, color="#0B0C0C")


def gistar_map(frame: Any, towns: pd.DataFrame, title: str, *, dpi: int = 110) -> str:
    """Gi* classes of LSOA cells as a PNG data URI.

    Parameters
    ----------
    frame
        A GeoDataFrame with ``class`` (-3..3) and polygon geometry (any CRS; drawn in
        British National Grid).
    towns
        ``name``, ``easting``, ``northing``: places named on the map (those inside it).
    title
        Says what, where and when (period and source).

    Returns
    -------
    str
        ``data:image/png;base64,...``
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    bng = frame.to_crs(27700)
    fig, ax = plt.subplots(figsize=(7.2, 6.4))
    for cls, (_, colour) in CLASSES.items():
        part = bng[bng["class"] == cls]
        if len(part):
            part.plot(ax=ax, color=colour, edgecolor="#FFFFFF", linewidth=0.1)
    bng.dissolve().boundary.plot(ax=ax, color="#505A5F", linewidth=0.6)
    x0, y0, x1, y1 = bng.total_bounds
    inside = towns[(towns["easting"].between(x0, x1)) & (towns["northing"].between(y0, y1))]
    for _, t in inside.iterrows():
        ax.plot(t["easting"], t["northing"], "o", color="#0B0C0C", markersize=2.5)
        ax.annotate(t["name"], (t["easting"], t["northing"]), xytext=(3, 3),
                    textcoords="offset points", fontsize=7.5, color="#0B0C0C",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                          "alpha": 0.7})
    ax.set_aspect("equal")
    ax.set_axis_off()
    _scale_bar(ax, x1 - x0)
    handles = [Patch(facecolor=c, edgecolor="#505A5F", linewidth=0.4, label=lab)
               for lab, c in CLASSES.values()]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
              frameon=False, title="Getis-Ord Gi* (FDR)", title_fontsize=8.5)
    ax.set_title(title, fontsize=10, loc="left")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
