from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        -- Hand-written (no model changes: the column is written by app/storage/users.py only).
-- The display name's search key, folded in Python (NFKC, casefold): PostgreSQL's lower() follows
-- the database's LC_CTYPE, and a database made under the C locale (the embedded server's on a
-- machine with no LANG) lowers ASCII only, so "Анна" never matched "анна". Rows stored before
-- this migration are folded by lower() here, the best the server can do; every profile change
-- folds again in Python.
ALTER TABLE "users" ADD COLUMN IF NOT EXISTS "display_name_key" TEXT;
UPDATE "users" SET "display_name_key" = lower("display_name") WHERE "display_name" IS NOT NULL;
DROP INDEX IF EXISTS "idx_users_display_name_prefix";
CREATE INDEX IF NOT EXISTS "idx_users_display_name_key_prefix" ON "users" ("display_name_key" text_pattern_ops, "id");"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP INDEX IF EXISTS "idx_users_display_name_key_prefix";
        CREATE INDEX IF NOT EXISTS "idx_users_display_name_prefix" ON "users" (lower("display_name") text_pattern_ops, "id");
        ALTER TABLE "users" DROP COLUMN IF EXISTS "display_name_key";"""


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
    "K7TtRn7YiGM1S12H7g9afR9miDHxSoXzxKdPJ2/L9sKTXBmYPQ+b25J3Jf35McGuANf3cP"
    "uejKSPQn2n9jT9mJ4mneGsixElOsNZneCHjmY4O5dpjR1+Ct2bQYHDNFk9rPKVuj7hZC4o"
    "a+d99i8PU5mZg1MXz+WEBWQjYE5v5QZ/kIsZMPTtZ1XBABUTmsraDFzMUFHsw2oallEPH5"
    "H7U3A6HATfCORiwACU/lcLgSvIr6TPVf6+xi7j/lO4BaXD9VbGXciqoBEV+EAJ+kJculAp"
    "1hS1jFeHBmLKjxvVBM+VflH/i2p7RRM7t4mOJ4Yg95R0PEcGx0e52LS3tHPeUh2w+tQ79l"
    "q1eIJY4WiGqmt9xhw9dLS+qmF+viq1Pl/lHNjRrN+sayfZdOdu3bmbG6jaMN0Mw7QjIRDn"
    "6Fp8h3VJb1Bh+EOq/h51XlGKcS9I6yYtdqDoWyBgBT6r0Hc5lTG7kIGLX8cqgsCCzELsZ4"
    "CgoeJ6mSMTEVNhHRYkKl5RozoquNOTZEVUsJT4REq3kU86xaX90vf6pbUT9UdZq1Lqtpwk"
    "W8g8yafPvXb53OsT7zd1bSy333GqcIAHaK3ABz72uHURt7aZ4NY4B5jsXV3yhqs9iALFOd"
    "ybKFeY1QG7WnpyOZxaR91QHVUKX/1uoKEmefoXmrL6A2xoDovufS8HOGLoH7qjgzr6v6Aq"
    "j748yEdXQcYWVMygTW2tHGMPHbG7Ozt1YjF3dspjMWVd5pIXNpGnoW8L5o37UgPGfI+YGT"
    "Cc2Dc2MaAEzpzjAk3tXrxDNp2IsUkiRswcGy4nTdfGLF//ZvA1BB/fCu2k+bZlim1Nh7z7"
    "qhCmMo6idt6zNKf2pXTZlyJgZ+3yNScZtYy7LGPtBy+fWvvrB+/YRdl6fK8vH/tGXay5s/"
    "FaUoPIiMRCe+dQlxeEgR0FjO9+O0c2DDM4lPjSDYN6hB+rtjZwui3zpmdCijg0rHl4s/QD"
    "0Ioa6itUwa7DQ3Hq5Q5NCig/1JxZ2HkgVjJH6KlqrK9Q+dkpHgjTW9VIXyFKXq3XHqPELX"
    "59BKk401B7uIryHPURt6lNjRthc00LDoU3wUvu7x7JtnoN1AM7VS9BWnc0gQ9YSUhBhGZ1"
    "XMEklt79Ubj+kHBlhKzDQDBAwLVL54A6SOXMhcDELjK4zPfLVQauIZC5mVU+XapOq+UIBh"
    "mY1/WcL0SmEjNDGghmLpUn9WQiMv+JQ3UeTmYxlknNgOikklZwOcJMRMRA/ksEb1QW/Ps5"
    "/ABZH9DmbmD9HNVERK4+MNfRIAztuSsXUH89d6EG0HTspfn0oabWW1/BtNhSAPrI5KqzMS"
    "SWNZ2QoSoKNd0B77/lI6EKaGDvB9bsYHjvGLnYsIq08aCmUhWHMU1nYnx/FN1ytLv/Yv/l"
    "3uF+NJVGJVUz6P1ao8zPURi7Xx6dlGDpYaTj6OCgVmzpQUVs6UFBZsQmCAfkPUR3LXGk4o"
    "k82LhJI1x+y0GCRd9y0PCWgyc97P39/82OLZ0="
)
