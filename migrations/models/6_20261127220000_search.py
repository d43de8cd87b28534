from pathlib import Path

from aerich.utils import import_py_file
from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        -- Hand-written (no model changes: the column is PostgreSQL's own, never read or written by
-- Tortoise). Full-text search over messages (GET /messages/search, app/storage/search.py).
-- The `simple` configuration only lowercases and splits: no stemming and no stop words of
-- one language, so Russian, English and any other language are found alike. Deleted
-- messages have empty content; the partial index leaves them out all the same, and the
-- search query repeats `NOT is_deleted` so the index applies. Adding a STORED generated
-- column rewrites the table once (an exclusive lock for the rewrite's duration).
ALTER TABLE "messages" ADD COLUMN IF NOT EXISTS "search_tsv" tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, "content")) STORED;
CREATE INDEX IF NOT EXISTS "idx_messages_search_tsv" ON "messages" USING gin ("search_tsv")
    WHERE NOT "is_deleted";"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP INDEX IF EXISTS "idx_messages_search_tsv";
ALTER TABLE "messages" DROP COLUMN IF EXISTS "search_tsv";"""


# No model changes: the models' state is that of the migration before.
MODELS_STATE = import_py_file(Path(__file__).with_name("5_20261127210000_attachments.py")).MODELS_STATE
