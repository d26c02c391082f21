"""The filters every page and API call takes, read from the query string."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from vru.service.views import ViewFilter


def view_filter(
    source: Annotated[str, Query(description="police or hospital")] = "police",
    category: Annotated[list[str] | None, Query(
        description="data.police.uk crime type(s), e.g. Robbery", max_length=80)] = None,
    offence_group: Annotated[list[str] | None, Query(
        description="Home Office offence group(s)", max_length=80)] = None,
    start: Annotated[str | None, Query(alias="from", description="first month, YYYY-MM",
                                       max_length=7)] = None,
    end: Annotated[str | None, Query(alias="to", description="last month, YYYY-MM",
                                     max_length=7)] = None,
    area: Annotated[str | None, Query(description="task-force area name", max_length=80)
                    ] = None,
) -> ViewFilter:
    """The page's `ViewFilter` (empty values mean no filter)."""
    return ViewFilter(source=source or "police",
                      category=tuple(c for c in (category or []) if c)[:20],
                      offence_group=tuple(c for c in (offence_group or []) if c)[:20],
                      start=start or None, end=end or None, area=area or None)
