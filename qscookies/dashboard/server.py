"""Serve the dashboard with werkzeug's server, keeping the token out of the log."""

from __future__ import annotations

import re
from typing import Any

from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import run_simple

from . import Dashboard

_TOKEN_IN_URL = re.compile(r"([?&]token=)[^&\s\"]*")


class RedactingRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler, with ``?token=`` values blanked in its log."""

    def log(self, type: str, message: str, *args: Any) -> None:
        """Log the line with any token in it replaced by ``…``."""
        super().log(type, "%s", redact(message % args))


def redact(line: str) -> str:
    """Blank the value of every ``token=`` query parameter in *line*."""
    return _TOKEN_IN_URL.sub(r"\1…", line)


def serve(app: Dashboard, host: str, port: int) -> None:
    """Serve *app* until interrupted (threaded; request log without tokens)."""
    run_simple(
        host,
        port,
        app,
        threaded=True,
        request_handler=RedactingRequestHandler,
    )
