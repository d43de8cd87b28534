"""Ids are PostgreSQL bigints: the one bound every layer checks them against."""

from __future__ import annotations

MIN_BIGINT = -(2**63)
MAX_ID = 2**63 - 1  # a larger (or non-positive) id names nothing that can exist


def possible_id(*ids: int) -> bool:
    """Whether every id could name a row; any other is answered as missing, never queried."""
    return all(1 <= i <= MAX_ID for i in ids)


def is_bigint(value: int) -> bool:
    """Whether PostgreSQL (and asyncpg) can take the value as a bigint at all."""
    return MIN_BIGINT <= value <= MAX_ID
