"""Disclosure control: small cells hidden, rounding, perturbation, totals that give nothing away."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vru.governance.disclosure import PROFILES, apply, describe, format_counts
from vru.governance.errors import DisclosureError


def with_totals(cells: list[list[int]]) -> pd.DataFrame:
    """A published-style table: areas x months with a total column and a total row."""
    frame = pd.DataFrame(cells, columns=[f"m{j}" for j in range(len(cells[0]))])
    frame.insert(0, "area", [f"a{i}" for i in range(len(cells))])
    frame["total"] = frame.drop(columns="area").sum(axis=1)
    total = frame.drop(columns="area").sum().to_frame().T
    total.insert(0, "area", "Total")
    return pd.concat([frame, total], ignore_index=True)


def test_nhs_rule_long_table() -> None:
    frame = pd.DataFrame({"lsoa": list("abcdefgh"), "n": [0, 1, 7, 8, 12, 13, 100, 3]})
    out = apply(frame, "nhs", ["n"], ["lsoa"])
    assert out["n"].tolist() == [0, pd.NA, pd.NA, 10, 10, 15, 100, pd.NA]
    assert format_counts(out, ["n"])["n"].tolist() == ["0", "*", "*", "10", "10", "15", "100",
                                                       "*"]
    assert frame["n"].tolist()[1] == 1  # the input is untouched


def test_ons_rule_and_none() -> None:
    frame = pd.DataFrame({"g": list("abcd"), "n": [9, 10, 0, 27]})
    assert apply(frame, "ons", ["n"], ["g"])["n"].tolist() == [pd.NA, 10, 0, 25]
    assert apply(frame, "none", ["n"], ["g"])["n"].tolist() == [9, 10, 0, 27]


def test_arrow_in_arrow_out() -> None:
    table = pa.table({"g": ["a", "b"], "n": [3, 40]})
    out = apply(table, "nhs", ["n"], ["g"])
    assert isinstance(out, pa.Table)
    assert out["n"].to_pylist() == [None, 40]


def test_differencing_through_totals_is_blocked() -> None:
    # Row a0 has one small cell: without secondary suppression, total - others reveals it.
    frame = with_totals([[3, 40, 52], [20, 31, 44], [25, 30, 60]])
    out = apply(frame, "nhs", ["m0", "m1", "m2", "total"], ["area"], total_column="total",
                total_row="Total")
    hidden = out[["m0", "m1", "m2", "total"]].isna().to_numpy()
    assert hidden[0, 0]
    assert hidden[0].sum() >= 2  # a second cell in row a0 is hidden
    assert hidden[:, 0].sum() >= 2  # and a second cell in column m0
    assert_no_line_with_one_hidden_cell(hidden)


def assert_no_line_with_one_hidden_cell(hidden: np.ndarray) -> None:
    for line in [*hidden, *hidden.T]:
        assert line.sum() != 1, "a row or column has exactly one hidden cell"


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 5).flatmap(lambda cols: st.lists(
    st.lists(st.integers(0, 40), min_size=cols, max_size=cols), min_size=1, max_size=6)),
    st.sampled_from(["nhs", "ons"]))
def test_random_tables_publish_no_small_cell_and_no_single_hidden_cell(
        cells: list[list[int]], profile: str) -> None:
    frame = with_totals(cells)
    counts = [c for c in frame.columns if c != "area"]
    out = apply(frame, profile, counts, ["area"], total_column="total", total_row="Total")
    shown = out[counts].to_numpy(dtype=float, na_value=np.nan)
    published = shown[~np.isnan(shown)]
    limit = 7 if profile == "nhs" else 9
    assert not ((published >= 1) & (published <= limit)).any()
    assert (published % 5 == 0).all()
    assert_no_line_with_one_hidden_cell(np.isnan(shown))
    # Every true small cell is hidden.
    truth = frame[counts].to_numpy()
    assert np.isnan(shown[(truth >= 1) & (truth <= limit)]).all()


def test_bad_input_is_named() -> None:
    frame = pd.DataFrame({"g": ["a", "b"], "n": [3, -1]})
    with pytest.raises(DisclosureError, match="column 'n', row 2: '-1' is not a count"):
        apply(frame, "nhs", ["n"], ["g"])
    with pytest.raises(DisclosureError, match="column 'n', row 1"):
        apply(pd.DataFrame({"n": ["lots"]}), "nhs", ["n"])
    with pytest.raises(DisclosureError, match="unknown disclosure profile"):
        apply(frame, "gdpr", ["n"], ["g"])
    with pytest.raises(DisclosureError, match="not in the table"):
        apply(frame, "nhs", ["count"], ["g"])
    with pytest.raises(DisclosureError, match="exactly one row labelled"):
        apply(frame.assign(n=[3, 1]), "nhs", ["n"], ["g"], total_row="Total")


def test_profiles_give_different_outputs() -> None:
    # A report found nhs, ons and none identical: each profile must change what is shown.
    frame = pd.DataFrame({"g": list("abcdef"), "n": [0, 1, 8, 9, 13, 61],
                          "k": [0, 5, 77, 200, 31, 1000]})
    shown = {p: apply(frame, p, ["n"], ["g"], cell_keys={"n": "k"})["n"].tolist()
             for p in PROFILES}
    assert shown["none"] == [0, 1, 8, 9, 13, 61]
    assert shown["nhs"] == [0, pd.NA, 10, 10, 15, 60]
    assert shown["ons"] == [0, pd.NA, pd.NA, pd.NA, 15, 60]
    assert shown["cellkey"][0] == 0  # an empty cell stays empty
    assert all(v % 3 == 0 and abs(v - n) <= 2
               for v, n in zip(shown["cellkey"], frame["n"], strict=True))
    assert len({tuple(map(str, v)) for v in shown.values()}) == 4


def test_cellkey_needs_keys_and_drops_them() -> None:
    frame = pd.DataFrame({"month": ["2024-04", "2024-05"], "n": [4, 20], "knife": [0, 5],
                          "n_key": [300, 17], "knife_key": [0, 999]})
    with pytest.raises(DisclosureError, match="cell_keys names no key column for: n, knife"):
        apply(frame, "cellkey", ["n", "knife"], ["month"])
    with pytest.raises(DisclosureError, match="no key column for: knife"):
        apply(frame, "cellkey", ["n", "knife"], ["month"], cell_keys={"n": "n_key"})
    with pytest.raises(DisclosureError, match="not in the table: n_sum"):
        apply(frame, "cellkey", ["n"], ["month"], cell_keys={"n": "n_sum"})
    with pytest.raises(DisclosureError, match="key column 'n' is also a count"):
        apply(frame, "cellkey", ["n", "knife"], ["month"], cell_keys={"n": "n", "knife": "n"})
    keys = {"n": "n_key", "knife": "knife_key"}
    out = apply(frame, "cellkey", ["n", "knife"], ["month"], cell_keys=keys)
    assert list(out.columns) == ["month", "n", "knife"]  # the keys never leave
    assert out["knife"].iloc[0] == 0
    assert out["n"].tolist() == apply(frame.assign(n_key=[300 % 256, 17]), "cellkey",
                                      ["n", "knife"], ["month"], cell_keys=keys)["n"].tolist()
    for profile in ("nhs", "none"):  # passed to any profile, keys are consumed all the same
        assert "n_key" not in apply(frame, profile, ["n", "knife"], ["month"],
                                    cell_keys=keys).columns
    arrow = apply(pa.Table.from_pandas(frame), "cellkey", ["n", "knife"], ["month"],
                  cell_keys=keys)
    assert isinstance(arrow, pa.Table) and arrow.column_names == ["month", "n", "knife"]
    assert format_counts(arrow, ["n"])["n"].to_pylist() == [str(v) for v in out["n"]]
    with pytest.raises(DisclosureError, match="'n_key', row 2: '-3' is not a cell key"):
        apply(frame.assign(n_key=[1, -3]), "cellkey", ["n"], ["month"], cell_keys={"n": "n_key"})
    with pytest.raises(DisclosureError, match="row 1: null is not a cell key"):
        apply(frame.assign(n_key=[None, 3]), "cellkey", ["n"], ["month"],
              cell_keys={"n": "n_key"})


def test_cellkey_with_totals_perturbs_every_cell_and_hides_none() -> None:
    frame = with_totals([[3, 40, 52], [20, 31, 44], [25, 30, 60]])
    counts = ["m0", "m1", "m2", "total"]
    rng = np.random.default_rng(5)
    for c in counts:
        frame[f"{c}_key"] = rng.integers(0, 10**5, len(frame))
    out = apply(frame, "cellkey", counts, ["area"], total_column="total", total_row="Total",
                cell_keys={c: f"{c}_key" for c in counts})
    released = out[counts].to_numpy(dtype=float)
    assert not np.isnan(released).any()
    assert (np.abs(released - frame[counts].to_numpy()) <= 2).all()
    assert list(out.columns) == ["area", *counts]


def test_describe_labels_each_profile() -> None:
    assert describe("nhs") == "counts 1-7 shown as *, others rounded to the nearest 5"
    assert describe("ons") == "counts 1-9 shown as *, others rounded to the nearest 5"
    assert describe("cellkey").startswith("counts perturbed by the cell-key method")
    assert "multiple of 3" in describe("cellkey") and "noise" in describe("cellkey")
    assert "no disclosure control" in describe("none")
    with pytest.raises(DisclosureError, match="unknown disclosure profile"):
        describe("gdpr")
