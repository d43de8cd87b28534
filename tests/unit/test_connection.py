"""`Connection` (app/realtime/hub.py): the send queue, in-order delivery of inbox events,
the reorder window for events past a gap, replay room and acks. Pure in-process: no sockets."""

from __future__ import annotations

import asyncio
import uuid

import orjson

from app.realtime import hub
from app.realtime.codes import Close
from app.realtime.envelopes import InboxFrame
from app.realtime.hub import REPLAY_BATCH_MAX, Connection


class Replays:
    """Records every replay the connection asks for (the hub's real callback starts one)."""

    def __init__(self) -> None:
        self.requests: list[Connection] = []

    def __call__(self, conn: Connection) -> None:
        self.requests.append(conn)


def make_conn(cursor: int = 0, queue_size: int = 100) -> tuple[Connection, Replays]:
    replays = Replays()
    conn = Connection(
        user_id=1, session_id=uuid.uuid4(), device_id="d1", cursor=cursor, queue_size=queue_size, request_replay=replays
    )
    return conn, replays


def event(seq: int, committed_at: float | None = None) -> InboxFrame:
    return InboxFrame.render({"type": "message", "data": {"inbox_seq": seq, "n": seq}, "committed_at": committed_at})


def queued_seqs(conn: Connection) -> list[int]:
    """Drain the send queue, returning the inbox_seq of every frame in write order."""
    seqs = []
    while not conn.queue.empty():
        seqs.append(orjson.loads(conn.queue.get_nowait())["data"]["inbox_seq"])
    return seqs


async def test_events_in_order_are_written_and_the_cursor_advances() -> None:
    conn, replays = make_conn(cursor=5)
    for seq in (6, 7, 8):
        conn.offer(event(seq), live=True)
    assert queued_seqs(conn) == [6, 7, 8]
    assert conn.next_seq == 9
    assert replays.requests == []


async def test_events_at_or_below_the_cursor_are_dropped_as_duplicates() -> None:
    conn, _ = make_conn(cursor=5)
    conn.offer(event(6), live=True)
    conn.offer(event(6), live=False)  # the same event again, from a replay
    conn.offer(event(3), live=True)  # long since delivered
    assert queued_seqs(conn) == [6]
    assert conn.next_seq == 7


async def test_an_event_past_a_gap_is_held_until_the_gap_fills_then_both_go_in_order() -> None:
    conn, replays = make_conn(cursor=0)
    conn.offer(event(2), live=True)
    conn.offer(event(3), live=True)
    assert queued_seqs(conn) == []  # nothing written out of order
    conn.offer(event(1), live=True)
    assert queued_seqs(conn) == [1, 2, 3]
    assert conn.next_seq == 4
    await asyncio.sleep(hub.GAP_WAIT + 0.1)
    assert replays.requests == []  # the gap filled in time: no replay, and the timer was cancelled


async def test_a_gap_that_outlives_the_reorder_window_requests_one_replay() -> None:
    conn, replays = make_conn(cursor=0)
    conn.offer(event(2), live=True)
    assert replays.requests == []
    await asyncio.sleep(hub.GAP_WAIT + 0.15)
    assert replays.requests == [conn]
    assert conn.replay_pending_since is not None
    # While the replay is pending, further early events do not ask again.
    conn.offer(event(3), live=True)
    await asyncio.sleep(hub.GAP_WAIT + 0.15)
    assert replays.requests == [conn]
    conn.close(1000)


async def test_the_replay_that_fills_the_gap_releases_held_events() -> None:
    conn, replays = make_conn(cursor=0)
    conn.offer(event(3), live=True)
    conn.need_replay()
    conn.offer(event(1), live=False)
    conn.offer(event(2), live=False)
    conn.replay_done()
    assert queued_seqs(conn) == [1, 2, 3]
    assert replays.requests == [conn]
    await asyncio.sleep(hub.GAP_WAIT + 0.1)
    assert len(replays.requests) == 1  # nothing left held: no second replay


async def test_too_many_held_events_fall_back_to_a_replay_at_once() -> None:
    conn, replays = make_conn(cursor=0, queue_size=1000)
    for seq in range(2, 2 + hub.EARLY_MAX):
        conn.offer(event(seq), live=True)
    assert replays.requests == []
    conn.offer(event(2 + hub.EARLY_MAX), live=True)
    assert replays.requests == [conn]
    conn.offer(event(1), live=True)  # the held events were dropped; only the gap-filler goes
    assert queued_seqs(conn) == [1]
    conn.close(1000)


