"""Server administration over the real cluster: `messenger admin grant|revoke|
deactivate|reactivate USERNAME`; GET /admin/users, POST /admin/users/{id}/deactivate (sessions
end at once, sockets 4401, logins 403 until reactivated) and /reactivate, DELETE
/admin/messages/{id} (announced as message_deleted); 403 for everyone else on every route."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import httpx

from tests.conftest import Backing
from tests.support.auth import login
from tests.support.checks import assert_error, bad_fields, group_chat
from tests.support.clients import PASSWORD, Device, User, make_user, pair, send
from tests.support.processes import ROOT


async def messenger_admin(backing: Backing, action: str, username: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "admin", action, username,
        env={**os.environ, **backing.env}, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def make_admin(http: httpx.AsyncClient, backing: Backing) -> User:
    admin = await make_user(http)
    code, out, err = await messenger_admin(backing, "grant", admin.username.upper())  # case-insensitive
    assert code == 0, err
    assert "administrator" in out
    return admin


ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/admin/users", None),
    ("GET", "/admin/users?q=a", None),
    ("POST", "/admin/users/{id}/deactivate", None),
    ("POST", "/admin/users/{id}/reactivate", None),
    ("DELETE", "/admin/messages/{message}", None),
    ("DELETE", "/admin/messages/987654321", None),
]


async def test_admin_routes_are_403_for_everyone_else_and_401_without_a_token(http, http2, backing):
    alice, bob, chat = await pair(http)
    message = await send(http, bob, chat["id"], "hello")
    for method, path, _ in ROUTES:
        url = path.format(id=bob.id, message=message["id"])
        for client in (http, http2):
            assert_error(await client.request(method, url, headers=alice.headers), 403, "forbidden")
        assert_error(await http.request(method, url), 401, "unauthorized")
    # Nothing happened: bob still logs in, his message is whole.
    assert (await login(http, bob.username)).status_code == 200
    assert (await http.get("/messages", params={"chat_id": chat["id"]}, headers=alice.headers)).json()["items"][0]["content"] == "hello"
    # A revoked administrator is everyone else again.
    admin = await make_admin(http, backing)
    assert (await http.get("/admin/users", headers=admin.headers)).status_code == 200
    assert (await http.get("/users/me", headers=admin.headers)).json()["is_admin"] is True
    code, out, _ = await messenger_admin(backing, "revoke", admin.username)
    assert code == 0 and "no longer" in out
    assert_error(await http.get("/admin/users", headers=admin.headers), 403, "forbidden")


async def test_admin_cli_names_an_unknown_account_and_exits_1(backing):
    for action in ("grant", "revoke", "deactivate", "reactivate"):
        code, out, err = await messenger_admin(backing, action, "no_such_user_here")
        assert code == 1 and "no_such_user_here" in err and out == "", (action, out, err)


async def test_admin_users_lists_and_searches_accounts_with_their_state(http, backing):
    admin = await make_admin(http, backing)
    users = [await make_user(http, f"adm_{i}_{os.getpid()}") for i in range(3)]
    assert (await http.patch("/users/me", json={"display_name": "Zora"}, headers=users[2].headers)).status_code == 200
    r = await http.get("/admin/users", params={"limit": 2}, headers=admin.headers)
    assert r.status_code == 200, r.text
    first = r.json()
    assert [u["id"] for u in first["items"]] == [admin.id, users[0].id] and first["next_cursor"]
    assert first["items"][1]["email"] == users[0].email and first["items"][0]["is_admin"] is True
    rest = (await http.get("/admin/users", params={"cursor": first["next_cursor"]}, headers=admin.headers)).json()
    assert [u["id"] for u in rest["items"]] == [u.id for u in users[1:]]
    by_name = (await http.get("/admin/users", params={"q": "ADM_1_"}, headers=admin.headers)).json()
    assert [u["id"] for u in by_name["items"]] == [users[1].id]
    by_display = (await http.get("/admin/users", params={"q": "zor"}, headers=admin.headers)).json()
    assert [u["id"] for u in by_display["items"]] == [users[2].id]
    by_email = (await http.get("/admin/users", params={"q": users[0].email}, headers=admin.headers)).json()
    assert [u["id"] for u in by_email["items"]] == [users[0].id]
    assert bad_fields(await http.get("/admin/users", params={"limit": 0}, headers=admin.headers)) == {"limit"}


async def test_deactivation_ends_sessions_and_sockets_and_refuses_logins_until_reactivated(http, http2, cluster, backing):
    admin = await make_admin(http, backing)
    alice, _, chat = await pair(http)
    device = await Device.connect(cluster.apis[1].ws_url, alice, "phone")
    r = await http.post(f"/admin/users/{alice.id}/deactivate", headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == alice.id and r.json()["is_active"] is False
    assert await device.closed_with() == 4401
    for client in (http, http2):
        assert_error(await client.get("/users/me", headers=alice.headers), 401, "unauthorized")
    assert_error(await http.post("/auth/refresh", json={"refresh_token": alice.tokens["refresh_token"]}), 401, "unauthorized")
    assert_error(await login(http, alice.username), 403, "forbidden")
    assert_error(await login(http, alice.username, "wrong password"), 401, "unauthorized")
    # Idempotent; own account refused; unknown ids 404.
    assert (await http.post(f"/admin/users/{alice.id}/deactivate", headers=admin.headers)).status_code == 200
    assert bad_fields(await http.post(f"/admin/users/{admin.id}/deactivate", headers=admin.headers)) == {"user_id"}
    for action in ("deactivate", "reactivate"):
        assert_error(await http.post(f"/admin/users/987654321/{action}", headers=admin.headers), 404, "not_found")
    r = await http.post(f"/admin/users/{alice.id}/reactivate", headers=admin.headers)
    assert r.status_code == 200 and r.json()["is_active"] is True
    tokens = await login(http, alice.username)
    assert tokens.status_code == 200
    fresh = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    assert (await http.get(f"/chats/{chat['id']}", headers=fresh)).status_code == 200


async def test_deactivation_and_reactivation_from_the_command_line(http, cluster, backing):
    alice = await make_user(http)
    device = await Device.connect(cluster.apis[0].ws_url, alice, "phone")
    code, out, err = await messenger_admin(backing, "deactivate", alice.username)
    assert code == 0 and "deactivated" in out, err
    assert await device.closed_with() == 4401
    assert_error(await login(http, alice.username), 403, "forbidden")
    code, out, err = await messenger_admin(backing, "reactivate", alice.username)
    assert code == 0 and "reactivated" in out, err
    assert (await login(http, alice.username, PASSWORD)).status_code == 200


async def test_moderation_delete_of_any_message_is_announced_as_message_deleted(http, cluster, backing):
    admin = await make_admin(http, backing)
    alice, bob = await make_user(http), await make_user(http)
    group = await group_chat(http, alice, bob)
    message = await send(http, bob, group["id"], "abuse")
    watcher = await Device.connect(cluster.apis[1].ws_url, alice, "a")
    for _ in range(2):  # idempotent
        r = await http.delete(f"/admin/messages/{message['id']}", headers=admin.headers)
        assert r.status_code == 200, r.text
        assert r.json()["id"] == message["id"] and r.json()["is_deleted"] is True and r.json()["content"] == ""
    event = await watcher.next("message_deleted")
    assert event["data"]["message"]["id"] == message["id"] and event["data"]["message"]["content"] == ""
    items = (await http.get("/messages", params={"chat_id": group["id"]}, headers=bob.headers)).json()["items"]
    assert [(m["seq"], m["content"], m["is_deleted"]) for m in items] == [(1, "", True)]
    assert_error(await http.delete("/admin/messages/987654321", headers=admin.headers), 404, "not_found")
    await watcher.close()
