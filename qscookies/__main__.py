"""Run the ``qscookies`` command: ``python -m qscookies``."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
