"""The ``cupola`` command: a Typer app whose subcommands are thin modules in this package.

Exit codes: 0 success, 1 internal error (traceback with --debug), 2 bad input, 3 no solution,
130 interrupted (Ctrl-C). This module is the one place that turns failures into exit codes:
:class:`~cupola.errors.InputError` and the environment's refusals (a missing, unreadable or
unwritable file, a full disk, an unreachable scheduler) are input errors, exit 2, one line naming
the file or option; :class:`~cupola.errors.NoSolutionError` is exit 3; anything else is our bug,
exit 1. Options are checked before any work (:mod:`cupola.cli.checks`).
"""

from __future__ import annotations

import sys
import traceback
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import click
import typer

from cupola.errors import InputError, NoSolutionError

# Typer >= 0.20 vendors its own copy of click (typer._click) whose exceptions are not click's:
# catch both, or usage errors would be reported as internal errors with exit code 1.
_EXIT = (click.exceptions.Exit, typer.Exit)
_ABORT = (click.exceptions.Abort, typer.Abort)
if TYPE_CHECKING:
    from typer._click.exceptions import ClickException as _TyperClickException
_USAGE: tuple[type[click.ClickException | _TyperClickException], ...] = (click.ClickException,)
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


_registered: list = []


def _register() -> None:
    if _registered:
        return
    from cupola.cli import (
        airglow,
        catalog,
        describe,
        geolocate,
        hazards,
        lightning,
        locate,
        nightlights,
        onboard,
        orbit,
        rso,
        shadows,
        stereo,
        thermal,
    )

    for group in (
        geolocate,
        orbit,
        shadows,
        locate,
        nightlights,
        lightning,
        thermal,
        stereo,
        describe,
        hazards,
        rso,
        catalog,
        airglow,
        onboard,
    ):
        group.register(app)
    _registered.append(True)


def command():
    """The click command of the whole app, every subcommand's options checked before it runs."""
    import typer.main

    from cupola.cli import checks

    _register()
    cmd = typer.main.get_command(app)
    checks.install(cmd)
    return cmd


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """cupola's own warnings as one line each; library warnings only under --debug."""
    ours = (getattr(category, "__module__", "") or "").startswith("cupola") or "cupola" in Path(filename).parts
    if ours or _state["debug"]:
        print(f"cupola: warning: {' '.join(str(message).split())}", file=sys.stderr)


def _environment_error(exc: OSError) -> str | None:
    """The one-line message of an OSError that is the environment's, not our bug; None if not."""
    import errno

    env_errnos = {
        errno.ENOENT,
        errno.EACCES,
        errno.EPERM,
        errno.ENOSPC,
        errno.EROFS,
        errno.EISDIR,
        errno.ENOTDIR,
        errno.EEXIST,
        errno.EDQUOT,
        errno.EMFILE,
        errno.ENAMETOOLONG,
        errno.ECONNREFUSED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ETIMEDOUT,
    }
    if isinstance(exc, (TimeoutError, ConnectionError)) or exc.errno in env_errnos:
        where = exc.filename if getattr(exc, "filename", None) else None
        reason = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
        return f"{where}: {reason}" if where else reason
    return None


def _say_error(message: str) -> None:
    line = " ".join(str(message).split())
    print(f"cupola: error: {line}", file=sys.stderr)


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every staging folder is cleaned on the way out."""


def _on_sigterm(signum, frame) -> None:
    raise _Terminated()


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns (and exits with) the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    import signal
    import threading

    previous_term = None
    if threading.current_thread() is threading.main_thread():
        previous_term = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _main(argv)
    finally:
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)


def _main(argv: list[str]) -> int:
    _state["debug"] = "--debug" in argv
    if not _state["debug"]:  # libraries' log records (GDAL via rasterio, dask) stay off stderr
        import logging

        logging.getLogger().addHandler(logging.NullHandler())
    code = 0
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            rv = command().main(args=argv, prog_name="cupola", standalone_mode=False)
        if isinstance(rv, int) and not isinstance(rv, bool):
            code = rv  # Typer turns Ctrl-C into exit code 130 and returns it here
    except _EXIT as exc:
        code = exc.exit_code
    except KeyboardInterrupt:
        code = 130
    except _Terminated:
        _say_error("terminated")
        code = 143
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
        from cupola.cli.options import flag_message

        _say_error(flag_message(str(exc), {}))
        code = 2
    except NoSolutionError as exc:
        _say_error(f"no solution: {exc}")
        code = 3
    except MemoryError:
        _say_error("out of memory: the input is too large for this machine")
        code = 2
    except OSError as exc:
        message = _environment_error(exc)
        if message is None:
            code = _internal(exc, argv)
        else:
            _say_error(message)
            code = 2
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        code = _internal(exc, argv)
    if code == 130:
        _say_error("interrupted")
    return code


def _internal(exc: BaseException, argv: list[str]) -> int:
    if _state["debug"] or "--debug" in argv:
        traceback.print_exc()
    _say_error(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
    return 1


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
