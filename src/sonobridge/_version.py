"""The package version (its own module, so the layers below the root can read it without
importing the root package and the lazy names it offers)."""
__version__ = "0.1.0"
