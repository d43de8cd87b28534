"""The client's address (trusted proxies only), login throttling per
(account, address) and per address, and registration limited per address.

Every server in these tests listens on 127.0.0.1, so a second client address is made the way
production makes it: a stack whose TRUSTED_PROXIES lists 127.0.0.1 (it plays nginx), and
requests that carry X-Forwarded-For / Forwarded. The shared cluster trusts nobody."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from app.clientaddr import client_address, parse_networks
from tests.conftest import make_stack
from tests.support.clients import PASSWORD, make_user

# Small pools: the PostgreSQL server is shared with other test runs.
TRUST_LOCALHOST = {"TRUSTED_PROXIES": "127.0.0.1/32", "DB_POOL_SIZE": "4"}


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def assert_rate_limited(r: httpx.Response, max_retry_after: int) -> int:
    assert r.status_code == 429, r.text
    body = r.json()
    assert body["error"]["code"] == "rate_limited" and body["error"]["message"], body
    retry_after = int(r.headers["Retry-After"])
    assert 1 <= retry_after <= max_retry_after, retry_after
    return retry_after


def via(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def login(http: httpx.AsyncClient, username: str, password: str = PASSWORD, **headers: str) -> httpx.Response:
    return await http.post("/auth/login", json={"username": username, "password": password}, headers=headers)


async def fail_logins(http: httpx.AsyncClient, username: str, count: int, headers: dict[str, str]) -> list[int]:
    results = await asyncio.gather(
        *(http.post("/auth/login", json={"username": username, "password": f"wrong {i}"}, headers=headers) for i in range(count))
    )
    return [r.status_code for r in results]


async def session_ips(http: httpx.AsyncClient, tokens: dict[str, Any]) -> list[str]:
    r = await http.get("/auth/sessions", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status_code == 200, r.text
    return [s["ip"] for s in r.json() if s["current"]]


# --- the helper, unit by unit -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("peer", "headers", "trusted", "expected"),
    [
        ("127.0.0.1", {}, "", "127.0.0.1"),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}, "", "127.0.0.1"),  # nobody trusted
        ("198.51.100.1", {"X-Forwarded-For": "203.0.113.9"}, "10.0.0.0/8", "198.51.100.1"),  # peer untrusted
        ("10.0.0.2", {"X-Forwarded-For": "203.0.113.9"}, "10.0.0.0/8", "203.0.113.9"),
        # Forged entries left of what the trusted proxy appended are ignored.
        ("10.0.0.2", {"X-Forwarded-For": "1.1.1.1, 203.0.113.9"}, "10.0.0.0/8", "203.0.113.9"),
        # Several trusted hops: the right-most address that is not itself a proxy.
        ("10.0.0.2", {"X-Forwarded-For": "203.0.113.9, 10.0.0.7"}, "10.0.0.0/8", "203.0.113.9"),
        ("10.0.0.2", {"X-Forwarded-For": "10.0.0.9, 10.0.0.7"}, "10.0.0.0/8", "10.0.0.9"),
        ("10.0.0.2", {"X-Forwarded-For": "203.0.113.9:4711"}, "10.0.0.0/8", "203.0.113.9"),
        ("10.0.0.2", {"X-Forwarded-For": "garbage"}, "10.0.0.0/8", "10.0.0.2"),
        ("10.0.0.2", {"X-Forwarded-For": ""}, "10.0.0.0/8", "10.0.0.2"),
        ("10.0.0.2", {"Forwarded": 'for="[2001:db8::7]:443";proto=https'}, "10.0.0.0/8", "2001:db8::7"),
        ("10.0.0.2", {"Forwarded": "for=192.0.2.60, for=203.0.113.9;by=10.0.0.2"}, "10.0.0.0/8", "203.0.113.9"),
        ("10.0.0.2", {"Forwarded": "for=unknown"}, "10.0.0.0/8", "10.0.0.2"),
        ("::ffff:10.0.0.2", {"X-Forwarded-For": "203.0.113.9"}, "10.0.0.0/8", "203.0.113.9"),
        ("fd00::5", {"X-Forwarded-For": "2001:db8::1"}, "fd00::/8 10.0.0.0/8", "2001:db8::1"),
        ("", {}, "", "unknown"),
        (None, {}, "10.0.0.0/8", "unknown"),
    ],
)
def test_client_address_believes_forwarding_headers_only_from_trusted_peers(peer, headers, trusted, expected):
    assert client_address(peer, headers, trusted) == expected


def test_trusted_proxies_refuses_a_bad_entry():
    assert parse_networks("10.0.0.0/8, 192.168.1.1 fd00::/8") != ()
    with pytest.raises(ValueError, match="nope"):
        parse_networks("10.0.0.0/8,nope")


async def test_api_refuses_to_start_with_a_bad_trusted_proxies(backing, stacks):
    stack = await make_stack(stacks, backing, TRUSTED_PROXIES="10.0.0.0/8,not-a-network", DB_POOL_SIZE="4")
    with pytest.raises(RuntimeError, match="TRUSTED_PROXIES"):
        await asyncio.to_thread(stack.add_api)


# --- item 2: forwarding headers, and whose failures count ----------------------------------------
async def test_login_forged_x_forwarded_for_from_an_untrusted_peer_is_ignored(http):
    """The shared cluster trusts no proxy: whatever X-Forwarded-For says, the client is the
    peer (127.0.0.1), so varying the header neither escapes the throttle nor shows up as the
    session's address."""
    user = await make_user(http)
    statuses = [
        (await http.post("/auth/login", json={"username": user.username, "password": "wrong"}, headers=via(f"203.0.113.{i}"))).status_code
        for i in range(10)
    ]
    assert statuses == [401] * 10
    assert_rate_limited(await login(http, user.username, **via("198.51.100.7")), 300)
    other = await make_user(http)
    r = await login(http, other.username, **via("198.51.100.7"), Forwarded="for=198.51.100.8")
    assert r.status_code == 200, r.text
    assert await session_ips(http, r.json()) == ["127.0.0.1"]


