"""Fixtures of the publish tests (tiny stores are built by tests/support/publish_stores.py)."""

from support.publish_stores import tiny_store  # noqa: F401
