"""/asyncapi.json: the WebSocket protocol as a document, and frames checked against it.

Every frame a test client receives anywhere in the suite is checked against the document
(tests/support/frames.py, called by Device); here: the served document is the one built from
the gateway's models, it covers every frame type and close code, its checks reject frames
that break it, and one conversation over a real socket produces each frame type.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from app.realtime.codes import MEANING
from app.ws.asyncapi import client_key, document, server_key
from app.ws.frames import REPLIES, SERVER_FRAMES
from app.ws.protocol import FRAME_DATA
from tests.support.clients import Device, direct_chat, make_user
from tests.support.frames import frame_errors

MESSAGE = {
    "id": 7, "chat_id": 3, "seq": 1, "sender_id": 2, "client_msg_id": "c1", "content": "hi",
    "created_at": "2026-11-27T15:00:00.123Z", "edited_at": None, "is_deleted": False,
    "delivered_at": None, "read_at": None, "reply_to": None, "mentions": [], "reactions": [],
    "attachments": [], "pinned": False, "expires_at": None,
}  # fmt: skip


async def test_served_document_is_built_from_the_gateway_models(http, cluster):
    answer = await http.get("/asyncapi.json")
    assert answer.status_code == 200
    served = answer.json()
    assert served == document(urlsplit(cluster.api.base_url).netloc)
    assert served["asyncapi"] == "3.0.0"
    messages = served["components"]["messages"]
    assert {m["name"] for k, m in messages.items() if k.startswith("client.")} == set(FRAME_DATA)
    assert {m["name"] for k, m in messages.items() if k.startswith("server.")} == set(SERVER_FRAMES)
    assert served["channels"]["gateway"]["x-close-codes"].keys() == {str(int(c)) for c in MEANING}
    assert {"1001", "1009", "4008", "4401", "4408", "4429"} <= served["channels"]["gateway"]["x-close-codes"].keys()
    # Every reference resolves inside the document.
    text = answer.text
    for ref in {part.split('"')[0] for part in text.split('"$ref":"')[1:]}:
        node = served
        for step in ref.removeprefix("#/").split("/"):
            node = node[step]
    # Frames that answer another are that operation's reply, and echo its ref.
    for kind, reply in REPLIES.items():
        operation = served["operations"][f"receive_{kind}"]
        refs = [m["$ref"] for m in operation["reply"]["messages"]]
        assert refs[0].endswith(server_key(reply)) and refs[1].endswith(server_key("error"))
        assert "ref" in messages[server_key(reply)]["payload"]["properties"]
    assert "ref" in messages[client_key("message")]["payload"]["properties"]
    # The document is not behind authentication, and not part of the REST contract.
    assert "/asyncapi.json" not in (await http.get("/openapi.json")).json()["paths"]


def test_the_frame_checks_reject_what_the_document_does_not_allow():
    good = {"type": "message", "data": {"inbox_seq": 4, "message": MESSAGE}}
    assert frame_errors(good) == []
    assert frame_errors({"type": "message_ack", "data": {"message": MESSAGE}, "ref": "r"}) == []
    bad = [
        {"type": "message", "data": {"message": MESSAGE}},  # no inbox_seq
        {"type": "message", "data": {"inbox_seq": "4", "message": MESSAGE}},
        {"type": "message", "data": {"inbox_seq": 4, "message": {**MESSAGE, "extra": 1}}},
        {"type": "message", "data": {"inbox_seq": 4, "message": MESSAGE}, "committed_at": 1.0},
        {"type": "receipt", "data": {"inbox_seq": 1, "chat_id": 3, "user_id": 2, "status": "seen",
                                     "up_to_seq": 1, "at": "2026-11-27T15:00:00.123Z"}},
        {"type": "presence", "data": {"user_id": 2, "online": True, "last_seen_at": "yesterday"}},
        {"type": "chat_updated", "data": {"inbox_seq": 1, "chat": {"id": 3, "removed": False}}},
        {"type": "error", "data": {"code": "Bad Code", "message": "x"}},
        {"type": "reactions", "data": {"inbox_seq": 1, "chat_id": 3, "message_id": 7,
                                       "reactions": [{"emoji": "x", "count": 0, "me": True}]}},
        {"type": "reactions_v9", "data": {}},
        {"type": "ping"},
    ]  # fmt: skip
    for frame in bad:
        assert frame_errors(frame), frame


async def test_a_conversation_produces_each_frame_type_and_each_matches_the_document(http, cluster):
    alice, bob = await make_user(http), await make_user(http)
    chat = await direct_chat(http, alice, bob)
    a = await Device.connect(cluster.apis[0].ws_url, alice, "a")
    b = await Device.connect(cluster.apis[1].ws_url, bob, "b")
    await a.next("presence")  # bob came online
    await a.send("message", {"chat_id": chat["id"], "content": "v1", "client_msg_id": "m1"}, ref="send")
    message_id = (await a.next("message_ack"))["data"]["message"]["id"]
    got = await b.next("message")
    await b.ack(got["data"]["inbox_seq"])
    await a.next("receipt")  # delivered, to the sender only
    await a.send("edit_message", {"message_id": message_id, "content": "v2"}, ref="edit")
    await a.next("message_ack")
    await b.send("read", {"chat_id": chat["id"], "up_to_seq": 1}, ref="read")
    await b.next("read_ack")
    await b.send("typing", {"chat_id": chat["id"]})
    await a.next("typing")
    assert (await http.put(f"/messages/{message_id}/reactions/%F0%9F%91%8D", headers=bob.headers)).status_code == 200
    await a.next("reactions")
    await a.send("delete_message", {"message_id": message_id}, ref="delete")
    await a.next("message_ack")
    while not {"message_edited", "message_deleted"} <= {f["type"] for f in b.frames}:
        await b.recv()  # next() may have passed them already; they stay in .frames
    assert (await http.patch("/users/me", json={"display_name": "Bob B."}, headers=bob.headers)).status_code == 200
    await a.next("user_updated")
    await b.send("nonsense", {}, ref="bad")
    await b.next("error")
    await b.close()
    await a.close()
    seen = {f["type"] for f in a.frames + b.frames} | {"connected"}
    # resync: tests/test_delivery.py; ping: tests/test_ws_closes.py (4408), both through Device's check.
    # bot_updated: tests/test_webhooks.py; admin_report: tests/test_moderation.py;
    # scheduled_updated and scheduled_failed: tests/test_scheduled.py (they wait for a clock).
    expected = set(SERVER_FRAMES) - {"resync", "ping", "bot_updated", "admin_report", "scheduled_updated", "scheduled_failed"}
    assert expected <= seen, expected - seen
    for frame in a.frames + b.frames:
        assert frame_errors(frame) == [], frame
