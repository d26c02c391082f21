"""Period filters of the table builder are month ranges, checked as the dimension writes them."""

from __future__ import annotations

import pytest

from vru.service.counts import _months
from vru.service.errors import BadRequest


@pytest.mark.parametrize("name, text, months", [
    ("month", "2020-02", ("2020-02", "2020-02")),
    ("quarter", "2020-Q2", ("2020-04", "2020-06")),
    ("year", "2019", ("2019-01", "2019-12")),
    ("financial_year", "2019/20", ("2019-04", "2020-03")),
    ("financial_year", "1999/00", ("1999-04", "2000-03")),
])
def test_a_period_is_its_months(name, text, months):
    assert _months(name, text) == months


@pytest.mark.parametrize("name, text", [
    ("month", "2020-13"), ("month", "2020"), ("quarter", "2020-Q5"), ("year", "20"),
    ("financial_year", "2019/21"), ("financial_year", "2019-20"),
])
def test_a_badly_written_period_says_how_to_write_it(name, text):
    with pytest.raises(BadRequest, match="write it as|months are|runs April"):
        _months(name, text)
