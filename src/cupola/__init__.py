"""cupola: analysis of imagery from the ISS and other low orbits."""
__version__ = "0.1.0"
