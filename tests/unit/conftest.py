"""The unit layer: in-process tests of single modules, no servers.

The root conftest's autouse `clean` fixture empties PostgreSQL and Redis before any test that
asks for `backing` or `cluster`; here it is replaced by a no-op of the same name, so nothing in
this directory can start a database or a cluster by accident. A unit that needs a real service
asks for it explicitly through the fixtures below."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def clean() -> None:
    """No per-test cleaning of shared services: unit tests use none unless they say so."""
