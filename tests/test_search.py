"""GET /messages/search (contract, Messages): PostgreSQL full-text over the chats
the caller is a member of now, any language, the last word as a prefix, newest first, deleted
messages never, `highlight` HTML-escaped with <mark> around the matches. Real API processes,
PostgreSQL and Redis."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from app.services.search import highlight, tsquery_of
from tests.support.checks import assert_error, bad_fields, group_chat
from tests.support.clients import User, make_user, pair, send

MISSING = 999_999_999


async def search(http: httpx.AsyncClient, user: User, q: str, **params: Any) -> dict[str, Any]:
    r = await http.get("/messages/search", params={"q": q, **params}, headers=user.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == {"items", "next_cursor"}
    for item in body["items"]:
        assert set(item) == {"message", "highlight"}
    return body


def contents(body: dict[str, Any]) -> list[str]:
    return [item["message"]["content"] for item in body["items"]]


def unmarked(text: str) -> str:
    return html.unescape(re.sub(r"</?mark>", "", text))


async def test_search_finds_english_and_russian_words_in_any_case(http):
    alice, bob, chat = await pair(http)
    await send(http, alice, chat["id"], "Deploy the Server tonight")
    await send(http, bob, chat["id"], "Привет, МИР и всем")
    await send(http, alice, chat["id"], "nothing to see")
    assert contents(await search(http, bob, "server")) == ["Deploy the Server tonight"]
    assert contents(await search(http, alice, "мир")) == ["Привет, МИР и всем"]
    assert contents(await search(http, alice, "ПРИВЕТ мир")) == ["Привет, МИР и всем"]
    body = await search(http, alice, "server")
    message = body["items"][0]["message"]
    assert message["chat_id"] == chat["id"] and message["sender_id"] == alice.id and message["seq"] == 1
    assert body["items"][0]["highlight"] == "Deploy the <mark>Server</mark> tonight"


async def test_search_matches_the_last_word_as_a_prefix_and_every_word(http):
    alice, _, chat = await pair(http)
    await send(http, alice, chat["id"], "the meeting is tomorrow")
    await send(http, alice, chat["id"], "встреча завтра утром")
    assert contents(await search(http, alice, "meet")) == ["the meeting is tomorrow"]
    assert contents(await search(http, alice, "встре")) == ["встреча завтра утром"]
    assert contents(await search(http, alice, "meeting tomo")) == ["the meeting is tomorrow"]
    # Only the last word is a prefix; every word must match.
    assert contents(await search(http, alice, "meet tomorrow")) == []
    assert contents(await search(http, alice, "meeting утром")) == []
    assert (await search(http, alice, "встре"))["items"][0]["highlight"] == "<mark>встреча</mark> завтра утром"


async def test_search_newest_first_with_a_cursor_over_pages(http):
    alice, bob, chat = await pair(http)
    sent = [await send(http, alice if i % 2 else bob, chat["id"], f"report number {i}") for i in range(7)]
    await send(http, alice, chat["id"], "unrelated")
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = await search(http, alice, "report", **params)
        assert len(body["items"]) <= 3
        seen += [item["message"]["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [m["id"] for m in reversed(sent)]


async def test_search_one_chat_with_chat_id_and_404_for_a_chat_of_others(http):
    alice, bob, chat = await pair(http)
    carol = await make_user(http)
    group = await group_chat(http, alice, carol)
    await send(http, alice, chat["id"], "budget in the direct chat")
    await send(http, alice, group["id"], "budget in the group")
    assert sorted(contents(await search(http, alice, "budget"))) == ["budget in the direct chat", "budget in the group"]
    assert contents(await search(http, alice, "budget", chat_id=group["id"])) == ["budget in the group"]
    # Bob is not in the group: 404, exactly as for a chat that does not exist.
    for chat_id in (group["id"], MISSING):
        r = await http.get("/messages/search", params={"q": "budget", "chat_id": chat_id}, headers=bob.headers)
        assert_error(r, 404, "not_found")
    assert contents(await search(http, bob, "budget")) == ["budget in the direct chat"]


async def test_search_never_returns_a_chat_the_caller_left_or_was_removed_from(http):
    owner, bob, dave = await make_user(http), await make_user(http), await make_user(http)
    group = await group_chat(http, owner, bob, dave)
    await send(http, owner, group["id"], "secret plans before")
    assert contents(await search(http, bob, "secret")) == ["secret plans before"]
    r = await http.delete(f"/chats/{group['id']}/members/{bob.id}", headers=owner.headers)  # removed
    assert r.status_code == 204, r.text
    r = await http.delete(f"/chats/{group['id']}/members/{dave.id}", headers=dave.headers)  # left
    assert r.status_code == 204, r.text
    await send(http, owner, group["id"], "secret plans after")
    for user in (bob, dave):
        assert (await search(http, user, "secret"))["items"] == []
        r = await http.get("/messages/search", params={"q": "secret", "chat_id": group["id"]}, headers=user.headers)
        assert_error(r, 404, "not_found")
    assert len((await search(http, owner, "secret"))["items"]) == 2


async def test_search_never_returns_deleted_messages(http):
    alice, _, chat = await pair(http)
    gone = await send(http, alice, chat["id"], "confidential draft")
    kept = await send(http, alice, chat["id"], "confidential final")
    r = await http.delete(f"/messages/{gone['id']}", headers=alice.headers)
    assert r.status_code == 200, r.text
    body = await search(http, alice, "confidential")
    assert [item["message"]["id"] for item in body["items"]] == [kept["id"]]
    assert contents(await search(http, alice, "draft")) == []


async def test_search_highlight_escapes_markup_and_marker_lookalikes(http):
    alice, _, chat = await pair(http)
    evil = '<script>alert("x")</script> token & <mark>fake</mark> </mark><b>bold</b> \ue000 token'
    await send(http, alice, chat["id"], evil)
    body = await search(http, alice, "token")
    [item] = body["items"]
    assert item["message"]["content"] == evil
    marked = item["highlight"]
    assert "<script>" not in marked and "<b>" not in marked
    # The only tags are ours, each around a match; everything else is escaped text.
    assert re.findall(r"<[^>]*>", marked) == ["<mark>", "</mark>", "<mark>", "</mark>"]
    assert re.findall(r"<mark>(.*?)</mark>", marked) == ["token", "token"]
    assert unmarked(marked) == evil
    assert "&lt;mark&gt;fake&lt;/mark&gt;" in marked and "&lt;script&gt;" in marked
    # A match inside lookalike markers: still escaped, and marked only by us.
    await send(http, alice, chat["id"], "<mark>zebra</mark>")
    assert (await search(http, alice, "zebra"))["items"][0]["highlight"] == "&lt;mark&gt;<mark>zebra</mark>&lt;/mark&gt;"


async def test_search_validation_errors_are_422(http):
    alice, _, _ = await pair(http)
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 257}, "q"),
        ({"q": "a\x00b"}, "q"),
        ({"q": "hello", "cursor": "not-a-cursor"}, "cursor"),
        ({"q": "hello", "cursor": "eyJpZCI6LTF9"}, "cursor"),  # {"id":-1}
        ({"q": "hello", "limit": 0}, "limit"),
        ({"q": "hello", "limit": 201}, "limit"),
        ({"q": "hello", "limit": "many"}, "limit"),
        ({"q": "hello", "chat_id": 0}, "chat_id"),
        ({"q": "hello", "chat_id": "x"}, "chat_id"),
    ]
    for params, field in cases:
        r = await http.get("/messages/search", params=params, headers=alice.headers)
        assert field in bad_fields(r), (params, r.text)


async def test_search_without_words_or_matches_is_an_empty_page(http):
    alice, _, chat = await pair(http)
    await send(http, alice, chat["id"], "anything at all")
    for q in ("!!!", "zzzqx", "'&|:*", "!anyz"):
        body = await search(http, alice, q)
        assert body == {"items": [], "next_cursor": None}, q
    # tsquery syntax in q is plain text: "any:*" is the word "any", as a prefix.
    assert contents(await search(http, alice, "any:* & !")) == ["anything at all"]


async def test_search_needs_a_token(http):
    r = await http.get("/messages/search", params={"q": "hello"})
    assert_error(r, 401, "unauthorized")


def test_search_tsquery_quotes_each_word_and_prefixes_the_last():
    assert tsquery_of("Hello, wor") == "'hello' & 'wor':*"
    assert tsquery_of("it's a:b & c|d") == "'it' & 's' & 'a' & 'b' & 'c' & 'd':*"
    assert tsquery_of("Привет") == "'привет':*"
    assert tsquery_of("  !!! ") is None


def test_search_highlight_falls_back_to_escaped_text_when_markers_are_ambiguous():
    start, stop = "\ue000s\ue001", "\ue001s\ue000"
    assert highlight("a <b> c", f"a <b> {start}c{stop}", start, stop) == "a &lt;b&gt; <mark>c</mark>"
    assert highlight(f"x {start}", f"{start}x{stop} {start}", start, stop) == f"x {start}"
    assert highlight("abc", f"{start}abd{stop}", start, stop) == "abc"  # not the content: unmarked
    assert highlight("abc", f"{start}abc", start, stop) == "abc"


async def test_search_openapi_documents_the_route():
    from tests.test_openapi import _document

    doc = await _document()
    op = doc["paths"]["/messages/search"]["get"]
    assert op["security"] == [{"bearer": []}]
    assert {"200", "401", "404", "422", "500"} <= set(op["responses"])
    params = {p["name"]: p for p in op["parameters"]}
    assert params["q"]["required"] is True
    assert (params["q"]["schema"]["minLength"], params["q"]["schema"]["maxLength"]) == (1, 256)
    assert not params["chat_id"].get("required") and not params["cursor"].get("required")
    assert params["limit"]["schema"]["maximum"] == 200
    page = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert page == {"$ref": "#/components/schemas/SearchPage"}
    hit = doc["components"]["schemas"]["SearchHit"]
    assert set(hit["required"]) == {"message", "highlight"}


async def test_search_pages_across_the_walk_and_the_index_in_order(http, pg):
    """More messages than the walk covers (app/storage/search.py WALK_WINDOW), written by SQL:
    matches above and below the walk's floor come back newest first, page after page, in all
    chats and in one, and never from a chat of others or a deleted row."""
    from app.storage.search import WALK_WINDOW

    alice, bob, chat = await pair(http)
    carol, dave, other = await pair(http)
    total = 2 * WALK_WINDOW + 6_000  # the one chat alone holds more than the walk too
    # Rows alternate between the two chats; every 997th is a needle, every 3,001st deleted.
    await pg.execute(
        """INSERT INTO messages (chat_id, seq, sender_id, content, created_at, is_deleted)
           SELECT CASE WHEN g % 2 = 0 THEN $1::bigint ELSE $2::bigint END, g / 2 + 1,
                  CASE WHEN g % 2 = 0 THEN $3::bigint ELSE $4::bigint END,
                  CASE WHEN g % 997 = 0 THEN 'needle ' || g ELSE 'hay ' || g END, now(), g % 3001 = 0
           FROM generate_series(0, $5 - 1) AS g""",
        chat["id"], other["id"], alice.id, carol.id, total,
    )  # fmt: skip
    await pg.execute(
        "UPDATE chats SET last_seq = (SELECT max(seq) FROM messages m WHERE m.chat_id = chats.id) WHERE id = ANY($1::bigint[])",
        [chat["id"], other["id"]],
    )
    expected = [f"needle {g}" for g in reversed(range(total)) if g % 997 == 0 and g % 2 == 0 and g % 3001 != 0]
    assert len(expected) > 10
    for params in ({}, {"chat_id": chat["id"]}):
        seen: list[str] = []
        cursor = None
        while True:
            body = await search(http, bob, "needle", limit=4, **params, **({"cursor": cursor} if cursor else {}))
            seen += contents(body)
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == expected, params
    assert (await search(http, dave, "needle", limit=200))["items"][0]["message"]["chat_id"] == other["id"]
