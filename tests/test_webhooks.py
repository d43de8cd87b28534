"""Webhooks over the real cluster (contract: Bots and webhooks, Delivery): a bot's inbox is
POSTed to a real receiver process on loopback (tests/support/webhookreceiver.py), which
verifies the signature, delivery id and attempt headers as the README tells receivers to.
Kill -9 of the worker and a Redis wipe: tests/faults/test_webhooks.py."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx

from tests.conftest import make_stack
from tests.support.checks import assert_error, bad_fields
from tests.support.clients import Device, User, direct_chat, make_user, send
from tests.support.webhookreceiver import Receiver, wait_for


async def bot_with_webhook(http: httpx.AsyncClient, owner: User, receiver: Receiver, name: str) -> User:
    r = await http.post("/bots", json={"username": name, "webhook_url": receiver.url}, headers=owner.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    receiver.secret = body["webhook_secret"]
    receiver.start()
    await http.patch(f"/bots/{body['bot']['id']}", json={"webhook_enabled": True}, headers=owner.headers)  # wake it now
    return User(id=body["bot"]["id"], username=name, email="", tokens={"access_token": body["token"]})


def inbox_seqs(events: list[dict[str, Any]]) -> list[int]:
    return [e["data"]["inbox_seq"] for e in events if e["type"] != "gap"]


async def test_webhook_delivers_2000_events_signed_in_order_without_gaps(stacks, backing, receivers):
    stack = await make_stack(stacks, backing, RATE_LIMIT_MESSAGES="100000", WEBHOOK_BATCH="100")
    api = stack.add_api()
    stack.add_worker()
    receiver = receivers()
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30.0) as http:
        owner = await make_user(http)
        bot = await bot_with_webhook(http, owner, receiver, "order_bot")
        chat = await direct_chat(http, owner, bot)  # the bot's inbox: chat_updated, then the messages
        sem = asyncio.Semaphore(16)

        async def one(i: int) -> None:
            async with sem:
                await send(http, owner, chat["id"], f"m{i}")

        await asyncio.gather(*(one(i) for i in range(1999)))
        await wait_for(lambda: len(receiver.accepted_events()) >= 2000, 120, "2000 events")
        events = receiver.accepted_events()
        assert inbox_seqs(events) == list(range(1, 2001))
        assert receiver.problems() == []
        entries = receiver.entries()
        assert all(e["bot_id"] == bot.id and e["attempt"] == 1 and len(e["events"]) <= 100 for e in entries)
        assert len({e["delivery"] for e in entries}) == len(entries)
        contents = [e["data"]["message"]["content"] for e in events if e["type"] == "message"]
        assert sorted(contents, key=lambda c: int(c[1:])) == [f"m{i}" for i in range(1999)]
        # The owner sees where it stands.
        listed = (await http.get("/bots", headers=owner.headers)).json()["items"][0]["webhook"]
        assert listed["cursor"] == 2000 and listed["pending"] == 0 and listed["enabled"] is True
        log = (await http.get(f"/bots/{bot.id}/webhook/deliveries", params={"limit": 200}, headers=owner.headers)).json()
        assert log["items"][0]["last_inbox_seq"] == 2000 and all(d["status"] == 200 for d in log["items"])


async def test_webhook_retries_the_same_batch_through_errors_and_downtime(http, receivers):
    owner = await make_user(http)
    receiver = receivers()
    bot = await bot_with_webhook(http, owner, receiver, "retry_bot")
    chat = await direct_chat(http, owner, bot)
    await wait_for(lambda: inbox_seqs(receiver.accepted_events()) == [1], what="the first event")
    receiver.set(status=500)
    await send(http, owner, chat["id"], "during errors")
    await wait_for(lambda: len([e for e in receiver.entries() if e["status"] == 500]) >= 3, what="three failed attempts")
    failed = [e for e in receiver.entries() if e["status"] == 500]
    assert len({e["delivery"] for e in failed}) == 1 and [e["attempt"] for e in failed[:3]] == [1, 2, 3]
    hook = (await http.get("/bots", headers=owner.headers)).json()["items"][0]["webhook"]
    assert hook["cursor"] == 1 and hook["pending"] == 1 and hook["last_error"] == "HTTP 500"
    # Down altogether, with more events meanwhile; then up again.
    receiver.stop()
    await send(http, owner, chat["id"], "while down")
    await asyncio.sleep(3)
    receiver.start()
    await wait_for(lambda: inbox_seqs(receiver.accepted_events()) == [1, 2, 3], 60, "every event after the downtime")
    accepted = [e for e in receiver.entries() if e["status"] == 200]
    assert accepted[1]["delivery"] == failed[0]["delivery"]  # the batch kept its id through every retry
    assert receiver.problems() == []


async def test_rewind_sends_again_from_a_seq(http, receivers):
    owner = await make_user(http)
    receiver = receivers()
    bot = await bot_with_webhook(http, owner, receiver, "rewind_bot")
    chat = await direct_chat(http, owner, bot)
    for i in range(3):
        await send(http, owner, chat["id"], f"r{i}")
    await wait_for(lambda: inbox_seqs(receiver.accepted_events()) == [1, 2, 3, 4], what="four events")
    r = await http.post(f"/bots/{bot.id}/webhook/rewind", json={"inbox_seq": 1}, headers=owner.headers)
    assert r.status_code == 200 and r.json()["cursor"] == 1, r.text
    await wait_for(lambda: inbox_seqs(receiver.accepted_events()) == [1, 2, 3, 4, 2, 3, 4], what="the replay")
    assert bad_fields(await http.post(f"/bots/{bot.id}/webhook/rewind", json={"inbox_seq": 99}, headers=owner.headers)) == {"inbox_seq"}
    assert bad_fields(await http.post(f"/bots/{bot.id}/webhook/rewind", json={"inbox_seq": -1}, headers=owner.headers)) == {"inbox_seq"}


async def test_events_past_retention_arrive_as_one_gap_marker(http, pg, receivers):
    """The inbox was pruned under a lagging webhook: the next batch opens with a `gap` naming
    exactly what is gone, then carries on from what is kept; nothing is skipped silently."""
    owner = await make_user(http)
    receiver = receivers()
    bot = await bot_with_webhook(http, owner, receiver, "gap_bot")
    chat = await direct_chat(http, owner, bot)
    for i in range(4):
        await send(http, owner, chat["id"], f"g{i}")
    await wait_for(lambda: inbox_seqs(receiver.accepted_events()) == [1, 2, 3, 4, 5], what="five events")
    await pg.execute("DELETE FROM inbox_events WHERE user_id = $1 AND inbox_seq <= 3", bot.id)  # as the prune job does
    r = await http.post(f"/bots/{bot.id}/webhook/rewind", json={"inbox_seq": 0}, headers=owner.headers)
    assert r.status_code == 200, r.text
    await wait_for(lambda: len(receiver.accepted_events()) == 8, what="the gap and the two kept events")
    assert receiver.accepted_events()[5:6] == [{"type": "gap", "data": {"from_inbox_seq": 1, "to_inbox_seq": 3}}]
    assert inbox_seqs(receiver.accepted_events()[6:]) == [4, 5]


async def test_webhook_is_disabled_after_the_limit_and_resumes_from_its_cursor(stacks, backing, receivers):
    stack = await make_stack(stacks, backing, WEBHOOK_DISABLE_AFTER="3")
    api = stack.add_api()
    stack.add_worker()
    receiver = receivers()
    async with httpx.AsyncClient(base_url=api.base_url, timeout=15.0) as http:
        owner = await make_user(http)
        watcher = await Device.connect(api.ws_url, owner, "owner")
        bot = await bot_with_webhook(http, owner, receiver, "flaky_bot")
        receiver.set(status=503)
        chat = await direct_chat(http, owner, bot)
        await send(http, owner, chat["id"], "lost?")
        updated = await watcher.next("bot_updated", timeout=30)
        assert updated["data"]["bot"]["id"] == bot.id and updated["data"]["webhook"]["enabled"] is False
        assert "HTTP 503" in updated["data"]["webhook"]["disabled_reason"]
        hook = (await http.get("/bots", headers=owner.headers)).json()["items"][0]["webhook"]
        assert hook["enabled"] is False and hook["cursor"] == 0 and hook["pending"] == 2
        attempts = len(receiver.entries())
        await asyncio.sleep(2.5)
        assert len(receiver.entries()) == attempts  # disabled: nothing more is tried
        receiver.set(status=200)
        r = await http.patch(f"/bots/{bot.id}", json={"webhook_enabled": True}, headers=owner.headers)
        assert r.status_code == 200 and r.json()["webhook"]["disabled_reason"] is None
        await wait_for(lambda: inbox_seqs(receiver.accepted_events()) == [1, 2], what="the events kept")
        await watcher.close()


async def test_a_slow_receiver_does_not_delay_another_bot(http, receivers):
    owner = await make_user(http)
    slow_receiver, fast_receiver = receivers(), receivers()
    slow = await bot_with_webhook(http, owner, slow_receiver, "slow_bot")
    fast = await bot_with_webhook(http, owner, fast_receiver, "fast_bot")
    slow_receiver.set(delay=9)
    slow_chat = await direct_chat(http, owner, slow)
    await asyncio.sleep(0.5)  # the slow bot's first POST is under way
    fast_chat = await direct_chat(http, owner, fast)
    await send(http, owner, fast_chat["id"], "quick")
    await wait_for(lambda: inbox_seqs(fast_receiver.accepted_events()) == [1, 2], what="the fast bot's events")
    assert slow_receiver.entries() == []  # its first POST has not even been answered yet
    await send(http, owner, slow_chat["id"], "eventually")
    await wait_for(lambda: inbox_seqs(slow_receiver.accepted_events()) == [1, 2], 40, "the slow bot's events")


REFUSED = [
    "http://127.0.0.1/hook", "http://[::1]/hook", "http://[::ffff:127.0.0.1]/hook", "http://10.1.2.3/hook",
    "http://169.254.169.254/latest/meta-data", "http://localhost/hook", "http://2130706433/hook", "http://0177.0.0.1/hook",
    "http://0x7f000001/hook", "http://[::]/hook", "http://0.0.0.0/hook", "http://224.0.0.1/hook", "http://192.168.1.1/",
    "ftp://example.com/hook", "http://user:pw@example.com/hook", "http://" + "a" * 2050 + ".com/",
]  # fmt: skip


async def test_every_private_address_form_is_refused_when_set(http):
    owner = await make_user(http)
    r = await http.post("/bots", json={"username": "ssrf_bot"}, headers=owner.headers)
    bot_id = r.json()["bot"]["id"]
    for url in REFUSED:
        r = await http.patch(f"/bots/{bot_id}", json={"webhook_url": url}, headers=owner.headers)
        assert r.status_code == 422 and bad_fields(r) == {"webhook_url"}, (url, r.text)
        r = await http.post("/bots", json={"username": f"s{secrets.token_hex(4)}", "webhook_url": url}, headers=owner.headers)
        assert r.status_code == 422 and bad_fields(r) == {"webhook_url"}, (url, r.text)
    assert (await http.get("/bots", headers=owner.headers)).json()["items"][0]["webhook"] is None


async def test_a_private_target_is_refused_at_each_attempt_too(http, pg, receivers):
    """A URL that passed when it was set (its name re-pointed later, say) is checked again on
    the address each attempt connects to: the attempt fails, saying why, and nothing is sent."""
    owner = await make_user(http)
    receiver = receivers()
    bot = await bot_with_webhook(http, owner, receiver, "rebind_bot")
    chat = await direct_chat(http, owner, bot)
    await wait_for(lambda: receiver.accepted_events(), what="the first delivery")
    loopback = receiver.url.replace("127.0.0.2", "localhost")
    await pg.execute("UPDATE webhooks SET url = $2 WHERE bot_id = $1", bot.id, loopback)
    await send(http, owner, chat["id"], "not to localhost")

    async def refused() -> list[dict[str, Any]]:
        log = (await http.get(f"/bots/{bot.id}/webhook/deliveries", headers=owner.headers)).json()["items"]
        return [d for d in log if d["status"] is None and "public address" in (d["error"] or "")]

    deadline = time.monotonic() + 20
    while not (found := await refused()):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    assert found[0]["first_inbox_seq"] == 2
    assert len(receiver.accepted_events()) == 1  # nothing reached the receiver through localhost


async def test_bad_rewind_and_unknown_bot_answer_in_the_contract_shape(http):
    owner = await make_user(http)
    r = await http.post("/bots", json={"username": "plain_bot"}, headers=owner.headers)
    bot_id = r.json()["bot"]["id"]
    assert_error(await http.post(f"/bots/{bot_id}/webhook/rewind", json={"inbox_seq": 0}, headers=owner.headers), 404, "not_found")
    assert_error(await http.post("/bots/999999/webhook/rewind", json={"inbox_seq": 0}, headers=owner.headers), 404, "not_found")
    assert bad_fields(await http.patch(f"/bots/{bot_id}", json={"webhook_enabled": "yes"}, headers=owner.headers)) == {"webhook_enabled"}
