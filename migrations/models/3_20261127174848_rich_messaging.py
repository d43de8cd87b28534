from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "chat_members" ADD "archived" BOOL NOT NULL DEFAULT False;
        ALTER TABLE "chat_members" ADD "muted_until" TIMESTAMPTZ;
        ALTER TABLE "messages" ADD "reply_to_id" BIGINT;
        ALTER TABLE "messages" ADD "pinned_at" TIMESTAMPTZ;
        ALTER TABLE "messages" ADD "mentions" BIGINT[] NOT NULL DEFAULT '{}';
        ALTER TABLE "messages" ADD "reactions" JSONB NOT NULL DEFAULT '[]';
        -- Hand-added: a chat's pins, most recent first, without reading its other messages.
        CREATE INDEX IF NOT EXISTS "idx_messages_pins" ON "messages" ("chat_id", "pinned_at" DESC, "id" DESC)
            WHERE "pinned_at" IS NOT NULL;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP INDEX IF EXISTS "idx_messages_pins";
        ALTER TABLE "messages" DROP COLUMN "reply_to_id";
        ALTER TABLE "messages" DROP COLUMN "pinned_at";
        ALTER TABLE "messages" DROP COLUMN "mentions";
        ALTER TABLE "messages" DROP COLUMN "reactions";
        ALTER TABLE "chat_members" DROP COLUMN "archived";
        ALTER TABLE "chat_members" DROP COLUMN "muted_until";"""


MODELS_STATE = (
    "eJztXW1zm7gW/isaf9nsjOtNnNd279wZp3G3vpvEncS5d2fTDiuDYmuDBUUijqc3/30lAe"
    "bFQIDYDab60jqSjoDn6OU8R0fSt9bMMpBJOz2XTa8RpdgirXfgW4vAGeI/0rLboAVtO8wU"
    "CQyOTVke8oIa9UrKHDimzIE645l30KSIJxmI6g62mfes1pAgYFoTTDrgCj1Y95hMAGYAEY"
    "Py/ymAus7rA8y6R4S2gYPuHESn/t8AEgNQS79HjHbE8wxL5w/kday/apfgry7SmDVBbIoc"
    "/oDbLzwZEwM9Iir+vG25FDkaNkRx3UGQIUODrPVFlLPvtTuMTCOGr1dUpmtsYcu0m5vB2Q"
    "dZUnzPWNMt052RsLS9YFOLLIu7LjY6QkbkTRBBjnhsBG/imqavnyDJ+xSewBwXLb/BCBMM"
    "dAddU2it9a87l+hCWUA+Sfxz8G//1SLFNO1yONKu+yNNa60oWbxCQjl+ks7bCW8gmDCB4L"
    "cnr94QEJnaEg94/7F3tbN/9LOEwKJs4shMCVfrSQpCBj1RqY0Q5YgqVtA+4zkMz1A64nHJ"
    "BPKGL9oJflTRQJAQqiDsJwG4AXwbALzFP9AYEnPh6z5HAaPBRf961Lv4JB43o/SrKfHrjf"
    "oipytTF4nUHU9fFh8CvAFiWQn432D0EYg/wZ/Dy35Sq8tyoz9b4p34wGJpxJpr0Ig00yA1"
    "QI2XDLWOHm3Ma6ug9bhkA7W+JVoOMMlVsyNG9kqdOy65BjX7rVJpef1aNiFl3LBApIKek7"
    "IN7NANHsaxvarv91PoZJhIdoqGOVLb13tbM/iomYhM2JT/eXSQo9L/9q6kdXR0kFDTpZ/T"
    "lVlPMVylqQo5Jin9KRvfuFTzcO4eHhUAmpfKRFrmpUCdZuqf4smAsBykUy1+7IG/bUPURL"
    "zEm7fd7v7+cXd3/+jk8OD4+PBk94SXlW+8mnWco4vTwW+Dy1FcCyLh6Umwrbv7VCYgQF1V"
    "wwfLQXhCfkcLqYoBf29IdJQCvc+Hb/xqtkwFT0EbC1LD3ujA+ZKeRpse/3b+xYh5w0Lv+n"
    "3vrN+SCI+hfj+HjqFlQO2zac1j0ylt35f/8PsVMiHzXQvpeF95dY1EVQ3CXeJoda0IfjFk"
    "V7Nm3VkyBRI+HBv+s8WTfMz4GM5aKb4cmd7Oc+LovEQx5002As87S0r5RPIGyqJjpN/SX+"
    "YOacQA2c7xlUgASxgEQflKpkDdOmrcFjgpYAmcZNoBJ0krgGFmloM2EGiembXXLQIuL5UJ"
    "r8yLA6zcfNnoN5cf+uz+a7lJIyr1/czr3QZMHQnkuXmAHzBbVPXLJORV39umvmdgB+lMu0"
    "eLMvNaXGotk9vrGm6xqe2gyMx2kD2xHch5bYXDFqFcMzQbI+eFXEvwgwtZ0Rb2tUymFW21"
    "M0Qp50wvxOnCq6VJIG2ajvrNKoOUho0un5pqkWa+XoZ6K+sX9Uo/0ZfU5X2RLYuVW9VXDP"
    "Z7MVjHKkezgvKKwT7HYP+2MKnEr2KCysTbJhNPfFl5ehWVUvSqGr3ikx9+QA6qAP+KqNJB"
    "NR3MXOEWcgnDZtkxLyGqwkvqHF4CHX3Ke0ya3WZx8wCSdB1HxRIKHnO5TfWxZcr31erpcH"
    "geU+jpINGBLm8uTvtXO3tSk7wQZhn9StrxZc3kiJBaEa88pKlghLoEIwRk84XBCMGC7pap"
    "oGgwQqTXpwcjJBv3GiBV8R1ZzsZNuojO0APWUSvFPeTntPNcQ4YsU3DTSQ8IDH6iwJOSez"
    "3EjhDddajlvAOIW88LgMnYehS/CQOuDZgF+Hd6RjWYQwocpCMx/a/uPNlA/an+qqC9e48R"
    "Ok06rZSTqpZOqlBhK0rIWTiJCjXQXbX+INdlfyrX1mNiijtXMzRVOEa2QprrL1QbNX5UzS"
    "tiWRdiqVjQFrOggSAFfcEJWilMKJKby4YktdAktSixD9+jIlCSFzBzKQN8NG7zNxQL7sgA"
    "Nk+WeWOfvEiqsrPXBt022AedTgcQC0ygTX9O342/7gdkkiJfscs6FC+qz8iVx4vUJPJq9n"
    "rYV8q1/6iYgr8y/GrjxdIPsN8t4AfY72b6AURWDdabarZe+0or6F6YZGnw43IK/6r423Bh"
    "WjAF/P9cDy/ToY+IJBk41hn4PzAx3UL8c6AUWMRYdjCW7Fz0/kgOM+/Ph6dJ+iwqOFX+L+"
    "UF4V86m2GWpfcPvGNlzTYJwYTa74Rkozrd2fDm9LwPPl313w+uB34HXKpSZoqkMIzkqt87"
    "L7c1YpM8PYj/TyHpka0B2Qw9ugthU2Hskvi2wS3/wdXvha6bmFNwbUYnarWwZpN2NisuTc"
    "oUHXup3RTvJyvgZ/OyFcHm7d5e/zotfxxLPYlohB4z58ulSCMocJ4N1P9jlG+eLufN8+Hl"
    "b0HxpM2qzFNlniIDV1N6TFAFs9c5mB1TfzWrbDh7XFAFtJcIaA933JTvWklZ1bvq3Lvk1r"
    "Yqh81Cpd/t0K9tLjifLu2xTggql3X1JQPCgvsD4vD3HAcustYLQqEE9AXd1ZVmrsjx+GMX"
    "mwwT2hHPe40T8j10b78k4OQjj56BZ/YaQEzoRasAWw/rRhYHbEyqbaWPCaqZpM4zidrk+G"
    "pTiOfvLg1+TEzBrzY61najY7igo4J880CN9eg6hfkOXZYX5xvNbuctI1qyYKFFxFYP8DZG"
    "JghYYqlQBtpSLwp3iqAD4JhX1gZzRyxDE4AJ4MV8kZ8osOY8wYGEepZh2qbHdVb/mXwmI1"
    "7A944swN/WGDDXIeLuLi7NrOj+Se+6Lk+7fgFgERStsQ2oBSDQHUinnwkkizl/SwTGiM0R"
    "fx9v/V1WY7tjbmxOARZbMG2IRWTyeAEclxBxhZh4bfEycMIbXsGrwdTCai0XVlXQpQq6bE"
    "wzX4miL8X4ozIq7O8FzP71Ai7rNsCoiMvaqKJhS9o1iQG8Egd02OwCOvdpRnw0O9eId7yC"
    "2oyXLHyCiXcMrjxjxF8//EUoGYhKwMx6EKaqf6oIoOjrrzKD29m8EcjzR4CDKUqz4tdTsb"
    "DfPyHnjR/nCPxvBKIDcWudW97Cjv4Lsr+AdSd/32GHcwX5FMatAG6RPwgGIbL8SqQJz836"
    "z8Sx5nKzoCwtVl6gjqi0+Jc5/nOFQe99UeFbfCM2SGRrGWfSzJXacW2xzLPcVajs+trZ9c"
    "r1+tq2Zzno1Q7OtXi9lyNUUT4bSjSQ0b4tQGjfZvLZtyu3OC5H/XJNOyqmGnflxl3eqFfG"
    "vDLmSxnzkUsmU635+CWUeeZ88urLAsdv2JC3LeCLAk+U27vMEt5nSMH1x96b7uERmEI6Rf"
    "RXgKAuPdTUFkdqWERPseXXVanyb9d6kMzxbwuNa0K7pbzcMan1WAY1uqFpA9tXlOPpB5mr"
    "Yua2GCQr6DwqpyK46hzBRRGl/PNT6ezNzeAsK4ooKpXQsOtioyNkt7Av56jWWx30dBXVgv"
    "zS3OAgH61VgEuHsvRcNr0Oa9tOcAtEtERbV51CWmQoUYrhHIQYZRvMMlSkkJ2cDaeyUbfU"
    "RhXKl79LWKhRmQZ6rtYfi4FmMO0Ko2yElwINhLd7WIQB8FKZAMu85Lo/pXOLj6Fl2daKYA"
    "MR39vdLYA4L5V937vISxxYSL3bo1NGjue2uYZy33GXazC0b+0mV0Vzs5t7c2luzU50V3R3"
    "cwcHbNUJsNt/W0aJhY8VvvzC28ubyZUT24jlNeFTbL8Qq/jl5E2EKnJ3VnWYwku6mghR9L"
    "i+6hhFTgZsCkib9Cj1kIP1aSvFp+TntPO8SjAsUxu30o/iU+ruHRwfnOwfHSwnzWVK3lz5"
    "vLdIhISmuouzCXZEpIHUunt4WMiZcZjjzDhcuTeNd6oSCPvFG4juRhwXmacdZm8RyT7tUG"
    "0ReffMFpFXjS96+gcUfk+F"
)
