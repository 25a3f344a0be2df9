"""Fixtures shared by the tracking tests."""

from collections.abc import Iterator

import pytest

from obtui.tracking.sqlite_store import SQLiteStore


@pytest.fixture
def store(tmp_path) -> Iterator[SQLiteStore]:
    """A real SQLite store in its own state dir, closed after the test."""
    s = SQLiteStore(tmp_path / "state")
    yield s
    s.close()
