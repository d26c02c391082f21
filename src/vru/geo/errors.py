"""Errors of the geography floor: a boundary or lookup file that cannot be used."""

from __future__ import annotations


class BoundaryError(ValueError):
    """A boundary or lookup file cannot be used; the message names the file and the problem."""
