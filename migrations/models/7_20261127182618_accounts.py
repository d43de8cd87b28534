from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "account_exports" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "status" VARCHAR(16) NOT NULL,
    "storage_key" VARCHAR(128),
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
        ALTER TABLE "users" ADD "avatar_id" BIGINT;
        ALTER TABLE "users" ADD "deleted_at" TIMESTAMPTZ;
        ALTER TABLE "users" ADD "erased_at" TIMESTAMPTZ;
        ALTER TABLE "users" ADD "is_admin" BOOL NOT NULL DEFAULT False;
        ALTER TABLE "users" ADD "display_name" VARCHAR(64);
        ALTER TABLE "users" ALTER COLUMN "username" DROP NOT NULL;
        ALTER TABLE "users" ALTER COLUMN "email" DROP NOT NULL;
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
        ALTER TABLE "users" DROP COLUMN "avatar_id";
        ALTER TABLE "users" DROP COLUMN "deleted_at";
        ALTER TABLE "users" DROP COLUMN "erased_at";
        ALTER TABLE "users" DROP COLUMN "is_admin";
        ALTER TABLE "users" DROP COLUMN "display_name";
        ALTER TABLE "users" ALTER COLUMN "username" SET NOT NULL;
        ALTER TABLE "users" ALTER COLUMN "email" SET NOT NULL;
        DROP TABLE IF EXISTS "account_exports";
        DROP TABLE IF EXISTS "user_blocks";"""


MODELS_STATE = (
    "eJztXdty2zgS/RWUXsap0ji2fImT2doqOVEm3ontlC3vTk2SUiASlhBTAEOAtrWz+fcFwP"
    "vVJC3FFIOXRAbQIHkal9ONBvB3b0FNZLHtoWFQl/DRvU0d3nsF/u4RuEDiR36BPuhB246y"
    "ZQKHU0tJQK/oBKmyKg9OGXegIWu+hhZDIslEzHCwzTElUmgITMgh8GTA1ofzyzF47jLksO"
    "cL9NxLfvYKTF1scTBdAj5H4IuX/AV8pVOACacqdYFMDAHj1EHb8tkmNcTDMZmt9zEuwd9c"
    "NOF0hkS2Ix728bNIxsRE94jJPz/25INkWcNBkCNzAnnvsyxk30yuMbLMBPDYlEVV+oQvbZ"
    "V2jGcnhL9VZeWnTScGtdwFicrbSz6nJBQQrytTZ4ggRz5SpHHHlfgT17J8jQUq8T4hKuK9"
    "e0zGRNfQtaQWpbT3AlFabzI5Ox9PLkfjyaSX0XAgEdOGn2RQIluHeFWmAJjJV/j15WCwt/"
    "disLN3eHSw/+LFwdHOkSir3jeb9eK79zIRWl5VCrOT30/OxvKFqGiCXhOVCd+VjGgNnpRS"
    "UYQ+45C7LKuB13Po5OMfSaR0ID4urYMA8TIlBAmRFqKuE0JuI2JKMNeliwW8n1iIzPhc/L"
    "l7WALzv4cXr98NL7Z2D58lsT7zcwYqS6IeR1mUm6HJDVrWgzoh1ghvv0nXgnudrT6J9OCo"
    "CtSDo2KsZV4S7Niok8H6jcjheIHy8U5KpuA2fdHt4Me6Gvs60RcfaJ4Ta+k3jBLwxyeno8"
    "vx8PSDfNyCsW+Wwm84HsmcgUpdplK30n0irAT852T8Dsg/wV/nZyMFL2V85qgnRuXGf/Xk"
    "O0GX0wmhdxNoxoblIDVALaH1a0wwmzdSe0p0BXpvWafbEDUHmJTqWXKLSV3OEBN6mDhsQj"
    "/+YdxB0rbrm1zqELC8pBreCqKIZ+QPtFSqOBHvDYmBcqD3GfeVX82GqeB70MaC1KjbO/Au"
    "5Lnxpie+XXwx4t6sP7x8PXwz6imEp9C4uYOOOUlALXPogKZSwrLZrMVgkU6BRBAI0/8K+c"
    "6BncM5NOYLRPKtoCi33AQKy1U1fwhwbYtCE5ngGlvoN4A5EwYIRwxY+BYJuyNtdYAt8fzn"
    "KuEZcIWyHfAlRoy+5Bg/a3pIJdPHe7A2f9ozhJWZPwvEmNRxXS0k5RrNKQ9zhK6qI4Jf/V"
    "/DIArK/zjL84eZQoODgwqmkChVaAqpvJQpRAkXg7MHVA2c03IdxHt3Z6eK6bmzU2x6yryU"
    "nY//m4Nz2UASSGha2ngQucOm0GgG9ULIw/JrGrafAvLB7v6L/aO9w/0Q6TClDOAsmHNB3u"
    "c5FnQhmpGAhjML5xM6/lo3OKzf88fn7mJKILbq4p0R1K5W7WrVrtYiF5xv49Z3wyUFNedZ"
    "mSsu5nXQ7rhSd1yyCbbKJefy+SVizPvyrE8ult0vdcqJghPmlazoljsnCFh0hsk2uEC39E"
    "YgDTAHiJhM+c6gYYj6AKc3iLA+cNC1GE3m/t8AEhMwatwgzrLOuNVWXTX6wFdvYw/c1dXJ"
    "mxr+N9fF5raUadJzHnbD9f5x7RJDKguoJ8l/9v+5rsXwksFJcYQ9b+qJTyrq08s9bZoq/I"
    "xUAd3bWNTWQOtJyQ5qfUO0XGlR1pEje6POnZTUS+9t1rIFGRfEApEGek7LdrBDd3gYx3Yd"
    "b4pXunsulMP9Ch6Uw/1CB4rMSvpPFFUV1gDJ6U/F+Caluofz4KBKAKYoVbIUlgnB1HFDrX"
    "FW6Lih9cYNxXmZsqYnnjWd0/Z9+bd/XCALct+1kI/3hVfXWFbVIdy/r9OlI8bw3Pgqld4v"
    "c+IYokQ1500xAg87S3RUUiujkuqGa3Q4TKPKolXxklV2hRBzqx60gUD3aJZeEdT2YaJcc/"
    "vQt+6/1Zs04lI/jl7vdGDqSCEv6AG+xXzZ1C+Tktd9b5P6nokdZPC6ES9JqZVMbk9L3BJT"
    "236VmW2/eGLbV/NaxoatYnIt0GKKnEfaWtI+OFUVbWBfK7S04q3WD6B/JE6nXi1dAmnd5q"
    "jfrAqM0qjRlZumk1gzX62F+lHVL+tVfqLPxYcLzPW+mtZasA6tZ2YF5bUF+5AF+5Vi0si+"
    "SghqirdJFE9+WX3zKi6lzatm5pWY/PAtclAD+DOiWgfNdLBwpVvIJRxbdce8lKgOL2lzeA"
    "l0jLnoMXm8jQp6AEm+juNiKQVPhdy6+liY8mO1enx+/j6h0OOTVAc6uzo9Hl1s7SpNikKY"
    "F/QrxePr0uSYkF4Rbzyk6WCEtgQjBMbmI4MRggXdDVNB1WCEWK/PD0ZIN+4VQKrjO55iE8"
    "obdIsN1MtxD/k5/TLXkKnKVD4KU2LwCwOelNrrIXeEGK7DqPMKIMGelwCTKb2XvwkHrg04"
    "BeI7PVIN7iADDjKQnP7zzsBcef25/qqgvXuPkTpNO620k6qVTqpIYRkllCycxIU66K5afZ"
    "Br2J/qtfWEmLadmxFNHY5RrJDu+gv1Ro2fVfPasGyLYamtoA22gk6kUTC6LTgdM5Zbag0p"
    "02KiTIsa+/A9UwQq4wUsXMaBGI374g3lgjsygS2SVd7UN16UqbK12weDPtgD29vbgFAwgz"
    "Z7lr8bf9UPKDSKfMWGdWi7qD0jV5ldpCeRJ+PrUV+p1/7jYhr+xvDrjRehH2BvUMEPsDco"
    "9APIrBasN7VsvfaJVtDbfMrxT4C/DZfy1Kks+P+6PD/Lhz4mkrbAscHB/4CF2QbiXwKlxC"
    "JhZQdjydbp8M/0MPP6/flx2nyWFRxr/5f2gogvXSwwL9L7W9GximablGBK7ddSslOd7s35"
    "1fH7EfhwMXp9cnnid8BQlSpTJkVhJBej4ft6WyPWaacH8f85Rnpsa0CxhR7fhbCuMHZl+P"
    "bBR/GDBBdDWFierr5gM71a2LJJu+SmvLpGmTbHHsubkv0kA37J/QVpwe7t3l79Oq1/6UMW"
    "5zG6L5wvQ5FOmMBlHGj057icnobz5vvzs9+D4mnOqumppqfIxM2UnhDUwextDmbHzF/Nqh"
    "vOnhTUAe01AtqjHTf1u1ZaVveuNvcutbWtyWGzUOt3M/RrW0thT9f2WKcEtcu6+ZIB4cH9"
    "AUn4h44Dl0XrBZFQCvqK7upGM1fsePypiy2OCduWz3uKE/I9dD9+TsEpRh6jAM/iNYCE0K"
    "NWATYe1rUsDtiYNNtKnxDUM0mbZxK9yfHJphDP310b/ISYhl9vdGztRsdoQUcH+ZaBmujR"
    "bQrzPXd5WZxvPLtftoxIVcFKi4i9IRBtjMwQoHKpUAXaMi8Kd46gA+BUVNYHd45chibBTf"
    "WeyC8M0DuR4EDCPGaYt+lxldV/Ip/IWBTwvSNL8JVOAXcdIu/uEtKcxvdPetd1edr1CwBK"
    "ULzGPmAUQGA4kM0/EUiWd+ItEZgifofE+3jr76oa250KsjkHWG7BtCGWkcnTJXBcQuQVYv"
    "K15cvAmWh4Fa8G0wurrVxY1UGXOuiyM808E0Vfy+KPy+iwv0dY9k8XcNm2AUZHXLZGFR1b"
    "0m5JDOCFPKDD5qfQuckj8fHsUhLveAUnC1Gy8gkm3jG46owRf/3wuVQykJWABb2VVNU/VQ"
    "Qw9O03lSF4tmgE6vwR4GCG8lj8aiqW/P0Dcn714xyB/41AdiDB1gXzljz6C+RfAL1Wv6+x"
    "I2wF9RQuWIBg5LfSgpBZfiWKwgta/4k49E5tFlSl5coLNBBTjD/M8Z8rCb33RZVv8Y1xkN"
    "jWMmFJc1dpx7XlMk+4q1Dz+tbxeu16fWruWQ96vYNzJV7vcISqas9GEh20aF9WMGhfFtqz"
    "LzO3OIajfr2mHRfTjbtx465P6jWZ12S+FpmPXTKZy+aTl1CW0fn01ZcVjt+woWhbwBcFnq"
    "jgu5xK7zNk4PLd8NfBwSGYQzZH7DeAoKE81MyWR2pQYuRw+VVVqv3brR4kS/zbUuMTqd1a"
    "Xu6E1GqYQYtuaFrD9hXtePpJ5qoE3ZaDZAOdx+V0BFebI7gYYkx8fq45e3V18qYoiiguld"
    "Kw62JzW8puYF8uUa23OujpKq4F9aWlwUE+WlmAa4eyDF0+v4xq20xwK0S0xFtXm0JaVChR"
    "DnEOQoyKCbMKFanEk4vh1Bx1QzmqVL76XYOhxmW6t7969aEYaAHzbjAqBjgU6B66g4Mq/F"
    "+UKsRX5aVX/Rm7o2IErWtrZQQ76Ijd3dmpgLgoVXzbu8xLHVfIvLujc8aNhza5RnI/cI9r"
    "MLBv7BZXCZy5wDlM7UG8AzG9pbjOlmLMbAsuJ3XnxrRc90bwNdwTcSvYSf1ly4TYmsIVu0"
    "oIE3vnUTPvWVJS+1La7EsRsLNmJ4/EBbWO26xj7QcvHlq76wdv2ZUvun+v72ShjToifvOv"
    "06oRGRGbaO9t6vCcMLBjX/DtHxfIgtx3kxf40g2DuoSPVF0bONwWedNTIUUcGvNFcEfKI9"
    "AKK+oqVP6qw2Nx6uQKTerwGhlqzubYfiRWcrf7qaqsq1DFbmxtDlN0NWwXIYofEt0co9h5"
    "1F0EaWpRdV/ndPk4mOQ65bGsq9NAPbItdRKkda+Ke4AVLI2HaJavj08i7T0cTep1CUdGet"
    "oM+B0EXDt0AaiN1CkGEJjYQQaXJzBwcIf5vA/kaRnqhAOqdl1lCvRSMK/rOZ8IdYCwS/wy"
    "EMwcKnecibL+E/tqX5c8V4LJG+FEI5VlhZQtzB1EDOS9hP9GxXfF+dXJfL9s5kz8j2FOWM"
    "jRG79aGkygPVDFCuquBypgAHX7XlJOb85pvITjD4sNFaC3/q3GO5TRR1YZ+nywZDRlsgE+"
    "fO5ajApoYB8G1mxhmOoQOdiY57FxP6eUisOoTGtiVX8WbjnY3X+xf7R3uB8OpWFK2Qj6MG"
    "uU50zkxqAXR9nERDoYsTc4OKgUI3lQEiN5kAmyEZ2qBsJ+8Q6iu5Z4yMIrlIrPnSq+Qkmf"
    "O/XqgXOnnnTT8vf/A1seiXY="
)
