"""Scene and case generators for tests and benchmarks.

Each generator says in its docstring whether it reuses cupola's forward model or is an independent
one kept on purpose as a check.
"""