async def test_login_guessing_from_elsewhere_never_locks_the_owner_out(backing, stacks):
    """Through a trusted proxy: an attacker's failures lock the attacker's address out of that
    account, never the owner logging in from an address with no failures."""
    stack = await make_stack(stacks, backing, **TRUST_LOCALHOST)
    api = await asyncio.to_thread(stack.add_api)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=15) as http:
        owner = await make_user(http)
        attacker = via("203.0.113.66")
        assert (await fail_logins(http, owner.username, 10, attacker)).count(401) == 10
        assert_rate_limited(await login(http, owner.username, **attacker), 300)
        assert_rate_limited(await login(http, owner.email, **attacker), 300)
        # The owner, elsewhere, with the right password: in, as often as they like.
        for address in ("198.51.100.7", "198.51.100.7", "2001:db8::42"):
            r = await login(http, owner.username, **via(address))
            assert r.status_code == 200, r.text
            assert await session_ips(http, r.json()) == [address]
        # What the trusted proxy appended is used; a forged entry before it is not.
        r = await login(http, owner.username, **via("203.0.113.66, 198.51.100.9"))
        assert r.status_code == 200, r.text
        assert await session_ips(http, r.json()) == ["198.51.100.9"]
        r = await login(http, owner.username, Forwarded='for="[2001:db8::9]:1234"')
        assert r.status_code == 200 and await session_ips(http, r.json()) == ["2001:db8::9"]


async def test_login_one_address_guessing_many_accounts_is_refused_everywhere_from_it(backing, stacks):
    """Per address: LOGIN_MAX_FAILURES x 10 failures over any accounts, then 429 for every login
    from that address, the right password included; other addresses are unaffected."""
    stack = await make_stack(stacks, backing, LOGIN_MAX_FAILURES="2", **TRUST_LOCALHOST)
    api = await asyncio.to_thread(stack.add_api)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=15) as http:
        user = await make_user(http)
        sprayer = via("203.0.113.77")
        for _ in range(10):  # 10 names x 2 failures = the address's 20
            assert await fail_logins(http, unique("ghost"), 2, sprayer) == [401, 401]
        assert_rate_limited(await login(http, user.username, **sprayer), 300)
        assert (await login(http, user.username, **via("203.0.113.78"))).status_code == 200


# --- item 3: registrations per address ------------------------------------------------------------
async def register(http: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    name = unique("reg")
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    return await http.post("/auth/register", json=body, headers=headers)


async def test_register_is_limited_per_client_address(backing, stacks):
    stack = await make_stack(stacks, backing, REGISTER_RATE_LIMIT="3", **TRUST_LOCALHOST)
    api = await asyncio.to_thread(stack.add_api)
    async with httpx.AsyncClient(base_url=api.base_url, timeout=15) as http:
        first = via("203.0.113.10")
        statuses = [r.status_code for r in await asyncio.gather(*(register(http, first) for _ in range(5)))]
        assert sorted(statuses) == [201, 201, 201, 429, 429], statuses
        refused = await register(http, first)
        assert_rate_limited(refused, 3600)
        assert refused.json()["error"]["details"]["retry_after"] >= 3000  # an hour's window
        # Another address still registers; the limit is not global.
        assert (await register(http, via("203.0.113.11"))).status_code == 201
        # Bad input is still a 422, whatever the count (validation comes first).
        r = await http.post("/auth/register", json={"username": "x"}, headers=first)
        assert r.status_code == 422, r.text


def test_compose_trusts_exactly_its_nginx_for_forwarded_addresses():
    import ipaddress
    from pathlib import Path

    import yaml

    from tests.support.processes import ROOT

    compose = yaml.safe_load(Path(ROOT, "docker-compose.yml").read_text())
    lb_address = ipaddress.ip_address(compose["services"]["lb"]["networks"]["default"]["ipv4_address"])
    subnet = ipaddress.ip_network(compose["networks"]["default"]["ipam"]["config"][0]["subnet"])
    assert lb_address in subnet
    for name in ("api", "worker", "migrate"):
        trusted = compose["services"][name]["environment"]["TRUSTED_PROXIES"]
        assert parse_networks(trusted) == (ipaddress.ip_network(f"{lb_address}/32"),), (name, trusted)
    nginx = compose["configs"]["nginx_conf"]["content"]
    assert "proxy_set_header X-Forwarded-For $$proxy_add_x_forwarded_for;" in nginx
    assert "proxy_set_header Host $$http_host;" in nginx
