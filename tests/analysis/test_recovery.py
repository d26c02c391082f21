"""The hotspot engine recovers the synthetic world's planted truth, and real town centres.

Definitions (against ``manifest.json`` of :mod:`vru.synth`):

* Planted violence hotspots: the town-centre discs whose subgroups are violence (constant
  multipliers 8-21 x background) — ``hotspots[*]`` with id ending ``-violence``.
  A planted LSOA is one the disc touches (``hotspots[*].lsoa11cd``).
* Gi* runs on LSOAs (population-sized cells, so the population x deprivation background is
  roughly flat and a planted excess stands out) with the default weights: the LSOA and the
  LSOAs touching it.  A *detected* cell is class >= 2 (95 % after FDR).
* Precision = detected cells that are planted LSOAs or touch one (their Gi* neighbourhood
  holds planted excess) / detected cells.  Recall = planted hotspots with at least one
  detected LSOA among their own LSOAs / planted hotspots.  Both must be >= 0.9.
"""

from __future__ import annotations

import numpy as np
import pytest

from vru.analysis.aggregate import study_area
from vru.analysis.hotspots import emerging, gistar, near_repeat, times
from vru.analysis.near_repeat import MonthPrecisionError
from vru.synth.places import load_geography

VIOLENCE = "Violence and sexual offences"


def _codes(manifest, subgroup: str) -> list[str]:
    return sorted(c for c, v in manifest["definitions"]["offence_codes"].items()
                  if v["subgroup"] == subgroup)


def test_planted_hotspots_found_with_precision_and_recall(synth_lake):
    home, manifest = synth_lake
    planted = [h for h in manifest["hotspots"] if h["id"].endswith("-violence")]
    assert len(planted) >= 5
    r = gistar(home, category=VIOLENCE, cell="lsoa")
    area = study_area("lsoa")
    cls = r.frame["class"].to_numpy()
    detected = cls >= 2
    mask = np.zeros(len(area), dtype=bool)
    for h in planted:
        mask[area.position(h["lsoa11cd"])] = True
    near = (area.weights() @ mask.astype(float)) > 0
    precision = (detected & near).sum() / detected.sum()
    recall = np.mean([detected[area.position(h["lsoa11cd"])].any() for h in planted])
    assert precision >= 0.9, precision
    assert recall >= 0.9, recall


def test_night_time_peak_is_top_cell_of_hour_weekday(synth_lake):
    home, manifest = synth_lake
    peak = times(home, category=VIOLENCE).peak()
    nte = manifest["night_time_economy"]
    cells = {(c["weekday"], c["hour"]) for c in nte["cells"]}
    assert peak in cells
    top = nte["violence_top_cell"]
    assert peak == (top["weekday"], top["hour"])


def test_near_repeat_detected_for_contagion_and_not_for_control(synth_lake):
    home, manifest = synth_lake
    nr = manifest["near_repeat"]["burglary"]
    d, t = nr["d_m"], nr["t_days"]
    edges_s, edges_t = (0, d, 2 * d, 4 * d), (0, t, 2 * t, 4 * t)
    k = near_repeat(home, offence_code=_codes(manifest, nr["subgroup"]),
                    spatial_edges=edges_s, temporal_edges=edges_t, permutations=999)
    # row 1 = (0, d) m, column 0 = [0, t) days: the planted window
    assert k.knox.p[1, 0] < 0.01
    assert k.knox.ratio[1, 0] > 2
    # Criminal damage has no planted contagion (manifest lists only burglary and violence).
    assert "Criminal damage" not in {v["subgroup"] for v in manifest["near_repeat"].values()}
    c = near_repeat(home, offence_code=_codes(manifest, "Criminal damage"),
                    spatial_edges=edges_s, temporal_edges=edges_t, permutations=999)
    assert c.knox.p[1, 0] >= 0.01


def test_near_repeat_refuses_month_precision(police_lake):
    with pytest.raises(MonthPrecisionError, match="month"):
        near_repeat(police_lake, category=VIOLENCE, permutations=9)


def test_intensifying_hotspot_trend(synth_lake):
    """The emerging hotspot's multiplier rises 1.5 -> 2.5 -> 4 -> 6 over 2017-2020, so it is
    *not* hot in 90 % of months (Esri's condition for Intensifying): the strongest category the
    plant supports is Consecutive (a run of hot steps up to the end, never hot before).  With
    a six-month neighbourhood time window (Esri's Neighborhood Time Step), every LSOA of the
    disc has a significant rising Gi* trend and at least one is Consecutive or Intensifying."""
    home, manifest = synth_lake
    em = manifest["emerging_hotspot"]
    assert em["strength_multiplier"]["2017"] < em["strength_multiplier"]["2020"]
    r = emerging(home, offence_code=manifest["definitions"]["violence_with_injury_codes"],
                 cell="lsoa", time_bin="month", time_window=6)
    f = r.frame[r.frame["cell"].isin(em["lsoa11cd"])]
    assert len(f) == len(em["lsoa11cd"])
    rising = (f["trend_tau"].astype(float) > 0) & (f["trend_p"].astype(float) <= 0.01)
    assert rising.all(), f[["cell", "trend_tau", "trend_p"]]
    assert f["pattern"].isin(["Consecutive Hot Spot", "Intensifying Hot Spot"]).any()
    assert not f["pattern"].str.contains("Diminishing|Cold|Historical").any()
    assert r.meta["table_versions"]["incidents"] >= 0


def test_real_town_centres_are_hot(police_lake):
    r = gistar(police_lake, category=VIOLENCE, cell="grid:500")
    f = r.frame.to_crs("EPSG:27700")
    c = f.geometry.centroid
    hot = (f["class"] == 3).to_numpy()
    towns = load_geography().towns
    assert len(towns) == 7
    for t in towns:
        d = np.hypot(c.x.to_numpy() - t.easting, c.y.to_numpy() - t.northing)
        assert (hot & (d <= 1000)).any(), t.name


def test_planted_intensifying_hotspot_is_classified_intensifying(synth_lake):
    """An established disc planted 12.5x -> 24x over 2017-2020 is hot in (nearly) every month
    and rising: Esri's Intensifying Hot Spot. The test world is a tenth of real volume (about
    two planted events a month in the disc), so it is judged on 1 km cells with a three-month
    neighbourhood time step (Esri's Neighborhood Time Step parameter)."""
    import numpy as np

    from vru.geo.grids import square_cell_id

    home, manifest = synth_lake
    plant = manifest["intensifying_hotspot"]
    years = sorted(plant["strength_multiplier"])
    assert plant["strength_multiplier"][years[0]] < plant["strength_multiplier"][years[-1]]
    r = emerging(home, offence_code=manifest["definitions"]["violence_with_injury_codes"],
                 cell="grid:1000", time_bin="month", time_window=3)
    f = r.frame.set_index("cell")
    centre = square_cell_id(np.array([plant["easting"]]), np.array([plant["northing"]]),
                            1000)[0]
    assert f.loc[centre, "pattern"] == "Intensifying Hot Spot", f.loc[centre].to_dict()
    assert "Intensifying" in f.loc[centre, "explanation"]
    # intensifying cells are rare: this is a finding, not a label on everything
    assert (f["pattern"] == "Intensifying Hot Spot").mean() < 0.01
