"""Erasing an account (DELETE /users/me): what others can read is gone in one transaction,
the rest (its files, its inbox) is removed by the `erase` job in batches.

The transaction revokes every session, frees the username and email (a new account may take
them and sees nothing of the old one), drops the profile, avatar, blocks and devices, takes
the account out of every chat (a group's ownership passes on as when its owner leaves),
wipes the text of every message it sent (so no read after the 204 shows a word of it: history,
search, reply previews and pushes all read the message row) and sets `deleted_at`. That row
is the job's outbox: the `erase` job is enqueued after commit,
and the `erase_sweep` cron job resumes any erasure whose `erased_at` is still unset, so an
erasure interrupted by a crash (of the API before the enqueue, or of a worker mid-way)
completes. Every step of the wipe is idempotent and safe to run twice at once.
"""

from __future__ import annotations

import logging
import time
import uuid

from arq.connections import ArqRedis

from app import keys
from app.db import transaction
from app.errors import NotFound
from app.media.store import MediaStore
from app.services.chats import leave_every_chat
from app.services.dispatch import Dispatcher, enqueue_delivery, partition_of
from app.services.exports import remove_exports
from app.services.passwords import Passwords
from app.services.sessions import Principal, SessionService
from app.services.users import UserService
from app.storage import accounts as account_store
from app.storage import attachments as attachment_store
from app.storage import exports as export_store
from app.storage import sessions as session_store
from app.storage import users as user_store

log = logging.getLogger(__name__)

FILES_BATCH = 200
LEASE_MS = 10_000  # a wiping run renews it every batch; a killed run's lease lapses this soon


class AccountService:
    def __init__(
        self,
        redis: ArqRedis,
        *,
        passwords: Passwords,
        sessions: SessionService,
        users: UserService,
        dispatcher: Dispatcher,
    ) -> None:
        self._redis = redis
        self._passwords = passwords
        self._sessions = sessions
        self._users = users
        self._dispatcher = dispatcher

    async def erase(self, *, principal: Principal, password: str, client_ip: str) -> None:
        """Erase the caller's account once its password is confirmed (wrong: 422 on
        `password`, counted as a failed login). Sockets of every session close with 4401;
        contacts get `user_updated` with the erased profile; each message it sent is announced
        as `message_deleted`; the `erase` job removes its files and inbox after."""
        await self._passwords.verify(user_id=principal.user_id, password=password, client_ip=client_ip, field="password")
        user_id = principal.user_id
        contacts = await user_store.contacts(user_id)
        async with transaction() as conn:
            row = await account_store.lock_user(user_id, conn)
            if row is None or row["deleted_at"] is not None:
                raise NotFound("No such user.")
            revoked = await session_store.revoke_all_sessions(user_id, conn)
            await account_store.erase_profile(user_id, conn)
            # Every message at once; one that a concurrent edit holds is left to the job.
            await account_store.wipe_messages(user_id, None, conn)
            await leave_every_chat(user_id, conn)
        await self._sessions.announce_revocation(*revoked)
        await self._dispatcher.after_commit()
        await enqueue_erasure(self._redis, user_id)
        await self._users.announce(user_id, audience=contacts)
        log.info("account erased", extra={"user_id": user_id})


async def enqueue_erasure(redis: ArqRedis, user_id: int) -> None:
    """One queued `erase` job per account; the sweep covers a lost enqueue."""
    await redis.enqueue_job(keys.ERASE_JOB, user_id, _job_id=keys.ERASE_JOB_ID.format(user_id=user_id))


async def wipe_account(
    *, redis: ArqRedis, store: MediaStore, user_id: int, batch: int, partitions: int, until: float
) -> bool:
    """Wipe what the erasing transaction left: messages a concurrent edit held then (batch by
    batch, each announced as `message_deleted`), its uploads (files, then rows) and its inbox; True once finished, False when `until`
    (monotonic) came first or another run holds the account's lease (the sweep goes on
    later)."""
    lease = keys.ERASING.format(user_id=user_id)
    token = uuid.uuid4().hex
    if not await redis.set(lease, token, nx=True, px=LEASE_MS):
        return False
    try:
        return await _wipe(redis, store, user_id, batch=batch, partitions=partitions, until=until, lease=lease)
    finally:
        if await redis.get(lease) in (token, token.encode()):
            await redis.delete(lease)


async def _wipe(
    redis: ArqRedis, store: MediaStore, user_id: int, *, batch: int, partitions: int, until: float, lease: str
) -> bool:
    while True:
        await redis.pexpire(lease, LEASE_MS)
        wiped = await account_store.wipe_messages(user_id, batch)
        if not wiped:
            break
        await enqueue_delivery(redis, sorted({partition_of(row["chat_id"], partitions) for row in wiped}))
        if time.monotonic() >= until:
            return False
    while rows := await attachment_store.of_uploader(user_id, FILES_BATCH):
        for row in rows:
            await store.delete(row["storage_key"])
            if row["thumbnail_key"]:
                await store.delete(row["thumbnail_key"])
        await attachment_store.delete_rows([row["id"] for row in rows])
    while await account_store.drop_inbox(user_id, batch):
        await redis.pexpire(lease, LEASE_MS)
        if time.monotonic() >= until:
            return False
    await remove_exports(store, await export_store.of_user(user_id))
    return await account_store.finish_erasure(user_id)
