"""The dashboard's settings: read once from the environment, each documented in
docs/dashboard.md."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from vru.service import BadRequest


@dataclass(frozen=True)
class WebSettings:
    """How the dashboard runs.

    Attributes
    ----------
    idle_minutes
        Signed out after this long without a request (``VRU_WEB_IDLE_MINUTES``, 30).
    absolute_hours
        Signed out this long after signing in, busy or not (``VRU_WEB_ABSOLUTE_HOURS``, 12).
    tile_url
        An optional raster tile URL template (``https://host/{z}/{x}/{y}.png``) drawn under the
        boundaries for users who are online (``VRU_WEB_TILE_URL``; default none: the map is
        drawn from the home's boundaries alone, offline). Its host is the only other host the
        Content-Security-Policy then allows, for images only.
    secure_cookies
        ``auto`` (Secure when the request came over HTTPS), ``always`` or ``never``
        (``VRU_WEB_SECURE_COOKIES``).
    """

    idle_minutes: float = 30.0
    absolute_hours: float = 12.0
    tile_url: str | None = None
    secure_cookies: str = "auto"

    def __post_init__(self) -> None:
        if self.idle_minutes <= 0 or self.absolute_hours <= 0:
            raise BadRequest("session expiry must be positive minutes and hours")
        if self.secure_cookies not in ("auto", "always", "never"):
            raise BadRequest("VRU_WEB_SECURE_COOKIES is auto, always or never")
        if self.tile_url:
            parts = urlsplit(self.tile_url)
            if parts.scheme != "https" or not parts.netloc or "{z}" not in self.tile_url:
                raise BadRequest("VRU_WEB_TILE_URL must be an https URL template with {z}, {x} "
                                 "and {y}, e.g. https://tile.example.org/{z}/{x}/{y}.png")

    @property
    def tile_origin(self) -> str | None:
        if not self.tile_url:
            return None
        parts = urlsplit(self.tile_url)
        return f"{parts.scheme}://{parts.netloc}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebSettings:
        env = os.environ if environ is None else environ
        try:
            return cls(idle_minutes=float(env.get("VRU_WEB_IDLE_MINUTES", 30)),
                       absolute_hours=float(env.get("VRU_WEB_ABSOLUTE_HOURS", 12)),
                       tile_url=env.get("VRU_WEB_TILE_URL") or None,
                       secure_cookies=env.get("VRU_WEB_SECURE_COOKIES", "auto"))
        except ValueError as exc:
            raise BadRequest(f"a dashboard setting is not a number: {exc}") from None
