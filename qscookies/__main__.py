"""Run the ``qscookies`` command: ``python -m qscookies``."""

from __future__ import annotations

from .ops.cli import main

raise SystemExit(main())
