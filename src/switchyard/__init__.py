"""Switchyard: a self-hostable, Helicone-compatible AI gateway."""

__version__ = "0.1.0"
