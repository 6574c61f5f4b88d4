"""The ``aics`` command. Each command group lives in its own module and adds itself with
``register(app)``; this module only assembles them and turns ``AicsError`` into one line + exit 2."""

from __future__ import annotations

import sys

import click
import typer

from aics.errors import AicsError

app = typer.Typer(
    name="aics",
    help="Analyze, compress, compile and simulate neural networks on a configurable DLP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_all() -> None:
    from aics.cli import model_cmds

    for module in (model_cmds,):
        module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 ok, 2 user error)."""
    _register_all()
    try:
        app(args=argv, standalone_mode=False)
    except AicsError as err:
        print(f"aics: error: {err}", file=sys.stderr)
        return 2
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as err:
        print(f"aics: error: {err.format_message()}", file=sys.stderr)
        return 2
    except click.exceptions.Abort:
        print("aics: aborted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
