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
    "message_id" BIGINT,
    "payload" JSONB,
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
-- Hand-written: expression indexes Tortoise models cannot declare.
CREATE UNIQUE INDEX IF NOT EXISTS "uid_users_username_lower" ON "users" (lower("username"));
CREATE UNIQUE INDEX IF NOT EXISTS "uid_users_email_lower" ON "users" (lower("email"));
CREATE INDEX IF NOT EXISTS "idx_users_username_prefix" ON "users" (lower("username") text_pattern_ops, "id");
CREATE INDEX IF NOT EXISTS "idx_inbox_events_created_at" ON "inbox_events" ("created_at");
CREATE INDEX IF NOT EXISTS "idx_chats_activity" ON "chats" ("last_activity_at" DESC, "id" DESC);
CREATE INDEX IF NOT EXISTS "idx_refresh_tokens_session" ON "refresh_tokens" ("session_id");
CREATE INDEX IF NOT EXISTS "idx_auth_sessions_revoked" ON "auth_sessions" ("revoked_at") WHERE "revoked_at" IS NOT NULL;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        """


MODELS_STATE = (
    "eJztXW1T27gW/iuafFk6k3IhhJd279yZQNNt7gLpQLh3Z2nHq9gi0eJIqSUTMr389yvJdm"
    "I7trFNUhxXX9og6cj2c/RynqMj6XtjQi1ks92Oy8fXiDFMSeM9+N4gcILEj6TsJmjA6XSZ"
    "KRM4HNqqPBQFDeaVVDlwyLgDTS4y76DNkEiyEDMdPOXesxp9goBNR5jsgiv0QO8xGQHMAS"
    "IWE/8zAE1T1Ac4vUeENYGD7hzExv7fABILMGreI8525fMsaooHijrWX7VL8DcXGZyOEB8j"
    "Rzzg9qtIxsRCj4gFf07vjTuMbCsCI7ZkBSrd4POpSru56X34qErK1x4aJrXdCVmWns75mJ"
    "JFcdfF1q6UkXkjRJADObJCsBLXtn01BEneG4sE7rho8arWMsFCd9C1pXIa/7xziSl1AtST"
    "5D/tf/mvFipmGJf9gXHdHRhGY0WX8hViOvCTTNEcRDvAhEugvj959S4BUakN+YCzT52rnY"
    "OjNwoCyvjIUZkKrsaTEoQceqIK9CXKpoMkJgbkq2h/EDkcT1Ay4lHJGPKWL7ob/CijgSBh"
    "qYJldwjADeDbAOAN8YFWn9hzX/cZChj0LrrXg87FZ/m4CWPfbIVfZ9CVOS2VOo+l7nj6oq"
    "Kne+PAohLw397gE5B/gj/7l924VhflBn825DuJ8YMahM4MaIWaaZAaoCZKLrWOHqdY1FZC"
    "61HJGmp9S7QcYJKpZkcO4KU6d1RyDWr2W6XW8vq17DLkGEmz5Ske9QhPVnBIKKZdAdEWdl"
    "vxvuK/t+9arYOD49bewdHJYfv4+PBk70SUVW+8mnWc0QpOe7/1LgdRpcqEpydpsNzdJ06m"
    "EtRVNXykDsIj8juaK1X0xHtDYqIE6H3L8cavZstU8BS0sSB12e0dOFtYeOGmJ75dfDHi6u"
    "vPOtdnnQ/dhkJ4CM37GXQsIwVq3+40PLszoe378h9/v0I25L4Rnoz3lVfXQFZVI9wVjrRF"
    "Q/hFkF3NmrQm8RRI4Eh9kny2fJKP2dkY8kYC61HpmXTHFCXy0Zx0BNZMK7IGyrxjpN/SX8"
    "YoajFANjPohgJwBX/RaJxk9IPyMfzFh21hRxW96dGwERnxsfjzJAPc/3SuFKc7iZkVl35G"
    "S+Y8RawAjrldDNpAoBS2FbPnotDut/KAK0qlwqvyogBrppyOfn2Zsg0ZNxj6VmzSCEv9OP"
    "N6rwZTRwx5YR7gB8znJXpdkrzue9vU9yzsIJMb92heZF6LSq1lcntdwy0ytbXzzGzt9Imt"
    "rea1FQ6bh3JN0GSInBdyLckPLlRFW9jXUplWuNVOEGOCM70QpwuvljqBtGk66jerFFK6bH"
    "TZ1NQINfP1MtRbVb9aFZMOnq8xxnq7cB+pYl81g60kg3VoMZoVlNcM9jkG+zfFpBS/ighq"
    "E2+bTDz5ZcXpVVhK06ty9EpMfvgBOagE/CuiWgfldKDsjaLTeUhIr9yVhl4vmlZl0TQwil"
    "+4aBosPG2ZCvIumoZ6ffKiabxx63XoDa5Db5LKfkAP2ESNBBrr5zSzKKylyuQMI+0AicEv"
    "DHhSKnpTxniarsOo8x4gMcvPASZD+ih/Ew7cKeAUiO/0Jn8wgww4yETCHrBWY0k3UH8irw"
    "7au/cYqdM4udZkupJkeqmwFSVkOHjDQjWk1UftHLz6qJ1KrGVW1NhZ9KdibT0ipm38kja+"
    "Xjb+Cf0a/gIwImUXLkOyWvPbpHlNLKtCLDUL2mIW1JOkoCs5QSOBCYVyM9mQohaGohYFdt"
    "Z5VAQq8gImLuNAjMZN8YZyYRBZYCqSVd7QJy+KquzsN0GrCQ7A7u4uIBSM4JS9Sd5ft+4H"
    "pJIiX7GLOjQvqs7IlcWL9CTyavb6sq8Ua/9hMQ1/afh1gPjCD3DQyuEHOGil+gFkVgXWm6"
    "oWKf4qzdoPCisMflRO418W/ymc2xQmgP/v6/5lMvQhkTgDxyYH/wM2ZluIfwaUEosIyw7G"
    "kp2Lzh/xYebsvH8ap8+yglPt/9JeEPGlkwnmaXr/KDpW2mwTE4yp/U5K1qrTfejfnJ53we"
    "er7lnvuud3wIUqVaZMEgnYI+ZX3c55sRDuTfL0IE45gaSHQpjTGXo4WnpT4baK+DbBrfgh"
    "1O+F2NpYUHBjwkZ6tbBik3Y6Ky5MyjQde6ndFO0nK+Cn87IVwfrtMl3/Oq14HPd9mlGcB+"
    "gxdb5ciNSCAmfZQN0/Btnm6WLePO9f/hYUj9us2jzV5imycDmlRwT1sUhVPhYJM381K8lm"
    "o9RGkKQYbRHBmJKHQnJTfXmR8mM1e9rvn0eUetqLD5w3F6fdq539N1EmkrWpoHjXisvq3l"
    "Xl3qW24JQ5Vw5q/W6DfvXWlFfjXJ6XojD4ETENv96eUtntKUs3nA7NygI10qOrFJzVd3lW"
    "dFY4u5nl/KWqYC7Xb6MDRBsjIwSodPCq8CjmxU6NEXQAHIrKmmDmyMUDAjABopgv8gsDdC"
    "YSHEgYVOd1J21VWWf1X8gXMhAFfJt2Dv6mQ8Bdh8gz1IU0p+FdL96x6Z52/QKAEhSusQkY"
    "BRCYDmTjLwSS+Uy8JQJDxGdIvI+3aqKqmbpDG7MxwHLjzBRiGU82nAPHJUQe5S5fW74MHI"
    "mGt4kj2rU7/Ee5w3WojA6VqU0zX4l9TDg/KT1WIyyjgzXKB2u8YphM1QYYHSdTGVXUbCGi"
    "IpEbV3Jb9ZRfQOc+yYgPZ2ca8Y5X0JiIkrn3nXuHrKmd4b7X9x9SyUBWAib0QZqq/l5wwN"
    "C3X1WGsLNFI1C7xoGDGUqy4tdTsbTfPyPnrR+dAvxvBLIDCWtdWN7Sjv4L8r8AvVO/77Aj"
    "uIJ6ChdWgLDIHySDkFl+JcqEF2b9F+LQmdrioUoLI92GJmLK4l/k+M+VBr33RTlN9duwDR"
    "LaECCYNHeVdtypkF/uBdF2feXseu16fW3bsxj0et/NWrzeixEqL59dStSQ0b7LQWjfpfLZ"
    "d3E6uxz1izXtsJhu3KUbd3GjXhvz2pgvZMyHrjBKtOajVxxlmfPxi5VybJqeQtG2YneBCn"
    "uXU+l9hgxcf+q8bR0egTFkY8R+BQiaykPNpnIjNCVmgi2/rkq1f7vSg2SGf1tq3JDaLeTl"
    "jkitxzKo0Pn/Gwg61o6nn2SuipjbcpAsofOwnI7gqnIEl3+jeCKdTb9HOyq1zvu0q6vaZ6"
    "7PzggOYsv73V8YyhK7LX47wc0R0RJuXVUKaVGhRAmGcxBilG4wq1CRXHZyOpzaRt1SG1Uq"
    "X/0uYKGGZWrouVp/LAaaQGwXQXghUEN4W4d5GIAolQqwyouv+zM2o2IMLcq2VgRriPj+3l"
    "4OxEWp9NtEZV7smCnm3U2YMHI8tzlpKfcD9yYFQ/vWbk3SNDe9udeX5lbsHF5Ndze33XOr"
    "zu3b/jPOCyx8rPDlF96NWU+u/BQ9L05dQjnGU33f6jNQhW48KQ/T8mqVOkKkr6RNAWmTHq"
    "UOcrA5biT4lPycZpZXCS7LVMat9LP4lFr77eP2ycFRezFpLlKy5srnvUUyJDTRXZxOsEMi"
    "NaTWrcPDXM6MwwxnxuHKbTeiUxVA2C9eQ3Q34rhIPaMqfYtI+hlVeovI+2e2iLxqfNHT/w"
    "GhxrLF"
)