async def test_a_full_send_queue_closes_the_connection_with_the_overflow_code() -> None:
    conn, _ = make_conn(cursor=0, queue_size=2)
    conn.send({"type": "a"})
    conn.send({"type": "b"})
    assert not conn.closed.is_set()
    conn.send({"type": "c"})
    assert conn.closed.is_set()
    assert conn.close_code == Close.FELL_BEHIND
    assert conn.queue.qsize() == 2  # the overflowing frame was not queued


async def test_a_closed_connection_queues_nothing_and_keeps_its_first_close_code() -> None:
    conn, _ = make_conn()
    conn.close(4001)
    conn.close(4002)
    conn.send({"type": "late"})
    assert conn.queue.empty()
    assert conn.close_code == 4001


async def test_replay_room_leaves_a_quarter_of_the_queue_for_live_events() -> None:
    conn, _ = make_conn(queue_size=100)
    assert conn.replay_room() == 75
    for _ in range(70):
        conn.send({"type": "x"})
    assert conn.replay_room() == 5
    for _ in range(10):
        conn.send({"type": "x"})
    assert conn.replay_room() == 0  # never negative


async def test_replay_room_is_capped_at_the_batch_maximum() -> None:
    conn, _ = make_conn(queue_size=REPLAY_BATCH_MAX * 4)
    assert conn.replay_room() == REPLAY_BATCH_MAX


async def test_a_replay_paused_for_room_resumes_when_the_queue_drains() -> None:
    conn, replays = make_conn()
    conn.drained()
    assert replays.requests == []  # nothing paused: draining asks for nothing
    conn.resume_when_drained = True
    conn.drained()
    assert replays.requests == [conn]
    assert conn.resume_when_drained is False


async def test_need_replay_asks_once_until_the_replay_is_done() -> None:
    conn, replays = make_conn()
    conn.need_replay()
    conn.need_replay()
    assert len(replays.requests) == 1
    conn.replay_done()
    conn.need_replay()
    assert len(replays.requests) == 2


async def test_sync_rewinds_the_cursor_and_redelivers_what_was_already_sent() -> None:
    conn, replays = make_conn(cursor=0)
    for seq in (1, 2, 3):
        conn.offer(event(seq), live=True)
    queued_seqs(conn)
    conn.need_replay()  # a replay already pending does not stop a sync
    conn.restart_from(1)
    assert conn.next_seq == 2
    assert len(replays.requests) == 2
    conn.offer(event(2), live=False)
    assert queued_seqs(conn) == [2]


async def test_sync_past_the_cursor_does_not_skip_undelivered_events() -> None:
    conn, _ = make_conn(cursor=3)
    conn.restart_from(10)
    assert conn.next_seq == 4


async def test_ack_moves_the_cursor_only_forward() -> None:
    conn, _ = make_conn(cursor=5)
    assert conn.ack(5) is False
    assert conn.ack(4) is False
    assert conn.ack(7) is True
    assert conn.acked == 7
    assert conn.ack(6) is False
    assert conn.acked == 7


async def test_ack_forgets_the_commit_times_of_acknowledged_live_events() -> None:
    conn, _ = make_conn(cursor=0)
    for seq in (1, 2, 3):
        conn.offer(event(seq, committed_at=1.0), live=True)
    conn.offer(event(4, committed_at=None), live=True)
    assert list(conn._commit_times) == [1, 2, 3]
    conn.ack(2)
    assert list(conn._commit_times) == [3]


async def test_a_stalled_write_is_judged_by_how_long_one_write_has_waited() -> None:
    conn, _ = make_conn()
    assert conn.is_stalled(1e9) is False  # no write in progress
    conn.write_started = 100.0
    assert conn.is_stalled(100.0 + hub.SLOW_CLIENT_SECONDS - 0.1) is False
    assert conn.is_stalled(100.0 + hub.SLOW_CLIENT_SECONDS + 0.1) is True


def test_hub_tracks_first_and_last_connection_of_a_user() -> None:
    h = hub.Hub()
    a, _ = make_conn()
    b, _ = make_conn()
    assert h.add(a) is True
    assert h.add(b) is False
    assert h.get(1, a.id) is a
    assert set(c.id for c in h.of_user(1)) == {a.id, b.id}
    assert h.remove(a) is False
    assert h.remove(a) is False  # removing twice is harmless
    assert h.remove(b) is True
    assert h.users() == [] and h.all() == []
