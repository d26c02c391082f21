"""The dashboard: a face on the service (every route asks a signed-in `vru.service.Session`).

    >>> from vru.web import create_app
    >>> app = create_app("vru-home")          # uvicorn.run(app, port=8000)
"""

from __future__ import annotations

from vru.web.app import create_app
from vru.web.settings import WebSettings

__all__ = ["WebSettings", "create_app"]
