"""The ``aics`` command. Each command group lives in its own module and adds itself with
``register(app)``; this module only assembles them and turns ``AicsError`` into one line + exit 2."""

from __future__ import annotations

import sys

import typer

from aics.errors import AicsError


def build_app() -> typer.Typer:
    """A fresh app with every command group registered (no module-level state to reset in tests)."""
    app = typer.Typer(
        name="aics",
        help="Analyze, compress, compile and simulate neural networks on a configurable DLP.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    _register_all(app)
    return app


def _register_all(app: typer.Typer) -> None:
    from aics.cli import (arch_cmds, asm_cmds, compile_cmds, demo_cmds, hls_cmds, model_cmds, prune_cmds, quant_cmds,
                          report_cmds)

    for module in (model_cmds, arch_cmds, demo_cmds, asm_cmds, quant_cmds, prune_cmds, compile_cmds, hls_cmds,
                   report_cmds):
        module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 ok, 2 user error, click's own codes for usage)."""
    try:
        build_app()(args=argv, prog_name="aics")
    except AicsError as err:
        print(f"aics: error: {err}", file=sys.stderr)
        return 2
    except SystemExit as done:  # click ends every run with sys.exit; usage errors exit 2
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
