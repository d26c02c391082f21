"""JSON of released views, serialised and gzipped once per view (the service hands out the
same object for the same decision and request, so its bytes are kept beside it)."""

from __future__ import annotations

import gzip
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response

KEPT = 96
_cache: OrderedDict[tuple[int, str], tuple[Any, bytes, bytes]] = OrderedDict()
_lock = threading.Lock()


def json_response(request: Request, view: Any, part: str = "",
                  payload: Callable[[Any], Any] | None = None) -> Response:
    """``payload(view)`` (default: the view itself) as JSON, gzipped when the client takes it.

    The entry holds the view itself, so its ``id`` cannot be reused while the bytes are kept.
    """
    key = (id(view), part)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is view:
            _cache.move_to_end(key)
            raw, packed = hit[1], hit[2]
        else:
            hit = None
    if hit is None:
        body = payload(view) if payload is not None else view
        raw = json.dumps(body, separators=(",", ":"), allow_nan=False,
                         default=str).encode()
        packed = gzip.compress(raw, compresslevel=6)
        with _lock:
            _cache[key] = (view, raw, packed)
            while len(_cache) > KEPT:
                _cache.popitem(last=False)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(packed, media_type="application/json",
                        headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
    return Response(raw, media_type="application/json", headers={"Vary": "Accept-Encoding"})
