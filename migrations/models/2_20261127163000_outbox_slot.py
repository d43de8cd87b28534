from pathlib import Path

from aerich.utils import import_py_file
from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        -- Hand-written (no model changes): each delivery drain reads one partition's oldest
-- records, and partition p of DELIVERY_PARTITIONS is the slots s = chat_id mod 256 with
-- s mod DELIVERY_PARTITIONS = p (app/storage/outbox.py take_batch). Without this index every
-- drain scanned the whole outbox (pg_stat_statements over a make bench run: 1.5 ms a drain,
-- the largest PostgreSQL cost, growing with the backlog).
CREATE INDEX IF NOT EXISTS "idx_outbox_slot_id" ON "outbox" ((mod(coalesce("chat_id", 0), 256)), "id");"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP INDEX IF EXISTS "idx_outbox_slot_id";"""


# No model changes: the models' state is that of the migration before.
MODELS_STATE = import_py_file(Path(__file__).with_name("1_20261127120000_sessions.py")).MODELS_STATE
