from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "chats" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "type" VARCHAR(8) NOT NULL,
    "title" VARCHAR(128),
    "created_at" TIMESTAMPTZ NOT NULL,
    "last_seq" BIGINT NOT NULL,
    "last_activity_at" TIMESTAMPTZ NOT NULL,
    "direct_key" VARCHAR(48) UNIQUE
);
CREATE TABLE IF NOT EXISTS "inbox_events" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "user_id" BIGINT NOT NULL,
    "inbox_seq" BIGINT NOT NULL,
    "type" VARCHAR(32) NOT NULL,
    "chat_id" BIGINT,
    "msg_seq" BIGINT,
    "sender_id" BIGINT,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "committed_at" DOUBLE PRECISION,
    CONSTRAINT "uid_inbox_event_user_id_1ec0ff" UNIQUE ("user_id", "inbox_seq")
);
COMMENT ON TABLE "inbox_events" IS 'One event a user must see, numbered per user by inbox_seq (1, 2, 3 ... no gaps).';
CREATE TABLE IF NOT EXISTS "outbox" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "type" VARCHAR(32) NOT NULL,
    "chat_id" BIGINT,
    "user_ids" JSONB,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE "outbox" IS 'A change other users must hear about, written in the change''s own transaction.';
CREATE TABLE IF NOT EXISTS "receipt_marks" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "chat_id" BIGINT NOT NULL,
    "user_id" BIGINT NOT NULL,
    "status" VARCHAR(9) NOT NULL,
    "up_to_seq" BIGINT NOT NULL,
    "at" TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_receipt_mar_chat_id_9a5872" ON "receipt_marks" ("chat_id", "user_id", "status", "up_to_seq");
COMMENT ON TABLE "receipt_marks" IS 'A member''s delivered/read mark moving up to a seq; marks only ever rise.';
CREATE TABLE IF NOT EXISTS "users" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "username" VARCHAR(32) NOT NULL,
    "email" VARCHAR(254) NOT NULL,
    "password_hash" VARCHAR(100) NOT NULL,
    "is_active" BOOL NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "last_seen_at" TIMESTAMPTZ,
    "inbox_seq" BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS "auth_sessions" (
    "id" UUID NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "expires_at" TIMESTAMPTZ NOT NULL,
    "revoked_at" TIMESTAMPTZ,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
COMMENT ON TABLE "auth_sessions" IS 'One login. Revoking it ends its access tokens, refresh tokens and sockets.';
CREATE TABLE IF NOT EXISTS "chat_members" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "role" VARCHAR(8) NOT NULL,
    "joined_at" TIMESTAMPTZ NOT NULL,
    "read_seq" BIGINT NOT NULL,
    "delivered_seq" BIGINT NOT NULL,
    "chat_id" BIGINT NOT NULL REFERENCES "chats" ("id") ON DELETE CASCADE,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_chat_member_chat_id_0a2a2a" UNIQUE ("chat_id", "user_id")
);
CREATE INDEX IF NOT EXISTS "idx_chat_member_user_id_2dfe16" ON "chat_members" ("user_id", "chat_id");
CREATE TABLE IF NOT EXISTS "devices" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "device_id" VARCHAR(64) NOT NULL,
    "acked_seq" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "last_seen_at" TIMESTAMPTZ NOT NULL,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_devices_user_id_eea309" UNIQUE ("user_id", "device_id")
);
COMMENT ON TABLE "devices" IS 'A user''s device and its cursor: every inbox event up to acked_seq was received.';
CREATE TABLE IF NOT EXISTS "messages" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "seq" BIGINT NOT NULL,
    "client_msg_id" VARCHAR(64),
    "content" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "edited_at" TIMESTAMPTZ,
    "is_deleted" BOOL NOT NULL,
    "delivered_at" TIMESTAMPTZ,
    "read_at" TIMESTAMPTZ,
    "chat_id" BIGINT NOT NULL REFERENCES "chats" ("id") ON DELETE CASCADE,
    "sender_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_messages_chat_id_6583c6" UNIQUE ("chat_id", "seq"),
    CONSTRAINT "uid_messages_sender__cd7fa5" UNIQUE ("sender_id", "client_msg_id")
);
CREATE TABLE IF NOT EXISTS "refresh_tokens" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "token_hash" VARCHAR(64) NOT NULL UNIQUE,
    "created_at" TIMESTAMPTZ NOT NULL,
    "spent_at" TIMESTAMPTZ,
    "session_id" UUID NOT NULL REFERENCES "auth_sessions" ("id") ON DELETE CASCADE
);
COMMENT ON TABLE "refresh_tokens" IS 'Opaque refresh tokens, stored as SHA-256 hashes; each is spent once.';
CREATE TABLE IF NOT EXISTS "aerich" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSONB NOT NULL
);
-- Hand-written: expression and partial indexes Tortoise models cannot declare.
CREATE UNIQUE INDEX IF NOT EXISTS "uid_users_username_lower" ON "users" (lower("username"));
CREATE UNIQUE INDEX IF NOT EXISTS "uid_users_email_lower" ON "users" (lower("email"));
CREATE INDEX IF NOT EXISTS "idx_users_username_prefix" ON "users" (lower("username") text_pattern_ops, "id");
CREATE INDEX IF NOT EXISTS "idx_inbox_events_created_at" ON "inbox_events" ("created_at");
CREATE INDEX IF NOT EXISTS "idx_chats_activity" ON "chats" ("last_activity_at" DESC, "id" DESC);
CREATE INDEX IF NOT EXISTS "idx_refresh_tokens_session" ON "refresh_tokens" ("session_id");"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        """


