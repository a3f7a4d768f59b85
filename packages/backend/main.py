"""ASGI entry point: ``uvicorn main:app`` from packages/backend."""

import sys

from app.core.config import ConfigError
from app.main import create_app

try:
    app = create_app()
except ConfigError as exc:
    # One clear line instead of a traceback wall, then a non-zero exit (EX_CONFIG).
    sys.stderr.write(f"{exc}\n")
    raise SystemExit(78) from None
