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
    "eJztXetT27gW/1c0+bJ0JmUhJEDbO3cmFLrLtkAHwu3Otp2g2CLW4siuJRNy9/Z/v5L8iN"
    "/YJimOqy9tkM6R7d/R47wk/dOZWToy6faQMagZM0RY5zX4p0PgDPEfGbVd0IG2vawTBQxO"
    "TEkOQzpZDieUOVATTd5CkyJepCOqOdhm2CKCYUiAa5sW1JEObrGJ3gDMKJgsGKLAxPcIYA"
    "KYgcAM6RgCyiwHgS3+/F9lwQvgEh054EZUwCka36HFzbZ4sm5p/NGYTNf5EJfgby4aM2uK"
    "OLvDH/X5Ky/GnPwBUfHn547/YEfQaw6CDOljyDpfBaF9N77FyNRjiGNdkMryMVvYsuwIT0"
    "8JeydpxcdNxpplujOypLcXzLBIyIA9QU0RQY54JC9jjivwJ65p+tIKROJ9xpLEe/8Ij45u"
    "oWsKKQpu7wWWZZ3x+PxiNL46GY3HnZSEA46IPPwizSKid2DRVwQAU/EKL1/1ent7B72dvf"
    "3DQf/gYHC4c8hp5fumqw6+ey+zRMtrSmJ2+tvp+Ui8EJea5nVPUfBd8kAGPS4ppkh/R5QK"
    "GVeVQpzvcWkE2EfE4YMdSiMgab84lvDL/1PAvzWgkw17QJ8AnH9ICcBT/T+N+HLW+hGQz+"
    "DD2ERkygz+Z28wKIDzP8PLt78PL7c41Ys4qOd+Vc+ri+PLn8j45OwBVQHnJF8L8d7d2SmB"
    "N6fKxVvWxfGm+L8ZOBdNJAFHrSmkcQg/yyQyxzqXaAr1XMhD+jVN288BeW+3f9A/3Nvvh0"
    "iHJUUAp8E0EJ4arAKaSwYFZxrOiA5ZZf5NsLVx+u0dlpl+e4f506+oi6PNDHc2IRCbVfFO"
    "MdZCvGl9ef2ARyycFNrHvIbhGcrRMGKcCbh1n3U7+LGJ3Z1/oH5BzIXfMQrAH52enVyNhm"
    "cfxeNmlH4zJX7D0Ymo6cnSRaJ0az8hp7AR8Ol09DsQf4K/Ls5PJLwWZVNHPnFJN/qrI94J"
    "uswaE2s+hnrE5ghKA9RiUg9s3MpWU4JR6TyVdB7hQri9yzRjo16HuDjeWQ5foMl7tJAiOe"
    "XvDomWpXL6rp9rijZxdfke9LWgdNmXHTgP/S7JLsi/n381Yt76MLx6Ozw+6UikJ1C7m0NH"
    "H8cgFzVWz0qUhLTpqllvliyBhC/tuv8l4r0Dp5vLjCtEqfflaZ9cpLpb6JTjhGPqUZZ0y1"
    "0QBExrisk2uET31h1HGmAGENGp9J1BTePtAWbdIUK7wEG3fDYx/L8BJDqglnaHGE0741bb"
    "dCkXHA3FW9sDd319elzB/+a6WN8WPHVGzuNuuM6/bl2iCWEB+STxT//fnfUOpazJSeoIe9"
    "7SE11U5KcXe9qUqvAzqgrowca8tRpSj3O2UOobIuUAk0IxO2JmrzW445wrEHPDjLA2SdmE"
    "lHHFApEack7ytnBAt3gax3YVb4pH3T4Xyn6/hAdlv5/rQBFVcf+JVFW5NUAyxlM+vnGu9u"
    "HcG+yXCoUlB0Q0FLafCXVlhwVVzorVOyuoclSUcFTQ2k6KqF4mremxZ01n9H2f/937S2RC"
    "5rsWsvG+9NoaiaZahPv3dbp0+ByemV8ly7tFThyNU5Rz3uQj8LizRGUlNTIrqWq6RovTNM"
    "oErfJDVukIIWZmNWgDhvapWSoiqOzDGF19+9C37r9VWzSiXD9Ovd5pwdKRQJ6rB/ges0Vd"
    "v0yCX429TRp7OnaQxqpmvMS5VrK4Pa/iFlva+mVWtn7+wtaX61rKhi1jcs3QbIKcJ9pawj"
    "44kw1t4FjLtbSivdZPoH8iTmdeK20Cad3mqN+tcozSZacrNk3HkW6+Wgv1s2xftCv9RF8z"
    "w/uiWpKpfTXNtGAdq5qZFdArC/YxC/ZvC5Na9lWMUal4m6TiiS+rbl5FuZR5Vc+84osfvk"
    "cOqgF/ilXJoJ4MZq5wC7mEYbPqnJdgVeklTU4vgY5m8BGTpbdZXD2AJFvGUbaEgCecb11j"
    "LCz5sVI9urj4EBPo0WliAJ1fnx2dXG7tSklyIsxyxpXU46uqyREmFRGvPaWpZISmJCMExu"
    "YTkxGCgO6GiaBsMkJk1GcnIyQ79wogVfkdz7EJ5RjdYw11MtxDfk23yDWkS5qyZ8EAgcEv"
    "FHhccq+H2BGiuQ61nNcAce15ATCZWA/iN2HAtQGzAP9OT6kGc0iBgzQklv+MY2BW336mvy"
    "ro795jhEyTTivlpGqkk2opsJQQCgInUaYWuqtWn+QajqdqfT3GpmzneoqmSsfIF0h7/YVq"
    "o8bPKnllWDbFsFRW0AZbQafCKDi5zzkdM1JbaA1J02IsTYsK+/A9UwRK4wXMXMoAn427/A"
    "1FwB3pwObFsm7iGy/SVNna7YJeF+yB7e1tQCwwhTZ9kb0bf9UPyDWKfMGGbSi7qDkzV5Fd"
    "pBaRZ9PXl2OlWv+Psin4a8OvNl6EfoC9Xgk/wF4v1w8gqhoQb2pYvPaZIuhNPuX4J8Dfhg"
    "tx6lQa/D+uLs6zoY+wJC1wrDHwP2BiuoH4F0ApsIhZ2cFcsnU2/DM5zbz9cHGUNJ9FA0fK"
    "/6W8IPxLZzPM8uT+jg+svNUmwZgQ+63gbNWgO764PvpwAj5enrw9vTr1B2AoSlkpipZpJJ"
    "cnww/Vtkas004P8v8zjPTI1oB8Cz26C2FdaezS8O2Cz/wHCS6GMLE4XX1Gpypa2LBFO98q"
    "rmyUKXPsqXpTfJykwC+4vyDJ2L7d26uP0/qXPqRxHqGH3PUyZGmFCVykA538OSpWT8N188"
    "PF+W8BeVJnVeqpUk+RjusJPcaoktmbnMyOqR/NqprOHmdUCe0VEtqXO26qD60krxpdTR5d"
    "cmtbncNmoZLvZsjXNhfcnq7ssU4wKpd1/ZABYcH9AXH4h44DF3nxgiVTAvqS7upaK1fkeP"
    "yJi02GCd0Wz3uOE/I9dD9/TcDJZx4tB8/8GECM6UlRgI2HdS3BARuTelvpY4xqJWnySqI2"
    "OT7bEuL5uyuDH2NT8KuNjo3d6LgM6Kgk3yJQYyO6SWm+Fy4ryvONVneLwoiWJCwVROwMAe"
    "9jZIqAJUKFMtGWelm4BoIOgBPeWBfMHRGGJsFN9R7LLxRYc17gQEI9zTBr0+Mqm/9CvpAR"
    "J/C9IwvwtzUBzHWIuLuLczMrun/Su67Lk65PACyCoi12AbUABJoDqfGFQLKY87dEYILYHP"
    "H38eLvshnbnXBl0wBYbMG0IRaZyZMFcFxCxBVi4rXFy8Ap73glrwZTgdVGBlZV0qVKumxN"
    "N09l0Vey+KM8Ku3vCZb98yVcNm2CURmXjRFFy0LaDckB/OhS48qdRCWS0uRTNIXqvM2pxz"
    "RCXnL33iepy3KdmFgM3y6k7uufPWLdBhvu5gY2kVSOqaDjKi8hSON9+DWn+IQmQLyruB7X"
    "tvzFNqbfr+EZX8jWzRxNxFffcNMAM0Nq1xPHmnvnp3x82Rvsgzu0kIq5uF4YUMRHK3sBLG"
    "5SgDPIX+8BiAbAlA/HOVyINg3G7JvX4GoxJdAUlFy7tyHDHGX/MVwEfLXz1X1q8Cfk7ihM"
    "qPK5p64o/b5x+r06ZuWHpO/d8e+qgnBA30JwV3zksutkHDxacD2jk3XYaBtw7e2UulhBkO"
    "VfzbjTTwFs8/VFN6pgvORoX2bvWu5lEqt2FYAD+vbBu4YDrqQaUwndkEPh+zi+vm5YaX5Y"
    "srQP4cFuGTchp8rFWNYltr5Dh2vblfywIcdqlroG3R+0hs0Vyi3yk7hF1HFcTUx/UMdxlY"
    "nUN/Q4rktxBq/NzqBz18nw7kWru0WOPccjHM84ZelDir2bruQxwv4WgV/FhAVEI2Bm3Yto"
    "tH9wMKDo2xtZQYHFJzR5xDBwMEVZgfrVNCxC9B+R89Lfygz8bwRiMaAACmehgcANZDfCQS"
    "h+32KHMu8pzIDCO3gvkgREld+IjNJbBH0hjjWX54FJapFcDTVEpdMxrPGfK5x43heVduFF"
    "woyRjseHIHOldFxbZHKHB4cp117jXHsqu/K5w8tKtXiGxNZwhiprKi05WugVfFXCVnqVay"
    "q9Snlbw1m/WteOsqnOXbtzVzdQlWG6GYZpQ+L1l+iWf4cxsu5QZqw+Vv+IOi8p+bjnpGVP"
    "2LUh71vAZwUeK9d3mSUSTCEFV78PZbjbgNRA9A1AUJNJqNQWp+Za3DrMOFV3RY2qFNZGT5"
    "IFKaxC4mMh3UoO1BiXcqIqJ6paqzKcqHKSrCHzKJ/apNnkTZoUUco/P9Ocvb4+Pc7bKBjl"
    "SkjYdbG+LXg3cCwXiNbbAODJKioF+aWFDnAfrRX4wIcuM66WrW0muCU2rUV7V5O84TIGka"
    "E4B7GJfIVZ7gYrpSfnw6l01A3VUYXw5e8KGmqUp4Weq9Vvt0IzmHVLeT7CIUML4e0NylgA"
    "nCo/WXCQTgaClM4tPodWtbZSjC1EfHdnp0zq4M5OfuqgqEvcSULHYvPufcbM8dhJdku+H3"
    "iQXTC1b+w5dsrMze/u7TVzG3ZpozJ313c26EZd8rT5F+JWCHxE42AMasYsuLsvISaf+d37"
    "S2TCYEdhjrkcNrSB822etZzlvnkqTq10K8SA8vKjqIHtJ2IlTmE6k421FSpv/98TYTqWjb"
    "QVoujlJfUxityT0kaQsvdy14crayd5W3Bbp9NyiBysGZ0Mt6Vf0y1yXMIlTWM8lz+L27K3"
    "2z/oH+7t90O9LCwpUsced0iKrOPMiES+DyfC0kLvTW8wKOUvGxT4ywYZmxOrIOyTtxDdtf"
    "jGcu/MyT9oKP/OHHXQ0OtHDhp61hS27/8HSKuu8A=="
)
