"""Fixtures of the LDraw tests (the files themselves live in tests/support/ldraw_files.py)."""

from support.ldraw_files import ldraw_dir  # noqa: F401
