from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        -- Hand-written (no model changes: these columns and the table are read and written by
-- app/storage only). Contract v1.2, Scheduled and disappearing messages, and slow mode.
ALTER TABLE "chats" ADD COLUMN IF NOT EXISTS "message_ttl" INT;
ALTER TABLE "chats" ADD COLUMN IF NOT EXISTS "history_visible" BOOL NOT NULL DEFAULT TRUE;
ALTER TABLE "chats" ADD COLUMN IF NOT EXISTS "slow_mode" INT;
-- A member sees messages with seq above this (0: all); set at joining a chat whose history is hidden.
ALTER TABLE "chat_members" ADD COLUMN IF NOT EXISTS "visible_after_seq" BIGINT NOT NULL DEFAULT 0;
-- Set when the message was stored under a chat's message_ttl; the expiry job reads this index.
ALTER TABLE "messages" ADD COLUMN IF NOT EXISTS "expires_at" TIMESTAMPTZ;
CREATE INDEX IF NOT EXISTS "idx_messages_expires_at" ON "messages" ("expires_at") WHERE "expires_at" IS NOT NULL;
-- A message stored while its chat has a message_ttl expires ttl seconds after it was stored,
-- whichever statement inserts it (a send, a scheduled send): the chat row is the one the send
-- statement has just locked for its seq, so this costs no extra read from disk.
CREATE OR REPLACE FUNCTION "messages_set_expires_at"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT NEW.created_at + make_interval(secs => c.message_ttl) INTO NEW.expires_at
    FROM chats c WHERE c.id = NEW.chat_id AND c.message_ttl IS NOT NULL;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS "messages_expires_at" ON "messages";
CREATE TRIGGER "messages_expires_at" BEFORE INSERT ON "messages"
    FOR EACH ROW EXECUTE FUNCTION "messages_set_expires_at"();
-- Messages to send later (POST /messages with send_at): the truth is here, not in arq.
CREATE TABLE IF NOT EXISTS "scheduled_messages" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "chat_id" BIGINT NOT NULL REFERENCES "chats" ("id") ON DELETE CASCADE,
    "author_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
    "content" TEXT NOT NULL,
    "reply_to_id" BIGINT,
    "attachment_ids" BIGINT[] NOT NULL DEFAULT '{}',
    "client_msg_id" VARCHAR(64),
    "send_at" TIMESTAMPTZ NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS "idx_scheduled_send_at" ON "scheduled_messages" ("send_at", "id");
