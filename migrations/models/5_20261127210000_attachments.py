from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "attachments" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "message_id" BIGINT,
    "name" VARCHAR(255) NOT NULL,
    "content_type" VARCHAR(100) NOT NULL,
    "size" BIGINT NOT NULL,
    "width" INT,
    "height" INT,
    "storage_key" VARCHAR(128) NOT NULL,
    "thumbnail_key" VARCHAR(128),
    "created_at" TIMESTAMPTZ NOT NULL,
    "uploader_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_attachments_message_449b8b" ON "attachments" ("message_id");
CREATE INDEX IF NOT EXISTS "idx_attachments_uploade_be1433" ON "attachments" ("uploader_id", "created_at");
COMMENT ON TABLE "attachments" IS 'An uploaded file; its bytes live in the media store (app/media) under `storage_key`.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "attachments";"""


MODELS_STATE = (
    "eJztXVlz2zgS/isovYxTpXhsWT6SbG2VHCsT7fhI2fLu1CQpBSJhCWMKVAjQjnY2/30B8B"
    "B4mqSliGLwkshAN0h+jaMvAH+3ZraJLLrbYwwa0xkirPUa/N0icIb4j5TaNmjB+XxZJwoY"
    "HFuSHIZ0shyOKXOgIZq8gxZFvMhE1HDwnGGbCIYeAe7csqGJTHCHLfQGYEbBeMEQBRZ+QA"
    "ATwKYIzJCJIaDMdhDY4c//VRa8AC4xkQO+iAo4QaN7tPiyK55s2gZ/NCaTdT7EJfiri0bM"
    "niDO7vBHffzMizEn/4ao+PNjy3+wI+gNB0GGzBFkrc+CcH4/usPIMiOIY1OQyvIRW8xl2S"
    "meDAh7J2nFx41Hhm25M7Kkny/Y1CYhA/YENUEEOeKRvIw5rsCfuJblSysQifcZSxLv/RUe"
    "E91B1xJSFNzeCyzLWqPR5dVwdNMfjkathIQDDkUefpFhE9E7sOgrAoCJeIWXrzqdg4Pjzt"
    "7B0clh9/j48GTvhNPK901WHX/3XmaJlteUxGzw2+ByKF6IS83wuqco+C55IIMelxST0t8R"
    "pULGZaUQ5XtaGgH2ijh8sENpBCTNF8cSfvl/Avi3U+ikwx7QxwDnH1IA8ET/TyK+nLV+BO"
    "Qz+G1kITJhU/5n5/AwB85/967fvu9d73CqF1FQL/2qjlcXxZc/kfHJ2QOqBM5xvgbivb+3"
    "VwBvTpWJt6yL4k3xf1NwzptIAo5KU0jtEN7IJPKITS7RBOqZkIf0a5q2NwF5Z7973D05OO"
    "qGSIcleQAnwZwiPJmyEmguGTScSTgVHbLM/Btja+L02zkpMv12TrKnX1EXRZtN3dmYQGyV"
    "xTvBWAnxuvXl9QOuWDgJtM94DcMzlKFhRDhjcJs+627wYxu7O/9A84pYC79j5IA/HFz0b4"
    "a9iw/icTNKv1oSv96wL2o6snQRK905iskpbAT8ZzB8D8Sf4M+ry76E16Zs4sgnLumGf7bE"
    "O0GX2SNiP46gqdgcQWmAWkTqgY1b2mqKMWqdp5TOI1wId/epZqzqdYiK453t8AWa/I4WUi"
    "QD/u6QGGkqp+/6uaVoG1eX70FfC0qXfdmBj6HfJd4F+ffzr0bMWx96N297Z/2WRHoMjftH"
    "6JijCOSixu7YsZKQNlk168ziJZDwpd30v0S8d+B0c9n0BlHqfXnSJ6dUt3OdcpxwRD3Kgm"
    "65K4KAZU8w2QXX6MG+50gDzAAiJpW+M2gYvD3A7HtEaBs46I7PJlP/bwCJCaht3CNGk864"
    "1TZdyAVHQ/FW9sDd3g7OSvjfXBebu4Knysh52g3X+sedSwwhLCCfJP7p/rO13qGUNjlJHe"
    "HAW3rURUV+er6nTasKP6OqgL7NMW+tgtSjnA2U+pZIOcAkV8yOmNkrDe4o5wrEXDMjrElS"
    "tiBlXLFApIKc47wNHNANnsbxvIw3xaNungvlqFvAg3LUzXSgiKqo/0SqqtwaICnjKRvfKF"
    "fzcO4cHhUKhcUHhBoKO0qFurTDgmpnxeqdFVQ7Kgo4KmhlJ4Wql0lreuRZ0yl93+d/9/s1"
    "siDzXQvpeF97bQ1FUw3C/fs6XTp8Dk/Nr5Ll7TwnjsEpijlvshF42lmis5JqmZVUNl2jwW"
    "kaRYJW2SGrZIQQM6sctAFD89QsHRHU9mGErrp96Fv3X8stGirXj1Ov9xqwdMSQ5+oBfsBs"
    "UdUvE+PXY2+bxp6JHWSwshkvUa6VLG6bVdwiS1u3yMrWzV7YunJdS9iwRUyuGZqNkfNMW0"
    "vYBxeyoS0ca5mWltpr/QT6Z+J04bXSJJDWbY763SrDKF12unzTdKR089VaqB9l+6Jd6Sf6"
    "nBreF9WSTO+rqacF69jlzKyAXluwT1mwf9mYVLKvIoxaxdsmFU98WXnzSuXS5lU184ovfv"
    "gBOagC/AlWLYNqMpi5wi3kEoatsnNejFWnl9Q5vQQ6xpSPmDS9zebqASTpMlbZYgIec751"
    "jbGw5MdK9fTq6jwi0NNBbABd3l6c9q939qUkORFmGeNK6vFl1WSFSUfEK09pOhmhLskIgb"
    "H5zGSEIKC7ZSIomoygjPr0ZIR4514BpDq/YxObUM7QAzZQK8U95Ne081xDpqQpehYMEBj8"
    "QoHHJfd6iB0hhutQ23kNENeeFwCTsf1N/CYMuHPAbMC/01OqwSOkwEEGEst/yjEwq28/1V"
    "8V9HfvMUKmcaeVdlLV0km1FFhCCDmBE5Wpge6q1Se5huOpXF+PsGnbuZqiqdMxsgXSXH+h"
    "3qjxs0peG5Z1MSy1FbTFVtBAGAX9h4zTMZXaXGtImhYjaVqU2IfvmSJQGi9g5lIG+Gzc5m"
    "8oAu7IBHNeLOvGvvEiTZWd/TbotMEB2N3dBcQGEzinL9J346/6AZlGkS/YsA1tF9Vn5sqz"
    "i/QisjF9fTlWyvV/lU3DXxl+vfEi9AMcdAr4AQ46mX4AUVWDeFPN4rUbiqDX+ZTjnwD/OV"
    "yIU6eS4P/r5uoyHXqFJW6BY4OB/wEL0y3EPwdKgUXEyg7mkp2L3h/xaebt+dVp3HwWDZxq"
    "/5f2gvAvnc0wy5L7Oz6wslabGGNM7HeCs1GD7uzq9vS8Dz5c998Obgb+AAxFKStF0TKN5L"
    "rfOy+3NWKddnqQ/59ipCtbA7ItdHUXwrrS2KXh2wYf+Q8SXAxhYXG6+oxOdLSwZot2tlVc"
    "2ijT5thz9aboOEmAn3N/QZyxebu3Vx+n9S99SOI8RN8y18uQpREmcJ4O1P9jmK+ehuvm+d"
    "XlbwF5XGfV6qlWT5GJqwk9wqiT2euczI6pH80qm84eZdQJ7SUS2pc7bsoPrTivHl11Hl1y"
    "a1uVw2ahlu92yHduLbg9XdpjHWPULuvqIQPCgvsDovD3HAcusuIFS6YY9AXd1ZVWLuV4/L"
    "GLLYYJ3RXP28QJ+R66Hz/H4OQzj5GBZ3YMIML0rCjA1sO6luDAHJNqW+kjjHolqfNKojc5"
    "bmwJ8fzdpcGPsGn49UbH2m50XAZ0dJJvHqiREV2nNN8rl+Xl+arV7bwwoi0JCwURWz3A+x"
    "iZIGCLUKFMtKVeFu4UQQfAMW+sDR4dEYYmwU31HssvFNiPvMCBhHqaYdqmx1U2/4l8IkNO"
    "4HtHFuAvewyY6xBxdxfnZra6f9K7rsuTrk8AbILUFtuA2gACw4F0+olAsnjkb4nAGLFHxN"
    "/Hi7/LZubumCubU4DFFsw5xCIzebwAjkuIuEJMvLZ4GTjhHa/g1WA6sFrLwKpOutRJl43p"
    "5oks+lIWv8qj0/6eYdlvLuGybhOMzrisjSgaFtKuSQ7gtTigY84uoHOfpsSr1blKvOMRjm"
    "acsvAJJt4xuPKMET9++KsQMhCNgJn9IFRV/1QRQNHXN7KC69m8E8jzR4CDKUrT4lfTsNDf"
    "PyDnpZ/nCPxvBGIAcW2da95Cj/4C2Rdg38nfd9jhtoJ8CuNaANfIH4QFIar8RqQKz9X6T8"
    "SxH+VmQUktIi/QQFRq/GGN/1yh0HtfVPgWX0UHUbaWcUuauVI67lyEecJdhVqvr51er12v"
    "m9Y9y0Gvd3CuxOsdzlBF7dklRwMt2lcFDNpXmfbsq8QtjuGsX65rq2y6c1fu3OWVeq3Ma2"
    "W+lDKvXDKZqs1HL6HMU+fjV18WOH5jDnnfAj4r8Fi5vsts4X2GFNy8773sHB6BKaRTRN8A"
    "BA3poaZzcaSGTYwUXX5VjWr/dq0nyRz/tpD4SEi3lJc7wrUazaBGNzStYfuKdjz9JGtVRN"
    "0Wk2QFmat8OoOrzhlcFFHKPz/VnL29HZxlZRGpXDEJuy42dwXvFo7lHNF60UFPVqoU5Jfm"
    "Jgf5aCUBLp3K0nPZ9GbZ2naCWyCjRe1ddUppkalEKYpzkGKUrTDLVJFCenI2nFpH3VIdVQ"
    "hf/i6hoao8DfRcrT4XA81g2hVG2QiHDA2Et3NYxALgVJkAy7p43J/SR5vPoWWtrQRjAxHf"
    "39srgDinyr7vXdTFDiyk3u3RKTPHU9tcl3w/cJdrMLVv7SZXbeZmd/fmmrk1O9Fdm7vrOz"
    "hgq06A3f7bMkoEPtQ4GIPGdBYc7B0TU4kLzHthQ1s432ZZy2num+fi1Ei3QmzHtbxRfYrn"
    "z8Qqeo97E6FSrhmrDtPyPrMmQqSebFgdI+UQxaaAtE7nWw852Ji2Utxvfk07zwEHlzS18c"
    "D9LO63zn73uHtycNQN9YuwJE+teNqxJrJnUz3r2b4IhaWBXojO4WEhv89hjt/nMHHFHB9U"
    "JRD2yRuI7lp8PJkHQ2bvpsk+GFLvpnn9xG6ajaZiff8/OMrpnw=="
)
