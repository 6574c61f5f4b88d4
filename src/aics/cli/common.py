"""Shared CLI helpers: output formats, shapes, the console. Only the CLI layer prints."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

import typer
from rich.console import Console

from aics.models import Shape, parse_shape


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    md = "md"


def console() -> Console:
    import sys

    # Piped output keeps whole rows: rich would otherwise squeeze tables to 80 columns.
    return Console(width=None if sys.stdout.isatty() else 160)


def print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def shape_option(text: str | None) -> Shape | None:
    return None if text is None else parse_shape(text)
