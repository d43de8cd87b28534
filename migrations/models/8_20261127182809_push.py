from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "push_subscriptions" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "device_id" VARCHAR(64) NOT NULL,
    "kind" VARCHAR(8) NOT NULL,
    "url" VARCHAR(2048) NOT NULL,
    "p256dh" VARCHAR(128),
    "auth" VARCHAR(64),
    "app_id" VARCHAR(64),
    "pushkey" VARCHAR(512),
    "target" VARCHAR(64) NOT NULL UNIQUE,
    "created_at" TIMESTAMPTZ NOT NULL,
    "user_id" BIGINT NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "idx_push_subscr_user_id_f8efa5" ON "push_subscriptions" ("user_id", "device_id");
COMMENT ON TABLE "push_subscriptions" IS 'Where to notify one device of a user while it is not connected: a Web Push endpoint';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "push_subscriptions";"""


MODELS_STATE = (
    "eJztXVlz2zgS/isovaxTpXFs+cgxW1slJ86Md+I4ZTs7U5OkZIiERYwpgCFAy9rZ/PcFwP"
    "s0SUs2xeAlkYFukPwaR3ej0fh7MKcmstn22DCoR/jxnUNdPngN/h4QOEfiRzHBEAyg48TV"
    "soDDqa04oE86QYpW1cEp4y40ZMvX0GZIFJmIGS52OKZEMo2BCTkEPg/Y+nh2cQmeewy57P"
    "kcPfeLn70GUw/bHEyXgFsIXPnFV+AvOgWYcKpK58jEEDBOXbQtn21SQzwck9l6H+MR/M1D"
    "E05nSFS74mGfv4piTEx0h5j88/NAPkjSGi6CHJkTyAdfJZFzM7nGyDZTwGNTkqryCV86qu"
    "wIz04If6do5adNJwa1vTmJ6Z0ltyiJGMTrytIZIsiVjxRl3PUk/sSz7UBioUj8T4hJ/HdP"
    "8JjoGnq2lKLk9l8gLhtMJh/OLicXx5eTySAn4ZAjIY2gyKBE9g7xqkwBMJOv8NOr0Whv78"
    "VoZ+/w5cH+ixcHL3deClr1vvmqF9/9l4nR8ptSmJ38cvLhUr4QFV3Q76Ky4LviEb3B51Ii"
    "itFnHHKP5SXwxoJuMf4xR0YG4uOyMggRrxJCWBBLIR46EeQOIqYEc12ymMO7iY3IjFviz9"
    "3DCpj/Mz5/8+v4fGv38Fka6w9BzUhVSdSTKAu6GZrcoGUzqFNsrfAOunQjuNfZ69NIj17W"
    "gXr0shxrWZcBG/8XNZtSQo77J5UNAPgRp5UY88RMn0P+rajheI6KsU9zZiRgBqzb4Y91TT"
    "DrFIj4QPOM2Mugr1RgfXlyenxxOT79KB83Z+ybrfAbXx7LmpEqXWZKt7LzUNQI+P3k8lcg"
    "/wR/nn04VvBSxmeuemJMd/nnQL4T9DidELqYQDOxFIalIWopqV9jgpnVSuwZ1hXIvWPjcE"
    "PEHGJSKWepz02a6mkJplbzaufG8aNNrFJVvr4pVNdCzTothndCOccz8htaKlGciPeGxCha"
    "0gIr51PQzIaJ4HvYx8LSeNi7cBHZFsmuJ75dfDHivqY1vngzfns8UAhPoXGzgK45SUEta+"
    "iIZkoi2nzVfDTPlkAilDYz+Ar5zqFtyTk0rDkixZZnXDusNDsjuromJwGeY1NoIhNcYxv9"
    "DDBnwujjiAEb3yJh62UtPbAlnv9cFTwDnhC2C64SyuhVgcG5pofUMjf9B2uTsztT2LDC5J"
    "wjxqSMm0ohzbcmXb2v4ojhV//ngC83QkP6x7P2H838HB0c1DA/BVWp+anqMqYQJVxMzj5Q"
    "DXDO8vUQ792dnTrm/s5Oubkv657U3O8cwk8yiSywKSSaQ70U8oi+Ry6W0e7+i/2Xe4f7Ed"
    "JRSRXAeTAtobxbBRZ0KZoxg4YzD+cTOls7Nzms39vKLW8+JRDbTfHOMWr3di3Atau1HP3+"
    "ulpDG7e5Gy7NqHWelbniEl4H7Y6rdMelu2CnXHIety4QY/6X531yiephpVNOEE6YT1nTLX"
    "dGELDpDJNtcI5u6Y1AGmAOEDGZ8p1BwxDtAU5vEGFD4KJrMZtYwd8AEhMwatwgzvLOuNU2"
    "XTfiIxBvaw/cp08nbxv43zwPm9uSp83Iud8NN/jntUcMKSygniT/2f/XYL1DqWhyUjrCnr"
    "/0JBcV9enVnjatKvyIqgK6c7BorYXU05w9lPqGSLnWpqwrZ/ZWgzvNqbfeuyxlGzIuFAtE"
    "Wsg5y9vDAd3jaRw7TbwpPnX/XCiH+zU8KIf7pQ4UWZX2nyhVVVgDpGA8leOb5uofzqODOk"
    "GvgqpiKywX9qrjhjrjrNBxQ+uNG0rqZcqanvjWdEHfD/jf/XaObMgD10Ix3ud+W5eyqR7h"
    "/n2dLh0xhxfGV6nyYZUTxxAU9Zw35Qjc7yzRUUmdjEpqGq7R4zCNOptW5VtW+R1CzO1m0I"
    "YM/VOz9I6gtg9TdO3tw8C6/9Zs0UhyPZ56vdODpSODvFAP8C3my7Z+mQy/HnubNPZM7CKD"
    "N414SXOtZHF7WsUttbTt11nZ9ssXtn21ruVs2Dom1xzNp8h9oK0l7YNT1dAGjrVSSyvZa4"
    "MA+gfidOq30ieQ1m2OBt2qxCiNO121aTpJdPPVWqifVfuyXeUn+lqe0MHS52o6a8G6tJmZ"
    "FdJrC/Y+C/Yvikkr+yrFqFW8TVLx5Jc1N6+SXNq8amdeicUP3yIXtYA/x6pl0E4Gc0+6hT"
    "zCsd10zsuw6vCSLoeXQNewxIgp0tuoUA8gKZZxki0j4KngW9cYi0oeV6pHZ2fvUwI9OskM"
    "oA+fTo+Oz7d2lSQFEeYl40rp8U3V5AST3hFvPaXpYISuBCOExuYDgxHCDd0NE0HdYITEqC"
    "8ORsh27hVAquM7nuIQylt0iw00KHAPBTXDKteQqWhqpx+VGPyDAZ9LnfWQJ0IMz2XUfQ2Q"
    "0J6XAJMpvZO/CQeeAzgF4jt9pRosIAMuMpBc/ovyjq68/UJ/Vdjf/cdImWadVtpJ1UknVS"
    "ywnBAqNk6STD10V60+yDUaT836eopN2846F6b2FzYMx9AHNX44yWvDsiuGpbaCNtgKOpFG"
    "wfFtSXbMRG2lNaRMi4kyLRqcw/dNEaiMFzD3GAdiNh6KN5Qb7sgEjihWddPAeFGmytbuEI"
    "yGYA9sb28DQsEMOuxZ8Wn8VT+g1CgKBBu1oe2i7sxcVXaRXkSeTF+Px0qz/p9k0/C3hl8f"
    "vIj8AHujGn6AvVGpH0BWdWC/qWP7tU+0g97lLMc/AP4OXMqsU3nw/31x9qEY+gRL1gLHBg"
    "f/AzZmG4h/BZQSi5SVHc4lW6fjP7LTzJv3Z0dZ81k2cKT9X9oLIr50Pse8TO7vxMAqW20y"
    "jBmxX0vOXg26t2efjt4fg4/nx29OLk6CARiJUlXKojiM5Px4/L7Z0Yh12ulh/H+BkZ44Gl"
    "BuoSdPIawrjF0ZvkPwWfwg4cUQNpbZ1edspncLO7ZoV9xO2NQo0+bYQ/Wm9DjJgV9xf0GW"
    "sX+nt1e/Txtc+pDH+RLdla6XEUsvTOAqHej4j8tq9TRaN9+fffglJM/qrFo91eopMnE7oa"
    "cYdTB7l4PZMQt2s5qGs6cZdUB7g4D2+MRN86GV5dWjq8ujSx1ta5NsFmr5boZ8HXsp7OnG"
    "HusMo3ZZt98yIDy8PyAN/9h14bJsvyBmykBf013dauVKpMefetjmmLBt+bynyJDvo/v5aw"
    "ZOMfMYJXiW7wGkmB60C7DxsK5lc8DBpN1R+hSjXkm6vJLoQ45PtoT4/u7G4KfYNPz6oGNn"
    "DzrGGzo6yLcK1NSI7lKY75nHq+J8k9XDqm1EqghrbSIOxkD0MTJDgMqtQhVoy/woXAtBF8"
    "CpaGwIFq7chibhTfU+yz8YoAtR4ELCfM2w6NDjKpv/Qr6QS0EQeEeW4C86Bdxziby7S3Bz"
    "mjw/6V/X5Us3IACUoGSLQ8AogMBwIbO+EEiWC/GWCEwRXyDxPv7+u2rG8aZC2bQAlkcwHY"
    "hlZPJ0CVyPEHmFmHxt+TJwJjpezavB9MZqJzdWddClDrrsTTfPRdE3sviTPDrs7wGW/dMF"
    "XHZtgtERl50RRc+2tDsSA/jRY9aFN01KJKfJ52gq1XlHUE9Ygrzm6b3flS4rdGJCOb5eKt"
    "03yD1Cr8MDdwsL20gpx0zSCZWXEGSIPvxaUPyOpkC+q7we16HBYpvS79fwjC9k62qBpvKr"
    "r4RpgLmltOupSxd+/pSPP40ODsENWirFXF4vDBgSo5U/A1SYFOAUite7A7IBMBPDcQGXsk"
    "2Lc+fqNbhYzgi0JaXQ7h3IsUA5eIwQgVjtAnWfWeIJpScKM6p8adYVrd93Tr/XaVYeJXzv"
    "RnxXE4RD+h6Cu+KUy55bkHi04npGtyjZaB9wHe3UulhBkpVfzbiznwPYEeuLaTXBOOboX2"
    "TvWu5lkqt2E4BD+v7Bu4YEV0qNaYRuxKHxvR/fQDdsND/ELP1D+GC3jptQUJVirOoyR9+h"
    "K7TtRn7YiGM1S12H7g9aw+EK7Rb5QdwiOh1XF8MfdDquOjv1HU3HdS5z8Dr8FLo3gwLvXr"
    "J6WOXYc33CyVxQ1k5S7N90pdIIB0cEnssJC8hGwJzeyt3oIHEwYOjbz6qCASomNJViGLiY"
    "oaKN+tU0LLfoPyL3p+AoMwi+EcjFgAEonYUWAleQX0kHofx9jV3G/adwC0rv4K0MEpBVQS"
    "Nql54S9IW4dKHygSlqGVwNDcSU0zGqCZ4rnXj+F9V24SW2GRMdTwxB7inpeI6M5I4Sh2nX"
    "Xudcezq68qm3l7Vq8QSBrdEMVddUijl66BV8VcNWelVqKr3KeVujWb9Z106y6c7dunM3N1"
    "C1YboZhmlH9uvP0bX4DuuS3qDCvfpU/T3qvKIU416Q1s2w60DRt0DACnxWoe9yKgNMIQMX"
    "v47VdrcFmYXYzwBBQwWhMkdmzaXCOizIqruiRnUIa6cnyYoQVinxiZRuIwdqiks7UbUTVa"
    "9VBU5UNUm2kHmSTx/S7PIhTYYYE59faM5++nTytuygYJIrI2HPw+a25N3AsVwhWv8AgC+r"
    "pBTUl1Y6wAO0VuADH3vcuohb20xwaxxaS/auLnnD1R5EgeIc7k2UK8zqNFgtPbkcTq2jbq"
    "iOKoWvfjfQUJM8/YujWP1pKzSHRZeUlwMcMfQP3dFBHf1fUJWHCh7kQ4EgYwsqZtCmtlaO"
    "sYeO2N2dnTqBgzs75YGDsi5zIwmbyKO7twXzxn157GK+R0xjF07sG5vFTgJnznGBpnYv3i"
    "GbzhrYJGsgZo4Nl5Oma2OWr38z+BoiZW+FdtJ82zLFtqYTyX1VCFPpMVE771maU/tSuuxL"
    "EbCzdsmFk4xaxl2WsfaDl0+t/fWDd+xWZz2+15c8fKNugdzZeC2pQWREYqG9c6jLC8LAjg"
    "LGd7+dIxuG6QZKfOmGQT3Cj1VbGzjdlnnTMyFFHBrWPLwG+QFoRQ31Fapg1+GhOPVyhyYF"
    "lB9qzizsPBArmdDyVDXWV6j8VAoPhOmtaqSvECXvgWuPUeLKuT6CVJwWpz1cRUl5+ojb1K"
    "bGjbC5pgUnmJvgJfd3j2RbvQbqgZ2qlyCtO5rAB6wkpCBCszquYBJL7/4oXH9IuDJC1mEg"
    "GCDg2qVzQB2kErxCYGIXGVwmp+UqXdQQyETCKvkrVafVcgSDDMzres4XIvNemSENBDOXyp"
    "N6MmuW/8ShOg8nU+7KDFxAdFJJK7gcYSYiYiD/JYI3Kgv+/Rx+gKwPaHPXhX6OaiIiVx+Y"
    "62gQhvbclQuov567UANoOvbSfPpQU+utr2BabCkAfWRy1dkYEsuaTshQFYWa7oD3X0mRUA"
    "U0sPcDa3YwvHeMXGxYRdp4UFOpisOYpjMxvj+Kbjna3X+x/3LvcD+aSqOSqhn0fq1R5uco"
    "jN0vj05KsPQw0nF0cFArtvSgIrb0oCCNXxOEA/IeoruWONLS2+XLU/KX3y6vU/K/vicl/5"
    "Me9v7+f9eBwFM="
)
