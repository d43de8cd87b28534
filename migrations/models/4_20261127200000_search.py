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


MODELS_STATE = (
    "eJztXW1zm7gW/isavmw64+YmjvPS7p074yTu1neTuJM49+5s22FlUGxtsKBIxPH05r9fSY"
    "ANGAgQu8FUX1pH0pHgOXo5z9ER+q5NbRNZdLfrsckNohTbRHsPvmsEThH/kZbdAhp0nGWm"
    "SGBwZMnykBfUqV9S5sARZS40GM+8gxZFPMlE1HCxw/y2tAFBwLLHmOyCa/Rg32MyBpgBRE"
    "zK/6cAGgavDzD7HhHaAi66cxGdBH8DSExAbeMeMbor2jNtgzfI61h/1R7B3zykM3uM2AS5"
    "vIHPX3kyJiZ6RFT8+VnzKHJ1bIrihosgQ6YOmfZVlHPu9TuMLDOGr19Uputs7si029v++Q"
    "dZUrzPSDdsy5uSZWlnziY2WRT3PGzuChmRN0YEuaLZCN7Es6xAP2GS/yo8gbkeWryDuUww"
    "0R30LKE17Z93HjGEsoBsSfzT+VfwaJFiun41GOo3vaGuaytKFo+QUE6QZPB+wjsIJkwg+P"
    "3Jr3cJiEzVRANnH7vXOwdHbyQENmVjV2ZKuLQnKQgZ9EWlNpYoR1SxgvY5z2F4itIRj0sm"
    "kDcD0d3wRxUNhAlLFSzHSQhuCN8GANf4C5oDYs0D3ecoYNi/7N0Mu5efRHNTSr9ZEr/usC"
    "dy2jJ1nkjd8fVl8ynAnyAWlYD/9ocfgfgT/Dm46iW1uig3/FMTz8QnFlsn9kyHZqSbhqkh"
    "arzkUuvo0cG8tgpaj0s2UOtbouUQk1w1u2JmrzS445JrUHPQK5WW169lC1LGDQtEKug5Kd"
    "vAAd3gaRw7q/o+m0A3w0RyUjTMkdq+0atN4aNuITJmE/7nUSdHpf/pXkvr6KiTUNNVkNOW"
    "WU8xXKWpCjkmKeMpG9+4VPNwbh8eFQCal8pEWualQJ1m6p/icZ+wHKRTLX7sg79tU9RYPM"
    "Tbd+32wcFxe+/g6OSwc3x8eLJ3wsvKJ17NOs7RxWn/t/7VMK4FkfD0JNjW3X0qExCgrqrh"
    "g+0iPCa/o7lURZ8/NyQGSoE+4MO3QTVbpoKnsI+FqcvR6MLZgp5Gux5/d/7GiPnTQvfmrH"
    "ve0yTCI2jcz6Br6hlQB2xa99l0St8P5D/8fo0syALXQjre135dQ1FVg3CXONptO4JfDNnV"
    "rGl7mkyBhE/HZtC2aCnAjM/hTEvx5cj0Vp4Tx+AlijlvshF43llSyieSN1EWnSODnv4yd0"
    "gjJshWjq9EAljCIAjLVzIF6jZQ47bASQFL4CTTDjhJWgEMM6sctKFA88ys/XYRcHmpTHhl"
    "Xhxg5ebLRr+5/DBg99/KLRpRqR9nXu81YOlIIM/NA/yA2byqXyYhr8beNo09E7vIYPo9mp"
    "dZ1+JSa1ncXtdwiy1tnSIrWyd7YevIdW2FwxahXFM0HSH3hVxL8INLWdEWjrVMphXttVNE"
    "KedML8Tp0q+lSSBtmo4G3SqDlC47XT411SPdfL0M9bOsX9Qr/URfU7f3RbYsVm5XXzHYH8"
    "VgXbsczQrLKwb7HIP928akEr+KCSoTb5tMPPFm5elVVErRq2r0ii9++AG5qAL8K6JKB9V0"
    "IO2Nsst5REjt3FWGXm2a1mXTNDSKX7hpGm48bZkKim6aRkZ9+qZpsnOrfegN7kNvksqeow"
    "dsIC2FxgY5rTwKa8oyBYPju0Bg8AsFvpSMSReR64bnUtt9DxBf5ecAk5H9KH4TBjwHMBvw"
    "9/QXfzCDFLjIQNweMFcj5DdQfyqvDvu734zQaZJcKzJdSzK9VNiKEnIcvFGhBtLq9QfjLc"
    "ZTub4eE1M2fkUbX20b/4R+DRVQ/rNqXhHLuhBLxYK2mAX1BSnoCU6gpTChSG4uG5LUQpfU"
    "osR5YZ+KQElewNSjDPDZuMWfUGwMIhM4PFnmjQLyIqnKzn4LtFvgAOzu7gJigzF06Jv0U8"
    "PrbiCTFAWKXdSheFF9Zq48XqQWkVez15djpVz/j4op+CvDrwLEF36Ag3YBP8BBO9MPILJq"
    "sN9Ut0jxV+nWQVBYafDjcgr/qvg7cG7ZMAX8f98MrtKhj4gkGTg2GPgfsDDdQvxzoBRYxF"
    "h2OJfsXHb/SE4zZxeD0yR9FhWcKv+X8oLwN51OMcvS+wc+sLJWm4RgQu13QrJRg+58cHt6"
    "0QOfrntn/Zt+MAAXqpSZIoknYJ+YX/e6F+VCuDfJ08M45RSSHglhzmbo0WjpTYXbSuLbAp"
    "/5D65+P8TWwpyC61M6VruFNVu0s1lxaVKm6NhL7ab4OFkBP5uXrQg275Tp+vdpeXMs9Ysp"
    "Q/SYuV4uRBpBgfNsoN4fw3zzdLFuXgyufguLJ21WZZ4q8xSZuJrSY4Lqm251/qYbpsFuVp"
    "rNZtsWgiTDaIsJJpQ84pKbGsuLlB+r2dPB4CKm1NN+cuK8vTztXe/sv4kzkbxDBeWHVlJW"
    "ja46jy55BKfKRzGh0u826FcdTXk1zuV7KUqDHxNT8KvjKbU9nrJ0w6nQrDxQYyO6TsFZA4"
    "/lRWdFs1t5zl9bFizk+tW6gPcxMkbAFg5eGR5F/dipCYIugCNeWQvMXLF5QAAmgBcLRH6h"
    "wJ7xBBcSCuVlA2lHVdZZ/RfyhQx5gcCmnYO/7RFgnkvEzRBcmtnRUy/+ZRC+doMCwCYoWm"
    "MLUBtAYLiQTr4QSOYz/pQIjBCbIf48/q6JrMbxRhamE4DFwRkHYhFPNpoD1yNEXFAhHls8"
    "DBzzjlfw4gnlDq+lO1yFyqhQmcZ085XYx5TvJ2XHakRlVLBG9WCNVwyTqdsEo+JkaqOKhm"
    "1E1CRy41ocq3bYJXTv04z4aHauEe/6BfUpL1n43Ln/kTV5Mjzw+v5DKBmISsDUfhCmanAW"
    "HFD07VeZwe1s3gnkqXHgYorSrPj1VCzs90/IfRtEp4DgHYEYQNxa55a3sKP/guwvYN/J33"
    "fY5VxBtsK4FcAt8gfBIERWUIk04blZ/4W49kwe8ZCluZFuQQNRafEvcoJ2hUHvv1HhO+Ii"
    "NkjkQABn0syT2vEcLr88C6Ls+trZ9cr1+tq2Zzno1bmbtXi9FzNUUT67lGggo31XgNC+y+"
    "Sz71buCFrM+uW6dlRMde7Knbu8Ua+MeWXMlzLmI1cYpVrz8SuO8sz55MVKBQ5NO5D3rcQN"
    "x9zeZbbwPkMKbj5237YPj8AE0gmivwIEDemhpo44CG0TI8WWX1elyr9d60kyx78tNK4L7Z"
    "bycsek1mMZ1Oj7/xsIOlaOp59krYqZ22KSrKDzqJyK4KpzBBdFlPLXT6Wz4lb7rCiiqFRC"
    "w56HzV0hu4VjOUe1/u6gr6uoFuSb5gYHBWitAlw6lKXrscnNsrbtBLdAREu0d9UppEWGEq"
    "UYzmGIUbbBLENFCtnJ2XAqG3VLbVShfPm7hIUalWmg52r9sRhoCrFVBuGFQAPhbR8WYQC8"
    "VM4V4iscwIGUzmw+h5ZlWyuCDUR8f2+vAOK8VPZtoiIv8Zkp6t9NmDJzPHc4aSn3A88mhV"
    "P71h5NUjQ3u7s3l+bW7Du8iu5u7rjnVn23b/u/cV5i42OFL7/wbsxmcuWn+Pfi5CWUE+yo"
    "+1afgSpy40l1mJZXqzQRInUlbQZIm/QodZGLjYmW4lMKclp5XiW4LFMbt9LP4lNq73eOOy"
    "cHR53ForlIyVsrn/cWiZDQVHdxNsGOiDSQWrcPDws5Mw5znBmHK7fd8EFVAuGgeAPR3Yjj"
    "IvMbVdlHRLK/UaWOiLx/5ojIq8YXPf0fBAM9sg=="
)
