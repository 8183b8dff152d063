"""Exception types that users of cupola see.

``InputError`` is a user mistake (bad file, wrong unit, missing metadata): the CLI prints its
message on one line and exits with code 2. ``NoSolutionError`` means the input was fine but no
answer exists (exit code 3).
"""


class CupolaError(Exception):
    """Base class of all cupola errors."""


class InputError(CupolaError, ValueError):
    """Bad input: the message names the file or field and what was expected."""


class NoSolutionError(CupolaError):
    """The input was valid but the computation found no answer (e.g. the view misses the Earth)."""
