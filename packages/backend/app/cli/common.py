"""What every command needs: settings, or a clear exit."""

from __future__ import annotations

import typer

from app.core.config import ConfigError, Settings, load_settings

# EX_CONFIG (sysexits.h): the configuration is the problem.
EXIT_CONFIG = 78


def settings_or_exit() -> Settings:
    """The settings from the environment, or exit 78 with one line naming every problem."""
    try:
        return load_settings()
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_CONFIG) from None
