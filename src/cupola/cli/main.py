"""The ``cupola`` command: a Typer app whose subcommands are thin modules in this package.

Exit codes: 0 success, 1 internal error (traceback with --debug), 2 bad input, 3 no solution.
"""

from __future__ import annotations

import sys
import traceback

import click
import typer

from cupola.errors import InputError, NoSolutionError

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
    from cupola.cli import geolocate, orbit

    geolocate.register(app)
    orbit.register(app)


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
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:  # usage errors: exit code 2
        exc.show()
        code = exc.exit_code
    except click.exceptions.Abort:
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
