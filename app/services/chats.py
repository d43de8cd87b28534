"""Direct and group chats, membership and roles; the one place that decides who may see a chat."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app import keys
from app.db import Row, transaction
from app.errors import Forbidden, NotFound, field_error
from app.jsonutil import iso
from app.services.dispatch import Dispatcher
from app.services.pages import Page, encode_cursor, read_cursor, seq_field, time_field
from app.services.ratelimit import SlidingWindowLimiter
from app.services.views import chat_body, member_body, message_body
from app.storage import bans as ban_store
from app.storage import blocks as block_store
from app.storage import chats as chat_store
from app.storage import messages as message_store
from app.storage import outbox

MANAGERS = ("owner", "admin")


def hidden() -> NotFound:
    """The one 404 for a chat or message that does not exist or that the caller may not see,
    so an outsider cannot tell the two apart on any route."""
    return NotFound("No such chat or message.")


def check_text(field: str, value: str | None) -> None:
    """PostgreSQL text cannot hold NUL: refuse it as invalid input rather than fail with 500."""
    if value is not None and "\x00" in value:
        raise field_error(field, "Must not contain the NUL character.")


async def require_member(chat_id: int, user_id: int, conn: BaseDBAsyncClient | None = None) -> Row:
    """The membership row, or 404 exactly as for a chat that does not exist."""
    member = await chat_store.membership(chat_id, user_id, conn=conn)
    if member is None:
        raise hidden()
    return member


async def render_chats(pairs: list[tuple[int, int]]) -> dict[tuple[int, int], dict[str, Any]]:
    """`Chat` bodies for (chat_id, viewer) pairs, in a fixed number of queries."""
    rows = await chat_store.chats_for_viewers(pairs)
    return await _render(rows, [row["viewer_id"] for row in rows])


async def _render(rows: list[Row], viewers: list[int]) -> dict[tuple[int, int], dict[str, Any]]:
    chat_ids = list({row["id"] for row in rows})
    members: dict[int, list[dict[str, Any]]] = {chat_id: [] for chat_id in chat_ids}
    now = datetime.now(UTC)
    for member in await chat_store.members_of(chat_ids):
        members[member["chat_id"]].append(member_body(member, now))
    # A former member (a chat_updated event rendered after their removal) sees no content, and
    # one who joined a chat whose history is hidden sees no last message from before joining.
    current = [row.get("is_member", True) for row in rows]
    shown = [is_member and row["last_seq"] > row["visible_after_seq"] for row, is_member in zip(rows, current)]
    last = await message_store.last_messages([(row["id"], row["last_seq"]) for row, show in zip(rows, shown) if show])
    unread = await chat_store.unread_counts(
        [
            (row["id"], viewer, row["read_seq"], row["last_seq"])
            for row, viewer, is_member in zip(rows, viewers, current)
            if is_member
        ]
    )
    return {
        (row["id"], viewer): chat_body(
            row,
            members=members[row["id"]],
            last_message=(
                message_body(last[row["id"]], viewer, hidden_before=row["visible_after_seq"]) if show and row["id"] in last else None
            ),
            unread_count=unread.get((row["id"], viewer), (0, 0))[0],
            unread_mentions=unread.get((row["id"], viewer), (0, 0))[1],
        )
        for row, viewer, is_member, show in zip(rows, viewers, current, shown)
    }


def require_manager(member: Row, what: str = "change its members") -> None:
    if member["type"] != "group" or member["role"] not in MANAGERS:
        raise Forbidden(f"Only a group's owner or admins can {what}.")


def outranks(actor_role: str, target_role: str) -> bool:
    """Whether a manager of actor_role may remove, ban or mute a member of target_role: the
    owner anyone else, an admin plain members only."""
    return target_role != "owner" and (target_role != "admin" or actor_role == "owner")


def require_unmuted(member: Row) -> None:
    """403 with details.until while a group's admin has muted the member (migration 13's
    send_blocked_until): they read, but neither send, edit nor react."""
    until = member["send_blocked_until"]
    if until is not None and until > datetime.now(UTC):
        raise Forbidden("An admin of this chat muted you; you can read but not write.", details={"until": iso(until)})


async def drop_member(chat_id: int, member_id: int, conn: BaseDBAsyncClient) -> None:
    """Remove a member (leaving, removed, banned): a group's ownership passes on if need be,
    and the members and the removed user hear it, so their devices drop the chat."""
    await chat_store.remove_member(chat_id, member_id, conn)
    await chat_store.promote_successor(chat_id, conn)
    await chat_store.touch_chat(chat_id, conn)
    await record_chat_updated(chat_id, conn, also=[member_id])


async def record_chat_updated(chat_id: int, conn: BaseDBAsyncClient, also: list[int] | None = None) -> None:
    """Every member (and `also`, e.g. a member just removed) hears that the chat changed."""
    await outbox.record_to_members(type="chat_updated", chat_id=chat_id, payload={}, also=also, conn=conn)


async def leave_every_chat(user_id: int, conn: BaseDBAsyncClient) -> None:
    """The user leaves each chat it is in (an erased account, a deleted bot); a group's
    ownership passes on as when its owner leaves, and the members hear of it."""
    for chat_id in await chat_store.chats_of(user_id, conn):
        await chat_store.remove_member(chat_id, user_id, conn)
        await chat_store.promote_successor(chat_id, conn)
        await chat_store.touch_chat(chat_id, conn)
        await record_chat_updated(chat_id, conn)


async def _refuse_blockers(user_id: int, others: list[int], what: str) -> None:
    """403 when any of `others` blocked user_id."""
    if await block_store.blockers_of(user_id, others):
        raise Forbidden(f"Someone you tried to {what} has blocked you.")


class ChatService:
    def __init__(self, dispatcher: Dispatcher, change_limiter: SlidingWindowLimiter) -> None:
        self._dispatcher = dispatcher
        self._changes = change_limiter

    async def _limit_changes(self, user_id: int) -> None:
        """Groups created and member additions share one per-user limit (CHAT_RATE_LIMIT per
        minute, every instance together): each puts people into chats and sends them events."""
        await self._changes.enforce(
            keys.CHAT_RATE.format(user_id=user_id), scope="chat", message="Changing chats too fast; retry later."
        )

    async def get(self, *, user_id: int, chat_id: int) -> dict[str, Any]:
        await require_member(chat_id, user_id)
        return (await render_chats([(chat_id, user_id)]))[(chat_id, user_id)]

    async def typing_audience(self, *, user_id: int, chat_id: int) -> list[int]:
        """Who hears user_id typing in the chat: its other members; 404 exactly as for a chat
        that does not exist when user_id is not a member."""
        await require_member(chat_id, user_id)
        others = [member for member in await chat_store.member_ids(chat_id) if member != user_id]
        blockers = await block_store.blockers_of(user_id, others)  # they hear nothing of user_id
        return [member for member in others if member not in blockers]

    async def page(self, *, user_id: int, cursor: str | None, limit: int) -> Page:
        after = read_cursor(cursor, {"t": time_field, "id": seq_field})
        position = (after["t"], after["id"]) if after else None
        rows = await chat_store.chats_of_user(user_id=user_id, after=position, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        rendered = await _render(rows, [user_id] * len(rows))
        items = [rendered[(row["id"], user_id)] for row in rows]
        next_cursor = (
            encode_cursor({"t": rows[-1]["last_activity_at"].isoformat(), "id": rows[-1]["id"]}) if more else None
        )
        return Page(items=items, next_cursor=next_cursor)

    async def create_direct(self, *, user_id: int, other_id: int) -> tuple[dict[str, Any], bool]:
        """(chat, created): exactly one direct chat per pair, also under concurrent creation."""
        if other_id == user_id:
            raise field_error("member_ids", "A direct chat needs another user.")
        if not await chat_store.existing_user_ids([other_id]):
            raise NotFound("No such user.")
        await _refuse_blockers(user_id, [other_id], "open a direct chat with")
        key = f"{min(user_id, other_id)}:{max(user_id, other_id)}"
        async with transaction() as conn:
            row = await chat_store.insert_chat(type="direct", title=None, direct_key=key, conn=conn)
            if row is not None:
                await chat_store.add_members(row["id"], [(user_id, "member"), (other_id, "member")], conn)
                await record_chat_updated(row["id"], conn)
        if row is None:
            existing = await chat_store.chat_by_direct_key(key)
            assert existing is not None
            return await self.get(user_id=user_id, chat_id=existing["id"]), False
        await self._dispatcher.after_commit()
        return await self.get(user_id=user_id, chat_id=row["id"]), True

    async def create_group(self, *, user_id: int, title: str, member_ids: list[int]) -> dict[str, Any]:
        check_text("title", title)
        await self._limit_changes(user_id)
        others = sorted(set(member_ids) - {user_id})
        if others and len(await chat_store.existing_user_ids(others)) != len(others):
            raise NotFound("No such user.")
        await _refuse_blockers(user_id, others, "add to a group")
        async with transaction() as conn:
            row = await chat_store.insert_chat(type="group", title=title, direct_key=None, conn=conn)
            assert row is not None
            await chat_store.add_members(row["id"], [(user_id, "owner")] + [(o, "member") for o in others], conn)
            await record_chat_updated(row["id"], conn)
        await self._dispatcher.after_commit()
        return await self.get(user_id=user_id, chat_id=row["id"])

    async def add_members(self, *, user_id: int, chat_id: int, user_ids: list[int]) -> dict[str, Any]:
        await self._limit_changes(user_id)
        wanted = sorted(set(user_ids))
        async with transaction() as conn:
            member = await require_member(chat_id, user_id, conn)
            require_manager(member)
            if wanted and len(await chat_store.existing_user_ids(wanted)) != len(wanted):
                raise NotFound("No such user.")
            await _refuse_blockers(user_id, wanted, "add to a group")
            await chat_store.lock_chat(chat_id, conn)  # a ban committing meanwhile is seen below
            if await ban_store.banned_among(chat_id, wanted, conn):
                raise Forbidden("Someone you tried to add is banned from this group.")
            added = await chat_store.add_members(chat_id, [(u, "member") for u in wanted], conn)
            if added:
                await chat_store.touch_chat(chat_id, conn)
                await record_chat_updated(chat_id, conn)
        if added:
            await self._dispatcher.after_commit()
        return await self.get(user_id=user_id, chat_id=chat_id)

    async def remove_member(self, *, user_id: int, chat_id: int, member_id: int) -> None:
        async with transaction() as conn:
            member = await require_member(chat_id, user_id, conn)
            if member["type"] != "group":
                raise Forbidden("Nobody leaves a direct chat.")
            if member_id != user_id:
                require_manager(member)
                target = await chat_store.membership(chat_id, member_id, conn=conn)
                if target is None:
                    raise NotFound("No such member.")
                if not outranks(member["role"], target["role"]):
                    raise Forbidden("You cannot remove this member.")
            await drop_member(chat_id, member_id, conn)
        await self._dispatcher.after_commit()

    async def update_settings(self, *, user_id: int, chat_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """The caller's own muted_until / archived; only the caller's devices hear of it."""
        async with transaction() as conn:
            await require_member(chat_id, user_id, conn)
            await chat_store.update_settings(chat_id, user_id, changes, conn)
            await outbox.record(type="chat_updated", chat_id=chat_id, payload={}, user_ids=[user_id], conn=conn)
        await self._dispatcher.after_commit()
        return await self.get(user_id=user_id, chat_id=chat_id)