CREATE INDEX IF NOT EXISTS "idx_scheduled_author" ON "scheduled_messages" ("author_id", "send_at");
CREATE UNIQUE INDEX IF NOT EXISTS "uid_scheduled_author_client" ON "scheduled_messages" ("author_id", "client_msg_id")
    WHERE "client_msg_id" IS NOT NULL;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "scheduled_messages";
        DROP TRIGGER IF EXISTS "messages_expires_at" ON "messages";
        DROP FUNCTION IF EXISTS "messages_set_expires_at"();
        DROP INDEX IF EXISTS "idx_messages_expires_at";
        ALTER TABLE "messages" DROP COLUMN IF EXISTS "expires_at";
        ALTER TABLE "chat_members" DROP COLUMN IF EXISTS "visible_after_seq";
        ALTER TABLE "chats" DROP COLUMN IF EXISTS "slow_mode";
        ALTER TABLE "chats" DROP COLUMN IF EXISTS "history_visible";
        ALTER TABLE "chats" DROP COLUMN IF EXISTS "message_ttl";"""


MODELS_STATE = (
    "eJztXe1z2zbS/1cw+nLOjOoX2U7S9Jlnxk6c1tc4ztjKtXNJh4JISEJNASwBWtb18r8fAJ"
    "LiO01Skk0x+JLIABYkf4uX3cXu4u/enFrIZvtnpkk9wi8eHOry3hvwd4/AORI/8hv0QQ86"
    "TlQtCzgc24oC+k0NpNqqOjhm3IWm7HkCbYZEkYWY6WKHY0ok0RmwIIfApwF7n65vh+DAY8"
    "hlB3N04Be/eAPGHrY5GC8BnyEw8otH4E86BphwqkrnyMIQME5dtC+fbVFTPByT6XYf4xH8"
    "l4cMTqdIVLviYV/+EMWYWOgBMfnnl558kGxrughyZBmQ9/6QjZw7Y4KRbSWAx5ZsqsoNvn"
    "RU2TmeXhL+XrWVnzY2TGp7cxK1d5Z8RsmKQLyuLJ0iglz5SFHGXU/iTzzbDjgWssT/hKiJ"
    "/+4xGgtNoGdLLkpq/wWisp5hfLweGrcXQ8PoZTgcUsS4ERSZlMjRIV6VKQCm8hV++HEwOD"
    "5+NTg8fvn69OTVq9PXh69FW/W+2apX3/yXidDyu1KYXf58+XEoX4iKIegPUVnwTdGI0eBT"
    "KRZF6DMOuceyHHg7g24+/hFFigfi49I8CBEvY0JYEHEhmjoryB1ELAnmtngxhw+GjciUz8"
    "SfRy9LYP7X2c3bX85u9o5evkhi/TGoGagqiXocZdFuiow7tKwHdYKsEd7BkK4F9zZHfRLp"
    "wesqUA9eF2Mt61Jg4/+gektKSPH4orIDAD/hshJhHlvpM8i/EzUcz1E+9knKFAesgHQ//L"
    "GtBWabDBEfaF0TexmMlRKsh5dXF7fDs6tP8nFzxv6yFX5nwwtZM1Cly1TpXnodWnUCfrsc"
    "/gLkn+Df1x8vFLyU8amrnhi1G/67J98JepwahC4MaMW2wrA0RC3B9QkmmM0asT1FugG+t2"
    "we7gibQ0xK+SzlOaOunBYjarSutm4eP9nCKkXlyV2uuBZK1kk2vBfCOZ6SX9FSseJSvDck"
    "Zt6WFmg5n4NudowF38IxFpZG096Fi5VuER964tvFFyPuS1pnt2/P3l30FMJjaN4toGsZCa"
    "hlDR3QVMmqbbZqPpinSyARQpsVfIV851C35Byaszki+ZpnVNsvVTtX7aqqnAR4jk2hhSww"
    "wTb6CWDOhNLHEQM2vkdC10tremBPPP9AFbwAnmC2C0YxYXSUo3Bu6SGV1E3/wVrlbM8S1i"
    "9ROeeIMcnjulxI0m1JVu8qOyL41f8Z4IuV0LD902n7T6Z+Dk5PK6ifolWh+qnqUqoQJVws"
    "zj5QNXBO03UQ76PDwyrq/uFhsbov655V3W8dws+yiCywJTiaQb0Q8lX7DplYBkcnr05eH7"
    "88WSG9KikDOAvmTAjvsxwNuhDNiEDDmYXzGY2trVsctm9t5TNvPiYQ23XxzhBq83YlwLWp"
    "tRj97ppaQx23vhkuSahlno2Z4mJWB22OKzXHJYdgq0xyHp/dIsb8L8/a5GLV/VKjnGhoML"
    "9lRbPcNUHAplNM9sENuqd3AmmAOUDEYsp2Bk1T9Ac4vUOE9YGLJmI1mQV/A0gswKh5hzjL"
    "GuM223VVj4+AvY0tcJ8/X76rYX/zPGztS5omM+dxM1zv/yYeMSWzgHqS/Ofk/3vbnUp5i5"
    "OSEY79rSe+qahPL7e0aVHhexQV0IODRW8NuJ6k7CDXd4TLlQ5lXbmyN5rcSUp99N5mLtuQ"
    "cSFYINKAz2naDk7oDi/j2KljTfFbd8+E8vKkggXl5UmhAUVWJe0nSlQV2gDJmU/F+Capuo"
    "fz4LSK06toVXIUlnF71X5DrTFWaL+h7foNxeUypU0bvjadM/YD+ve/3iAb8sC0kI/3jd/X"
    "UHbVIdy/bdOkI9bwXP8qVd4vM+KYokU1400xAo8bS7RXUiu9kuq6a3TYTaPKoVXxkVX2hB"
    "Bzux60IUH3xCx9Iqj1w0S75vphoN3/VW/TiFM9nXh92IGtI4W8EA/wPebLpnaZFL2ee7s0"
    "9yzsIpPX9XhJUm1kc3tewS2xtZ1U2dlOije2E7WvZXTYKirXHM3HyF1T15L6wZXqaAfnWq"
    "GmFR+1gQP9mjhd+b10CaRtq6PBsCpQSqNBV66aGrFhvlkN9YvqX/ar7ER/FCd0mOm4mtZq"
    "sC6tp2aF7bUG+5gG+yfFpJF+lSDUIt4uiXjyy+qrV3EqrV41U6/E5ofvkYsawJ8h1Txoxo"
    "O5J81CHuHYrrvmpUi1e0mb3Uuga87EjMmT26gQDyDJ53GcLMXgsaDb1hxblTwtV8+vrz8k"
    "GHp+mZpAHz9fnV/c7B0pTopGmBfMKyXH1xWTY0T6RLzxkqadEdrijBAqm2s6I4QHujvGgq"
    "rOCLFZn++MkB7cG4BU+3c8RxDKO3SPTdTLMQ8FNf0y05Cl2lROPyox+AcDPpWK9ZARIabn"
    "Muq+AUhIz0uAyZg+yN+EA88BnALxnb5QDRaQAReZSG7/eXlHN95/rr0qHO/+YyRP00Yrba"
    "RqpZEqYliGCSUHJ3GiDpqrNu/kuppP9cZ6gkzrzjoXprYX1nTH0IEa3x3ntWLZFsVSa0E7"
    "rAVdSqXg4r4gO2astlQbUqqFoVSLGnH4vioClfIC5h7jQKzGffGG8sAdWcARxapuHCgvSl"
    "XZO+qDQR8cg/39fUAomEKHvciPxt/0AwqVooCxqz60XtSelatML9KbyLPJ69FcqTf+42Qa"
    "/sbw68CLlR3geFDBDnA8KLQDyKoWnDe17Lz2mU7Q25zl+DvA34FLmXUqC/4/b68/5kMfI0"
    "lr4Njk4L/AxmwH8S+BUmKR0LLDtWTv6uz39DLz9sP1eVp9lh2ca/uXtoKIL53PMS/i+3sx"
    "sYp2mxRhiu0TSdmpSffu+vP5hwvw6ebi7eXtZTABV6xUlbIociO5uTj7UC80Ypt6euj/n6"
    "Okx0IDijX0eBTCttzYleLbB1/EDxJeDGFjmV19zqb6tLBlm3bJ7YR1lTKtjq0rNyXnSQb8"
    "kvsL0oTdi97e/DltcOlDFucheijcL1cknVCBy2Sgi9+H5eLpat/8cP3x57B5WmbV4qkWT5"
    "GFmzE9Qaid2dvszI5ZcJpV1509Sagd2ms4tEcRN/WnVppWz642zy4V2tYk2SzU/N0N/jr2"
    "UujTtS3WKUJtsm5+ZEB4eH9AEv4z14XLovOCiCgFfUVzdaOdK5Yef+xhm2PC9uXzniNDvo"
    "/ulz9ScIqVxyzAs/gMIEG01inAzsO6lcMBB5NmofQJQr2TtHkn0UGOz7aF+Pbu2uAnyDT8"
    "OtCxtYGO0YGOdvItAzUxo9vk5nvt8TI/33h1v+wYkaqGlQ4Re2dAjDEyRYDKo0LlaMt8L9"
    "wZgi6AY9FZHyxceQxNwpvqfZJ/MEAXosCFhPmSYV7Q4ya7/0q+kqFoEFhHluBPOgbcc4m8"
    "u0tQcxqPn/Sv6/K5GzQAlKB4j33AKIDAdCGbfSWQLBfiLREYI75A4n3883fVjeONhbA5A1"
    "iGYDoQS8/k8RK4HiHyCjH52vJl4FQMvIpXg+mD1VYerGqnS+102ZlhnvGir6Xxx2m0298a"
    "mv3zOVy2bYHRHpetYUXHjrRb4gP4yWOzW28c50hGks+0KRXnHdHaYLHmFaP3flOyrJCJCe"
    "V4slSyb5B7hE7CgLvFDNtICcdMthMiLyHIFGP4jWjxGxoD+a7yelyHBpttQr7fwjO+kr3R"
    "Ao3lV4+EaoD5TEnXY5cu/Pwpn34YnL4Ed2ipBHN5vTBgSMxW/gJQoVKAKyhe7wHIDsBUTM"
    "cFXMo+Z5w7ozfgdjkl0JYthXTvQI4FysFjBAvEbheI+2wmnlAYUZgS5Quzrmj5vnXyvU6z"
    "8iTue3fiu+ogHLbvILgbTrnsuTmJR0uuZ3Tzko12AdfBYaWLFWSz4qsZD08yADtif7FmdT"
    "COKLrn2buVe5nkrl0H4LB99+DdQoIrJcbUQndFofF9HN9ANqy1PkQk3UP49KiKmVC0KsRY"
    "1aVC36ErpO1adtgVxWa2uhbdH7T5McwQY+KVcteJz58v3xWdhcepUjB7Hrb2Je1GxvNTgl"
    "0Crm/h9i0ZcRuF+k5tafo+LU06w1kbPUp0hrMqzg8tzXB2I9MaO/wKune9HINpvLpfZit1"
    "/YbGXLSsnPfZvzxMZWYOoi4O5IIFZCdgTu/lAX+Qixkw9NdPqoIBKhY0lbUZuJihPN+HzX"
    "QsvR4+IfeHIDocBN8I5GbAAJT21xkCI8hH0uYqf0+wy7j/FD6D0uB6L/0uZFXQiXJ8oAR9"
    "JS5dqBRrqrX0V4cmYsqOu6oJnivtov4XVbaKxk5uYwNPTEHuKe54jnSOX+Vi09bS1llLtc"
    "Pqc5/Ya9HiGXyFVytUVe0zouigofXHCurnj4Xa548ZA/Zq1a83tONkenA3Htz1FVStmO6G"
    "YtoSF4gbNBHfMRvSO5Tr/pCof0ScVy3FvBdNqyYtdqAYWyAgBT6pkHc5lT67kIHbX86UB8"
    "EMshliPwEETeXXyxyZiJgK7TAnUfGGOtVewa1eJEu8giXHDcndWjbpBJW2Sz9ql9ZG1O9l"
    "r0qI23KRbMDzOJ2Oe21z3Osznze1bS43P3EqMYAHaG3ABn7m8dlt1NtuglshDjA+utpkDV"
    "dnEDmCc3g2USwwqwC7SnJyMZxaRt1RGVUyX/2uIaHGabrnmrL5ADY0h3n3vhcDvCLoHrqD"
    "0yryv2hV7H15mvWugowtqFhB6+paGcIOGmKPDg+r+GIeHhb7Ysq61CUvzJDR0Pc568ZjqQ"
    "EjuifMDBgu7DubGFACZ81xjqT2KN4hmU7EWCcRI2aODZdG3b0xTde9FXwLzsf3Qjqpf2yZ"
    "INtSkHdXBcJExlHUzHqWpNS2lDbbUgTsrFm+5jih5nGbeazt4MVLa3ft4C27KFvP7+3lY9"
    "+pizUPOyUlCT1qTHPm12PKV0CkVa8aqpfAzKAL0sCRMU2plYJ1wiSKzzFicuWDQ12e4/V4"
    "HhC+//UG2TBMWFJwdGSa1CP8QvW1g9JF0eFRyoOOQ3M2Dy9SXwOtVUddhSo4ZFsXp04eSC"
    "aA8iMr2Aw7a2IlU+Jeqc66CpWfjGVNmN6pTroKUfwmyeYYxS6t7CJI+Ym1msOVl9ari7iN"
    "bWreIcsY5+RAqIOXdGc4l311Gqg1B1XnQVqg8YzSOyOIkcTrLlq/+f29C3JEdwm2Wj5HGY"
    "SLYb0maEjFP5XB3VnjUT6mNV2z/OlY4J+1mqvlTlpGtDY8HtLgL7iuDDdwGAiWXzBx6RxQ"
    "B6kE5BBY2EUml8nTuUpn2Acy0b1KTk5V6G+mQS+F3Lae85XIvIxW2AaCqUtl2LPM6ug/sa"
    "+Ci2VKeJkhEohBJ9sKKsdFoncT+S8RvFFRJMWX8ANkfdA2c531l1XNqpGro49b6tGmj0GK"
    "GdTdY5BQvqxtMkzQ6QjRxhbyYFlsyAAdf77p1DaxbW1Nz/6OZ7dJDsDHr0yKiQIa2MeBtV"
    "oYKxFqJDnieExZKRbGA+WocrKgMeXyZiKPT6mUUQPyNwBzFlw+hBn4dH07DCXnkem5jLoj"
    "QAnYE+9xIEaKsl8ehI/ed4JE46n0Qdt6VHiN0hhyGaRMwMTG0xkHe6PwYiXB51E/SE00Us"
    "0M6V8weiGfeIccLtMHqdRCSN3D5CIu/pV6APtKpFzPBCfCW5g8ed0WWJVi6ycwshFkyPAI"
    "x/ZI9ilrZc6hBXWlAuJ6BEDbpgvxZeIVZMfrhk/L88QmZ5Cb3Mu0RP+UyatbZoF4mtzV/k"
    "0IdSCOKDoYMLF5B2dE5IfnLSRl7iMxKh0pUctzX+FmCGWX5YW2ljrvp0m7uIpUiQcalMQD"
    "DbLxQL4QUW+njGi0V1pj3/1Q9MpCXxwinyLbak7mtnh71kjKHMmuNSW/BJ2+dbDpqIaco7"
    "mTA35xJFBE0ZmlZHB08urk9fHLkxXWq5IyiLNwEvQg850ohBoYxXPItWV8lyzjE4ht8ekG"
    "w4Exqg73M8Q6RKDNIQJ+QIdnmoixxvEgCXLN79bzG7lunuhdrOYkqbqn4RxX0nCOSzSc46"
    "yG41sfeZh/sqqsnSLTsnYeqsqmW3uxSpLqhaptC1WNgJLsYU/CCJ8dGqH32ZZP2p7V+F75"
    "nG114lDhjG0T52YrN8ni87O4J+Wj52gpN84K6XoJAoFK0gcT6oKfL4bgQODADv7G1rfw5O"
    "og6hfsydMiW7CecTBBCzDziCXT8MrLKgRhzlnath5S5Q6MYMzrG4Fbeyb17Ka3tmnQm5EH"
    "1C00RsNI5xxi7U/U2AyntISGnMjSakZ03R66fdw3ZhItuqqlENDCm1p22ay/MTgtz1UhIM"
    "a8DqYpKj1Qc5CtbdrRVp16Vh19r833cATSBj++5+ZuK3zS80w52m16DXPOk7lMnyEXm7Ne"
    "jsUnqOmXGXpg1KY1Oea/F0PJmsJIsQlE3g+be3dEsXgSI+mg4+jg9LSKZ93paUlu89OMhC"
    "ImVQ2Eg+YdRHcreczFE3mQSSmJ8D9vrz8WuC1GJGkpEJsc/BfYmO2ihFACrgQjIeqFmO5d"
    "nf2ehvvth+vztAwnOzivl2Ns85vZt/8BV6hONQ=="
)
