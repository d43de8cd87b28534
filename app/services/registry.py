"""Every service wired once from settings and a Redis pool, for the API and the worker."""

from __future__ import annotations

from dataclasses import dataclass

from arq.connections import ArqRedis

from app.config import Settings
from app.services.accounts import AccountService
from app.services.admin import AdminService
from app.services.attachments import UPLOAD_WINDOW, AttachmentService
from app.services.auth import AuthService
from app.services.bots import BotService
from app.services.chats import ChatService
from app.services.devices import DeviceService
from app.services.dispatch import Dispatcher
from app.services.exports import ExportService
from app.services.groups import GroupService
from app.services.messages import MessageService
from app.services.moderation import ModerationService
from app.services.passwords import Passwords
from app.services.pins import PinService
from app.services.presence import PresenceService
from app.services.push import PushService
from app.services.ratelimit import SendLimits, SlidingWindowLimiter, SlowMode
from app.services.reactions import ReactionService
from app.services.receipts import ReceiptService
from app.services.reports import REPORT_WINDOW, ReportService
from app.services.scheduled import ScheduledService
from app.services.sessions import SessionService
from app.services.users import UserService
from app.services.vapid import VapidKey


@dataclass(frozen=True)
class Services:
    auth: AuthService
    sessions: SessionService
    users: UserService
    accounts: AccountService
    admin: AdminService
    exports: ExportService
    chats: ChatService
    groups: GroupService
    pins: PinService
    moderation: ModerationService
    reports: ReportService
    messages: MessageService
    scheduled: ScheduledService
    reactions: ReactionService
    attachments: AttachmentService
    receipts: ReceiptService
    presence: PresenceService
    devices: DeviceService
    push: PushService
    bots: BotService
    dispatcher: Dispatcher  # the after-commit hand-off the services share (drained at shutdown)


CHAT_RATE_WINDOW = 60.0  # CHAT_RATE_LIMIT counts per minute
NEW_DEVICE_WINDOW = 24 * 3600.0  # WS_NEW_DEVICES_PER_DAY counts per day


def build_services(settings: Settings, redis: ArqRedis) -> Services:
    dispatcher = Dispatcher(redis, settings.delivery_partitions)
    presence = PresenceService(redis, heartbeat_interval=settings.heartbeat_interval)
    # RATE_LIMIT_MESSAGES (BOT_RATE_LIMIT for bots): one budget for sends, edits, deletes and reactions.
    sends = SendLimits(
        SlidingWindowLimiter(redis, limit=settings.rate_limit_messages, window_seconds=settings.rate_limit_window),
        SlidingWindowLimiter(redis, limit=settings.bot_rate_limit, window_seconds=settings.rate_limit_window),
    )
    chats = ChatService(
        dispatcher, SlidingWindowLimiter(redis, limit=settings.chat_rate_limit, window_seconds=CHAT_RATE_WINDOW)
    )
    passwords = Passwords(settings, redis)
    sessions = SessionService(settings, redis)
    auth = AuthService(settings, redis, passwords=passwords, sessions=sessions)
    admin = AdminService(sessions=sessions, dispatcher=dispatcher)
    users = UserService(presence, redis)
    attachments = AttachmentService(
        settings, SlidingWindowLimiter(redis, limit=settings.upload_rate_limit, window_seconds=UPLOAD_WINDOW)
    )
    messages = MessageService(settings, sends, dispatcher, SlowMode(redis))
    return Services(
        auth=auth,
        sessions=sessions,
        users=users,
        accounts=AccountService(redis, passwords=passwords, sessions=sessions, users=users, dispatcher=dispatcher),
        admin=admin,
        exports=ExportService(redis, attachments.store),
        chats=chats,
        groups=GroupService(chats, dispatcher),
        pins=PinService(dispatcher),
        moderation=ModerationService(chats, dispatcher),
        reports=ReportService(
            redis,
            admin=admin,
            limiter=SlidingWindowLimiter(redis, limit=settings.report_rate_limit, window_seconds=REPORT_WINDOW),
        ),
        messages=messages,
        scheduled=ScheduledService(messages, sends, dispatcher),
        reactions=ReactionService(sends, dispatcher),
        attachments=attachments,
        receipts=ReceiptService(dispatcher, large_group_size=settings.large_group_size),
        presence=presence,
        devices=DeviceService(
            SlidingWindowLimiter(redis, limit=settings.ws_new_devices_per_day, window_seconds=NEW_DEVICE_WINDOW)
        ),
        push=PushService(redis, vapid=vapid_key(settings), allowed=settings.outbound_networks(push=True)),
        bots=BotService(
            settings,
            redis,
            sessions=sessions,
            dispatcher=dispatcher,
            allowed=settings.outbound_networks(),
        ),
        dispatcher=dispatcher,
    )


def vapid_key(settings: Settings) -> VapidKey | None:
    """The VAPID key, or None: Web Push is off (settings.require_push checked it at start)."""
    if not settings.vapid_private_key or not settings.vapid_subject:
        return None
    return VapidKey.load(settings.vapid_private_key, settings.vapid_subject)
