"""Push notifications' pure parts: which targets the worker may reach (SSRF, app/outbound.py), the VAPID key
settings, the Matrix notification's two shapes and the retry backoff. No servers."""

from __future__ import annotations

import base64
import socket
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from app.config import ConfigError, Settings
from app.embedded.files import load_or_create_secret
from app.errors import Unavailable, ValidationFailed
from app.outbound import EVERYWHERE, AllowedOnlyResolver, OutboundClient, TargetRefused, check_target, parse_networks
from app.services.push import MAX_RETRIES, Notification, PushService, retry_delay
from app.services.vapid import VapidKey, generate_private_key


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/notify",
        "http://[::1]/x",
        "http://10.1.2.3/x",
        "http://192.168.0.10/x",
        "http://169.254.169.254/latest/meta-data",  # cloud metadata
        "http://[::ffff:127.0.0.1]/x",
        "http://localhost:9000/x",
        "http://metadata.localhost/x",
    ],
)
async def test_private_targets_are_refused_unless_allowed(url):
    with pytest.raises(TargetRefused):
        await check_target(url, allowed=[])
    await check_target(url, allowed=EVERYWHERE)
    assert not OutboundClient(allowed=[]).allows_literal(url) or "localhost" in url


@pytest.mark.parametrize(
    "url", ["ftp://push.example.com/x", "https://u:p@push.example.com/x", "https://push.example.com/" + "x" * 2048, "https:///x", "https://a b/"]
)
async def test_malformed_targets_are_refused_even_when_private_ones_are_allowed(url):
    with pytest.raises(TargetRefused):
        await check_target(url, allowed=EVERYWHERE)


async def test_public_literal_targets_are_accepted():
    await check_target("https://8.8.8.8/push", allowed=[])
    assert OutboundClient(allowed=[]).allows_literal("https://8.8.8.8/push")


async def test_allowed_networks_exempt_only_their_own_addresses():
    allowed = parse_networks("127.0.0.2/32, 10.0.0.0/8")
    await check_target("http://127.0.0.2:8080/hook", allowed=allowed)
    await check_target("http://10.9.9.9/hook", allowed=allowed)
    for url in ("http://127.0.0.1/hook", "http://[::ffff:127.0.0.1]/hook", "http://2130706433/hook", "http://0177.0.0.1/"):
        with pytest.raises(TargetRefused):
            await check_target(url, allowed=allowed)
    with pytest.raises(ValueError, match="not-a-net"):
        parse_networks("10.0.0.0/8 not-a-net")


async def test_resolver_drops_non_public_addresses():
    resolver = AllowedOnlyResolver([])
    try:
        with pytest.raises(OSError):
            await resolver.resolve("localhost", 80, socket.AF_UNSPEC)
    finally:
        await resolver.close()


@pytest.mark.parametrize("audience", ["https://push.example.net", "http://127.0.0.1:8080", "http://[::1]:8080", "https://[2001:db8::1]"])
def test_vapid_authorization_is_an_es256_jwt_for_any_origin(audience):
    key = VapidKey.load(generate_private_key(), "mailto:ops@example.com")
    scheme, _, params = key.authorization(audience=audience, expires=int(time.time()) + 60).partition(" ")
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert scheme == "vapid" and fields["k"] == key.public_key
    raw = base64.urlsafe_b64decode(key.public_key + "=" * (-len(key.public_key) % 4))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    claims = jwt.decode(fields["t"], key=public, algorithms=["ES256"], audience=audience)
    assert claims["sub"] == "mailto:ops@example.com" and jwt.get_unverified_header(fields["t"])["typ"] == "JWT"


def test_vapid_settings_need_a_subject_and_a_valid_key(tmp_path):
    key = generate_private_key()
    Settings(vapid_private_key=key, vapid_subject="mailto:ops@example.com").require_push()
    Settings().require_push()  # no key: Web Push is off, nothing to check
    with pytest.raises(ConfigError, match="VAPID_SUBJECT"):
        Settings(vapid_private_key=key).require_push()
    with pytest.raises(ConfigError, match="VAPID_PRIVATE_KEY"):
        Settings(vapid_private_key="not-a-key", vapid_subject="mailto:ops@example.com").require_push()
    path = tmp_path / "vapid_private_key"
    kept = load_or_create_secret(path, generate_private_key)
    assert load_or_create_secret(path, generate_private_key) == kept and path.stat().st_mode & 0o777 == 0o600
    assert len(VapidKey.load(kept, "mailto:x@example.com").public_key) == 87


async def test_web_push_without_a_vapid_key_is_unavailable_and_gateways_still_validate():
    service = PushService(None, vapid=None, allowed=[])  # type: ignore[arg-type]
    with pytest.raises(Unavailable):
        service.public_key()
    with pytest.raises(Unavailable):
        await service.subscribe(user_id=1, session_id=uuid.uuid4(), device_id="d", kind="webpush", url="https://8.8.8.8/x", p256dh="a", auth="b")
    with pytest.raises(ValidationFailed):
        await service.subscribe(user_id=1, session_id=uuid.uuid4(), device_id="d", kind="http", url="http://127.0.0.1/x", app_id="a", pushkey="k")


def _notification() -> Notification:
    return Notification(
        chat_id=7, chat_title="Team", message_id=42, inbox_seq=9, sender_id=3, sender_name="alice",
        preview="hello", count=2, badge=5, mention=False, committed_at=None,
    )  # fmt: skip


def test_matrix_notification_without_preview_is_event_id_only():
    device = {"app_id": "a", "pushkey": "k", "pushkey_ts": 1}
    full = _notification().matrix_notification(device, preview=True)["notification"]
    assert full["content"] == {"msgtype": "m.text", "body": "hello"} and full["room_name"] == "Team"
    bare = _notification().matrix_notification(device, preview=False)["notification"]
    assert set(bare) == {"event_id", "room_id", "prio", "counts", "devices"}
    assert "body" not in _notification().webpush_payload(preview=False)
    assert "sender" not in _notification().webpush_payload(preview=False)


def test_retries_back_off_and_stop_after_five():
    assert [retry_delay(t) for t in range(1, MAX_RETRIES + 1)] == [1.0, 2.0, 4.0, 8.0, 16.0]
