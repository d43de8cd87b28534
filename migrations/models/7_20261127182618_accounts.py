from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "account_exports" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "status" VARCHAR(16) NOT NULL,
    "storage_key" VARCHAR(128),
    "size" BIGINT,
    "created_at" TIMESTAMPTZ NOT NULL,
    "finished_at" TIMESTAMPTZ,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_account_exp_user_id_dae81f" ON "account_exports" ("user_id", "created_at");
COMMENT ON TABLE "account_exports" IS 'A data export (POST /users/me/export): built by the `export` job into the media store.';
        CREATE TABLE IF NOT EXISTS "user_blocks" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "created_at" TIMESTAMPTZ NOT NULL,
    "blocked_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    "blocker_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_user_blocks_blocker_1f24c1" UNIQUE ("blocker_id", "blocked_id")
);
CREATE INDEX IF NOT EXISTS "idx_user_blocks_blocked_67a500" ON "user_blocks" ("blocked_id", "blocker_id");
COMMENT ON TABLE "user_blocks" IS 'blocker stops blocked from opening a direct chat with, sending to the direct chat with,';
        ALTER TABLE "users" ADD "erased_at" TIMESTAMPTZ;
        ALTER TABLE "users" ADD "is_admin" BOOL NOT NULL DEFAULT False;
        ALTER TABLE "users" ADD "display_name" VARCHAR(64);
        ALTER TABLE "users" ADD "avatar_id" BIGINT;
        ALTER TABLE "users" ADD "deleted_at" TIMESTAMPTZ;
        ALTER TABLE "users" ALTER COLUMN "email" DROP NOT NULL;
        ALTER TABLE "users" ALTER COLUMN "username" DROP NOT NULL;
        CREATE INDEX IF NOT EXISTS "idx_users_avatar__d89f46" ON "users" ("avatar_id");
        -- Hand-written (expression and partial indexes Tortoise cannot declare): search by
        -- display name prefix, case-insensitive (app/storage/users.py), and the erasures whose
        -- messages are still to be wiped (the `erase_sweep` cron job).
        CREATE INDEX IF NOT EXISTS "idx_users_display_name_prefix" ON "users" (lower("display_name") text_pattern_ops, "id");
        CREATE INDEX IF NOT EXISTS "idx_users_erasure_pending" ON "users" ("id") WHERE "deleted_at" IS NOT NULL AND "erased_at" IS NULL;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP INDEX IF EXISTS "idx_users_erasure_pending";
        DROP INDEX IF EXISTS "idx_users_display_name_prefix";
        DROP INDEX IF EXISTS "idx_users_avatar__d89f46";
        ALTER TABLE "users" DROP COLUMN "erased_at";
        ALTER TABLE "users" DROP COLUMN "is_admin";
        ALTER TABLE "users" DROP COLUMN "display_name";
        ALTER TABLE "users" DROP COLUMN "avatar_id";
        ALTER TABLE "users" DROP COLUMN "deleted_at";
        ALTER TABLE "users" ALTER COLUMN "email" SET NOT NULL;
        ALTER TABLE "users" ALTER COLUMN "username" SET NOT NULL;
        DROP TABLE IF EXISTS "account_exports";
        DROP TABLE IF EXISTS "user_blocks";"""


MODELS_STATE = (
    "eJztXWtz2zYW/SsYfakzozq2/IiT7uyMnCitt7GdseXdTpOMApGwhJoCGAK0re3mvy8Avp"
    "8macmmGHxJZAAXJM/F456LC+Dv3oKayGLbQ8OgLuGje5s6vPcG/N0jcIHEj/wCfdCDth1l"
    "ywQOp5aSgF7RCVJlVR6cMu5AQ9Z8DS2GRJKJmOFgm2NKpNAQmJBD4MmArY/nl2Pw0mXIYS"
    "8X6KWX/OINmLrY4mC6BHyOwFcv+Sv4i04BJpyq1AUyMQSMUwdty2eb1BAPx2S23se4BH9z"
    "0YTTGRLZjnjYpy8iGRMT3SMm//zUkw+SZQ0HQY7MCeS9L7KQfTO5xsgyE8BjUxZV6RO+tF"
    "XaMZ6dEP5elZWfNp0Y1HIXJCpvL/mcklBAvK5MnSGCHPlIkcYdV+JPXMvyNRaoxPuEqIj3"
    "7jEZE11D15JalNLeC0Rpvcnk7Hw8uRyNJ5NeRsOBREwbfpJBiWwd4lWZAmAmX+Hn14PB3t"
    "6rwc7e4dHB/qtXB0c7R6Kset9s1qvv3stEaHlVKcxOfj05G8sXoqIJek1UJnxXMqI1eFJK"
    "RRH6jEPusqwG3s6hk49/JJHSgfi4tA4CxMuUECREWoi6Tgi5jYgpwVyXLhbwfmIhMuNz8e"
    "fuYQnM/x5evP1teLG1e/giifWZnzNQWRL1OMqi3AxNbtCyHtQJsUZ4+026FtzrbPVJpAdH"
    "VaAeHBVjLfNSYOP/onpDSiDx8KCyAQA/4bASYR4b6TPIvxM5HC9QPvZJyZQGTF90O/ixrg"
    "FmnQoRH2ieE2vpt5USrMcnp6PL8fD0o3zcgrFvlsJvOB7JnIFKXaZSt9LjUFgJ+M/J+Dcg"
    "/wR/np+NFLyU8ZmjnhiVG//Zk+8EXU4nhN5NoBmbCoPUALWE1q8xwWzeSO0p0RXovWX9cE"
    "PUHGBSqmdpz03q2mkxoUbjauv68ZMNrNJUvr7JNdcCyzqphvfCOMcz8jtaKlWciPeGxMib"
    "0nyWc+VXs2Eq+B60sSA16vYOvAu5RbzpiW8XX4y4Z2kNL98O3416CuEpNG7uoGNOElDLHD"
    "qgqZSwbDZrMVikUyARRpvpf4V854Bbcg6N+QKRfOYZ5fZLaWdYrirlJMC1LQpNZIJrbKFf"
    "AOZMkD6OGLDwLRJcL830wJZ4/kuV8AK4QtkO+BozRr/mEM41PaQS3fQerClne4awfgnlXC"
    "DGpI7raiEptyZbvavqiOBX/2eALyahQfmnY/tPRj8HBwcV6KcoVUg/VV6KClHCxeDsAVUD"
    "57RcB/He3dmpQvd3dorpvsx7VrrfOoSfZRC5w6bQaAb1QsjD8h1ysQx291/tH+0d7odIhy"
    "llAGfBnAvjfZ7DoAvRjAQ0nFk4n9HZ2rrBYf3eVj53F1MCsVUX74ygdm9XAly7WovR766r"
    "NeC49d1wSUFt86zMFRfzOmh3XKk7LtkEW+WSc/n8EjHmfXnWJxfL7pc65UTBCfNKVnTLnR"
    "MELDrDZBtcoFt6I5AGmANETKZ8Z9AwRH2A0xtEWB846FqMJnP/bwCJCRg1bhBnWWfcaquu"
    "GvHhq7exB+7q6uRdDf+b62JzW8o06TkPu+F6/7h2iSGVBdST5D/7/+yttyvlDU7KRtjzpp"
    "74pKI+vdzTpk2FH9FUQPc2FrU10HpSsoNa3xAtV1qUdeTI3qhzJyX10nubtWxBxoVhgUgD"
    "PadlO9ihOzyMY7uON8Ur3T0XyuF+BQ/K4X6hA0VmJf0nylQVbIDk9KdifJNS3cN5cFAl6F"
    "WUKlkKy4S96rih1jgrdNzQeuOG4naZYtMTj03ntH1f/v3vF8iC3Hct5ON94dU1llV1CPfv"
    "63TpiDE8N75KpffLnDiGKFHNeVOMwMPOEh2V1MqopLrhGh0O06iyaFW8ZJVdIcTcqgdtIN"
    "A9M0uvCGp+mCjXnB/67P5bvUkjLvV05vVOB6aOFPLCPMC3mC+b+mVS8rrvbVLfM7GDDF43"
    "4iUptZLJ7XkNt8TUtl9lZtsvntj21byW4bBVKNcCLabIeSTXkvzgVFW0gX2tkGnFW60fQP"
    "9InE69WroE0rrpqN+sCkhp1OjKqekk1sxXy1A/qfplvcpP9KX4QIe53lfTWgbr0Ho0Kyiv"
    "GexDDPYvikkjfpUQ1CbeJpl48svq06u4lKZXzeiVmPzwLXJQA/gzoloHzXSwcKVbyCUcW3"
    "XHvJSoDi9pc3gJdIy56DF5dhsV5gEk+TqOi6UUPBVy6+pjYcrTavX4/PxDQqHHJ6kOdHZ1"
    "ejy62NpVmhSFMC/oV8qOr2smx4T0injjIU0HI7QlGCEgm48MRggWdDdMBVWDEWK9Pj8YId"
    "24VwCpju94jk0o79AtNlAvxz3k5/TLXEOmKlP5+FGJwU8MeFJqr4fcEWK4DqPOG4CE9bwE"
    "mEzpvfxNOHBtwCkQ3+kZ1eAOMuAgA8npP+/c0ZXXn+uvCtq79xip07TTSjupWumkihSWUU"
    "LJwklcqIPuqtUHuYb9qV5bT4hp7qzPwtT+wprhGHqjxg+neU0s20IsNQvaYBZ0IknB6Lbg"
    "dMxYbikbUtRioqhFjX34HhWBiryAhcs4EKNxX7yhXHBHJrBFssqb+uRFUZWt3T4Y9MEe2N"
    "7eBoSCGbTZi/zd+Kt+QCEp8hUb1qF5UXtGrjJepCeRZ7PXo75Sr/3HxTT8jeHXGy9CP8De"
    "oIIfYG9Q6AeQWS1Yb2rZeu0zraC3+ZTjHwB/Gy7lqVNZ8P91eX6WD31MJM3AscHB/4CF2Q"
    "biXwKlxCLBsoOxZOt0+Ed6mHn74fw4TZ9lBcfa/6W9IOJLFwvMi/T+XnSsotkmJZhS+7WU"
    "7FSne3d+dfxhBD5ejN6eXJ74HTBUpcqUSVEYycVo+KHe1oh18vQg/j+HpMe2BhQz9PguhH"
    "WFsSvi2wefxA8SXAxhYXm6+oLN9GphyybtktsJ65IyTcceazcl+0kG/JL7C9KC3du9vfp1"
    "Wv/ShyzOY3RfOF+GIp2gwGU20OiPcbl5Gs6bH87Pfg2Kp21WbZ5q8xSZuJnSE4I6mL3Nwe"
    "yY+atZdcPZk4I6oL1GQHu046Z+10rL6t7V5t6ltrY1OWwWav1uhn5tayn4dG2PdUpQu6yb"
    "LxkQHtwfkIR/6DhwWbReEAmloK/orm40c8WOx5+62OKYsG35vOc4Id9D99OXFJxi5DEK8C"
    "xeA0gIPWoVYONhXcvigI1Js630CUE9k7R5JtGbHJ9tCvH83bXBT4hp+PVGx9ZudIwWdHSQ"
    "bxmoiR7dpjDfc5eXxfnGs/tly4hUFay0iNgbAtHGyAwBKpcKVaAt86Jw5wg6AE5FZX1w58"
    "hlaBLcVO+J/MQAvRMJDiTMswzzNj2usvrP5DMZiwK+d2QJ/qJTwF2HyLu7hDSn8f2T3nVd"
    "nnb9AoASFK+xDxgFEBgOZPPPBJLlnXhLBKaI3yHxPt76u6rGdqfC2JwDLLdg2hDLyOTpEj"
    "guIfIKMfna8mXgTDS8ileD6YXVVi6s6qBLHXTZmWaeiaKvxfjjMjrs7xHM/vkCLts2wOiI"
    "y9aoomNL2i2JAbyQB3TY/BQ6N3lGfDy71Ih3vIKThShZ+QQT7xhcdcaIv374UioZyErAgt"
    "5KU9U/VQQw9O0XlSHsbNEI1PkjwMEM5Vnxq6lY2u8fkfOzH+cI/G8EsgMJa11Y3tKO/gr5"
    "V0Cv1e9r7AiuoJ7ChRUgLPJbySBkll+JMuGFWf+ZOPRObRZUpeXKCzQQUxZ/mOM/Vxr03h"
    "dVvsU3ZoPEtpYJJs1dpR3Xlss84a5Cbde3zq7Xrtfntj3rQa93cK7E6x2OUFX5bCTRQUb7"
    "ugKhfV3IZ19nbnEMR/16TTsupht348Zd36jXxrw25msZ87FLJnOt+eQllGXmfPrqywrHb9"
    "hQtC3giwJPVNi7nErvM2Tg8rfhz4ODQzCHbI7YLwBBQ3momS2P1KDEyLHlV1Wp9m+3epAs"
    "8W9LjU+kdmt5uRNSq7EMWnRD0xq2r2jH0w8yVyXMbTlINtB5XE5HcLU5goshxsTn59LZq6"
    "uTd0VRRHGplIZdF5vbUnYD+3KJar3VQU9XcS2oLy0NDvLRygJcO5Rl6PL5ZVTbZoJbIaIl"
    "3rraFNKiQolyDOcgxKjYYFahIpXs5GI4tY26oTaqVL76XcNCjct0b3/16kMx0ALm3WBUDH"
    "Ao0D10BwdV7H9RqhBflZde9WfsjooRtC7Xygh20BG7u7NTAXFRqvi2d5mXOq6QeXdH54wb"
    "D21yjeSecI9rMLBv7BZXCZy5wDmW2oN4B2J6S3GdLcWY2RZcTurOjWm57o3ga7gn4lZYJ/"
    "WXLRNiawpX7KpBmNg7j5p5z5KS2pfSZl+KgJ01O3kkLqh13GYdaz948dDaXT94y6580f17"
    "fScLbdQR8Zt/nVaNyIjYRHtvU4fnhIEd+4Lvf79AFuS+m7zAl24Y1CV8pOrawOG2yJueCi"
    "ni0JgvgjtSHoFWWFFXofJXHR6LUydXaFKH18hQczbH9iOxkrvdT1VlXYUqdmNrc5iiq2G7"
    "CFH8kOjmGMXOo+4iSFOLqvs6p8vHwSTXKY9lXZ0G6pFtqZMgrXtV3AOsYGk8RLN8fXwSae"
    "/haFKvSzgy0tNmwO8g4NqhC0BtpE4xgMDEDjK4PIGBgzvM530gT8tQJxxQtesqU6CXgnld"
    "z/lMqAMEL/HLQDBzqNxxJsr6T+yrfV3yXAkmb4QTjVSWFVK2oDuIGMh7Cf+Niu+K86uT+X"
    "7ZzJn4n8KcsJCjN361NJhAe6CKFdRdD1RgAdTte0k5vTmn8RKOPyw2VIDe+rca71BGH1ll"
    "6PPBktGUyQb48LlrMVNAA/swsGYLw1SHyMHGPM8a93NKTXEYlWlNrOqPYlsOdvdf7R/tHe"
    "6HQ2mYUjaCPmw1ynMmcmPQi6NsYiIdjNgbHBxUipE8KImRPMgE2YhOVQNhv3gH0V1LPGTh"
    "FUrF504VX6Gkz51688C5U8+6afn7/wFNL/sC"
)
