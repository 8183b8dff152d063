"""The ``cupola`` command: a Typer app whose subcommands are thin modules in this package.

Exit codes: 0 success, 1 internal error (traceback with --debug), 2 bad input, 3 no solution.
"""

from __future__ import annotations

import sys
import traceback

import click
import typer

from cupola.errors import InputError, NoSolutionError

# Typer >= 0.20 vendors its own copy of click (typer._click) whose exceptions are not click's:
# catch both, or usage errors would be reported as internal errors with exit code 1.
_EXIT = (click.exceptions.Exit, typer.Exit)
_ABORT = (click.exceptions.Abort, typer.Abort)
_USAGE = (click.ClickException,)
try:
    from typer._click import exceptions as _typer_click_exceptions
except ImportError:  # older Typer on plain click
    pass
else:
    _USAGE += (_typer_click_exceptions.ClickException,)

app = typer.Typer(
    name="cupola",
    help="Analyse imagery taken from the ISS and other low orbits.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_state = {"debug": False}


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks of internal errors.")):
    _state["debug"] = debug


def _register() -> None:
    from cupola.cli import geolocate, lightning, locate, nightlights, orbit, shadows

    for group in (geolocate, orbit, shadows, locate, nightlights, lightning):
        group.register(app)


def _say_error(message: str) -> None:
    line = " ".join(str(message).split())
    print(f"cupola: error: {line}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns (and exits with) the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _register()
    code = 0
    try:
        app(args=argv, prog_name="cupola", standalone_mode=False)
    except _EXIT as exc:
        code = exc.exit_code
    except _USAGE as exc:  # usage errors: exit code 2, one line
        code = exc.exit_code
        if type(exc).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            _say_error(exc.format_message() + hint)
    except _ABORT:
        _say_error("aborted")
        code = 1
    except InputError as exc:
        _say_error(str(exc))
        code = 2
    except NoSolutionError as exc:
        _say_error(f"no solution: {exc}")
        code = 3
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if _state["debug"] or "--debug" in argv:
            traceback.print_exc()
        _say_error(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        code = 1
    return code


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