MODELS_STATE = (
    "eJztXW1T27gW/iuafFk6k3IhhJd2d3YmQLrNLpAOhHt3lna8ii0SL46UWjIh0+W/X0m245"
    "fYxjYJOEZf2iDpyPZz9HKeoyPpR2NCDGTR7Y7DxleIUpPgxkfwo4HhBPEfSdlN0IDTaZAp"
    "EhgcWrI85AU16paUOXBImQ11xjNvoUURTzIQ1W1zytxnNfoYAYuMTLwNLtE9uTPxCJgMIG"
    "xQ/j8FUNd5fYCRO4RpE9jo1kZ07P0NIDYAJfodYnRbPM8gOn8gr2P1VTvY/O4gjZERYmNk"
    "8wfcfOPJJjbQA6L+n9M77dZElhGB0TREBTJdY/OpTLu+7p1+kiXFaw81nVjOBAelp3M2Jn"
    "hR3HFMY1vIiLwRwsiGDBkhWLFjWZ4a/CT3jXkCsx20eFUjSDDQLXQsoZzGL7cO1oVOgHyS"
    "+Kf9q/dqoWKadtEfaFfdgaY1lnQpXiGmAy9J582BtwMTMwHUj0e33gAQmdoQDzj53Lnc2j"
    "t4JyEglI1smSnhajxKQcigKypBD1DWbSQw0SBbRvuU5zBzgpIRj0rGkDc80W3/RxkN+AmB"
    "CoLu4IPrw7cGwBv8A40+tuae7jMUMOidd68GnfMv4nETSr9bEr/OoCtyWjJ1HkvdcvVFeE"
    "93x4FFJeB/vcFnIP4Ef/UvunGtLsoN/mqId+LjB9EwmWnQCDVTP9VHjZcMtI4epiavrYTW"
    "o5I11PqGaNnHJFPNthjAS3XuqOQK1Oy1SqXl1WvZocjWkmbLY3PUwyxZwSGhmHY5RBvYbf"
    "n78v/ef2i19vYOWzt7B0f77cPD/aOdI15WvvFy1mFGKzju/da7GESVKhIeH4XBcnuXOJkK"
    "UJfV8InYyBzhP9BcqqLH3xtiHSVA71mO1141G6aCR7+N+alBt7fhbGHhhZse/3b+xYjJrz"
    "/pXJ10TrsNifAQ6nczaBtaCtSe3am5dmdC2/fkP/1xiSzIPCM8Ge9Lt66BqKpGuEscSYuE"
    "8Isgu5w1aU3iKRDDkfwk8WzxJA+zkzFkjQTWI9Mz6Y7OS+SjOekIrJhWZA2UecdIr6U/j1"
    "HUYoBsZtANCeAS/rzR2Mno++Vj+PMP28COynvTg2YhPGJj/udRBrj/7VxKTncUMysuvIyW"
    "yHmMWAHMZFYxaH2BUthWzJ6LQrvbygMuL5UKr8yLAqyYcjr69WXKFqRMo+h7sUkjLPVy5v"
    "VODaaOGPLcPDDvTTYv0euS5FXf26S+Z5g20pl2h+ZF5rWo1Eomt9c13CJTWzvPzNZOn9ja"
    "cl5b4rB5KNcETYbIfibXEvzgXFa0gX0tlWmFW+0EUco50zNxOndrqRNI66ajXrNKIaVBo8"
    "umplqoma+Wod7I+uWqmHDwfIsx1puF+0gW+6YYbCUZrE2K0Sy/vGKwTzHYf4iJS/GriKAy"
    "8TbJxBNfVpxehaUUvSpHr/jkZ94jG5WAf0lU6aCcDqS9UXQ6DwmplbvS0KtF06osmvpG8T"
    "MXTf2Fpw1TQd5F01CvT140jTdutQ69xnXodVLZU3Rv6qiRQGO9nGYWhTVkmZxhpB0gMPiJ"
    "AldKRm+KGE/dsSmxPwLEZ/k5MPGQPIjfmAFnChgB/DvdyR/MIAU20hG3B4zlWNI11J/Iq/"
    "327j5G6DROrhWZriSZDhS2pIQMB29YqIa0+qCdg1cftFOJtciKGjuL/lSsrUfElI1f0sZX"
    "y8Zv0K/hLQAjXHbhMiSrNL9JmlfEsirEUrGgDWZBPUEKuoITNBKYUCg3kw1JaqFJalFgZ5"
    "1LRaAkL2DiUAb4aNzkbygWBpEBpjxZ5g098iKpytZuE7SaYA9sb28DTMAITum75P11q35A"
    "KinyFLuoQ/Gi6oxcWbxITSKvZq8HfaVY+w+LKfhLw68CxBd+gL1WDj/AXivVDyCyKrDeVL"
    "VI8Vdp1hM6Kj6mhIQU8mWRp4h/bfHJNCKm0C+L/hTOLQITsP/9qn+RjHxIJO75MHUG/gWW"
    "STdxPs3AUoARcW/4g/jWeefP+Ph+ctY/jvstRAXHyvGo3E/8SycTk6Xp/RPvWWnTfEwwpv"
    "ZbIbl5o16GZk/718dnXfDlsnvSu+p5HXChSpkpkniC6XpELruds2Kx8+t0kPgB4gnekVDs"
    "eLprJBymvq44Z+lxaIIbbzYVSbplIsw0YdqoZdpqzdrp7ojClqviwc81nKL9ZAn8dEK8JF"
    "i/7b2rXyDnj2OeMzmK8wA9pM6XC5Fa+B6ybKDun4Ns83Qxb571L37zi8dtVmWeKvMUGWY5"
    "pUcE1XlUVT6PyqTeMmKSzUaIhSBOMdoigjElD7nkuvryIuVlNXvc759FlHrciw+c1+fH3c"
    "ut3XdRJpK1m6N414rLqt5V5d4l9z6VOdAPKv1ugn7VnqC3t1TwduFX+4Jecl9Q4IZTMXFZ"
    "oEZ6dJWi4voOywqLC2c3s5y/RBbM5fptdABvY3iEABEOXhmXRt2gtTGCNoBDXlkTzGyxeI"
    "CBiQEv5on8RAGZ8QQbYgrlQelJe4RWWf1X/BUPeAHPpp2Df8gQMMfG4vB6Ls1IeLuRe169"
    "q12vACAYhWtsAkoABLoN6fgrhng+42+JwBCxGeLv466ayGqmztAy6RiYYsfSFJoikG84B7"
    "aDsThDX7y2eBk44g1vHWfjK3f4S7nDVYySilGqTTNfCjpNOLgqPVgjLPOsaI2KaeClgzVU"
    "nIyKk6meKmq2EFGRyI1LsZ99ys6hfZdkxIezM4142y2oTXjJ3Bv+3dPt5JZ8z+v7H6FkIC"
    "oBE3IvTFVvEz6g6PvPMoPb2bwRyO36wDYpSrLiV1OxsN+/IPu9F50CvG8EogNxa51b3sKO"
    "/huyvwG5lb9vTZtzBfkUxq0AbpHfCwYhsrxKpAnPzfqv2CYzubdGluZGugV1RKXFv8jxni"
    "sMeveLcprqN2EbJLQTgzNp5kjtOFMuH2zCUXZ95ex65Xp9bduzGPRqw9NKvN6LESovnw0k"
    "ashoP+QgtB9S+eyHOJ0NRv1iTTssphp36cZd3KhXxrwy5gsZ86G7oxKt+ejdUlnmfPxGqx"
    "y71aeQt63YJazc3mVEeJ8hBVefO+9b+wdgDOkY0Z8Bgrr0UNOp2IFOsJ5gy6+qUuXfrvQg"
    "meHfFhrXhHYLebkjUquxDCp08cIago6V4+mNzFURc1sMkiV0HpZTEVxVjuDyrnJPpLPpF5"
    "hHpVZ5kXl1VfvEveUZwUEeWssAFw5l6ThsfBXUtpng5ohoCbeuKoW0yFCiBMPZDzFKN5hl"
    "qEguOzkdTmWjbqiNKpQvfxewUMMyNfRcrT4WA02gaRVBeCFQQ3hb+3kYAC+VCrDMi6/7Uz"
    "ojfAwtyraWBGuI+O7OTg7Eean0a1xFXux8L+peCpkwcjy1OSmQe8G9Sf7QvrFbkxTNTW/u"
    "9aW5FTsAWdHd9W333KgDEzf/cPkCCx9LfPmZl5LWkytHWrN3++fYnKqLbp+AKnTVTHmYgj"
    "tt6giRugs4BaR1epQ6yDb1cSPBp+TlNLO8SjAoUxm30lvxKbV224fto72D9mLSXKRkzZVP"
    "e4tESGiiuzidYIdEakitW/v7uZwZ+xnOjP2la4Z4pyqAsFe8huiuxXGRekZV+haR9DOq1B"
    "aRj09sEXnV+KLH/wORASZL"
)
