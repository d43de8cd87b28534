"""The server's VAPID key (RFC 8292): loaded with py-vapid; its JWTs are signed with PyJWT."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02, VapidException


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class VapidKey:
    vapid: Vapid02
    subject: str

    @classmethod
    def load(cls, private_key: str, subject: str) -> VapidKey:
        """`private_key`: URL-safe base64 of the raw 32-byte scalar or of the key's DER (what
        py-vapid's `from_string` reads). ValueError when it is neither."""
        try:
            vapid = Vapid02.from_string(private_key.strip())
        except (VapidException, ValueError, TypeError) as exc:
            raise ValueError(str(exc) or type(exc).__name__) from None
        if not isinstance(vapid.private_key, ec.EllipticCurvePrivateKey) or vapid.private_key.curve.name != "secp256r1":
            raise ValueError("not a P-256 key")
        return cls(vapid=vapid, subject=subject)

    @property
    def public_key(self) -> str:
        """URL-safe base64 of the uncompressed public point: `applicationServerKey` for
        PushManager.subscribe, and the `k=` of the VAPID Authorization header."""
        raw = self.vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(raw)

    def authorization(self, *, audience: str, expires: int) -> str:
        """The `Authorization` header for one push service origin (`audience`, e.g.
        `https://push.example.net` or `http://[::1]:8080`), valid until `expires` (epoch
        seconds). Signed here, not with py-vapid's `sign`: its claim checks refuse audiences
        that RFC 8292 allows (any IPv6 origin), and the push job then failed outright, so a
        subscription the API had accepted never got a single push."""
        claims = {"aud": audience, "exp": expires, "sub": self.subject}
        token = jwt.encode(claims, self.vapid.private_key, algorithm="ES256", headers={"typ": "JWT"})
        return f"vapid t={token}, k={self.public_key}"


def generate_private_key() -> str:
    """A new P-256 private key as URL-safe base64 of its raw 32-byte scalar."""
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


