"""The engine's vocabulary: specs in, decisions out. Import these from
``centralita.routing.engine``, which re-exports them and states the policy that gives them meaning.
"""

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

Clock = Callable[[], float]


class Presence(StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    AWAY = "away"
    WRAP_UP = "wrap_up"


class Load(StrEnum):
    """The capacity an interaction takes from its agent; several channels share one kind."""

    VOICE = "voice"
    CHAT = "chat"
    EMAIL = "email"
    SMS = "sms"
    TASK = "task"


# Interaction channel (interactions.models.Channel values) -> the capacity it uses.
LOAD_OF_CHANNEL: Mapping[str, Load] = {
    "voice": Load.VOICE,
    "callback": Load.VOICE,
    "chat": Load.CHAT,
    "email": Load.EMAIL,
    "web": Load.EMAIL,
    "sms": Load.SMS,
    "task": Load.TASK,
}
DEFAULT_CAPACITY: Mapping[Load, int] = {
    Load.VOICE: 1,
    Load.CHAT: 3,
    Load.EMAIL: 5,
    Load.SMS: 5,
    Load.TASK: 5,
}
MISSED_OFFERS_BEFORE_AWAY = 2
MISSED_REASON = "missed"
DEFAULT_OCCUPANCY_CAP = 0.85
DEFAULT_AFFINITY_WAIT_SECONDS = 10.0
DEFAULT_OFFER_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class OverflowStep:
    """After ``after_seconds`` of waiting, widen who may take the work."""

    after_seconds: float
    # The minimum level every required skill is relaxed to (None: unchanged).
    min_level: int | None = None
    # Agents eligible for any of these queues become eligible too.
    extra_queue_ids: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True, slots=True)
class QueueSpec:
    id: uuid.UUID
    tenant_id: uuid.UUID
    channels: frozenset[str]
    # skill id -> minimum level 1-5
    skills: Mapping[uuid.UUID, int]
    language: str | None = None
    priority: int = 0
    sl_target: float = 0.8
    sl_threshold_seconds: float = 20.0
    overflow: tuple[OverflowStep, ...] = ()
    offer_timeout_seconds: float = DEFAULT_OFFER_TIMEOUT_SECONDS
    auto_accept: bool = False
    affinity_wait_seconds: float = DEFAULT_AFFINITY_WAIT_SECONDS


@dataclass(frozen=True, slots=True)
class AgentSpec:
    id: uuid.UUID
    tenants: frozenset[uuid.UUID]
    # skill id -> level 1-5; skill ids belong to one tenant each
    skills: Mapping[uuid.UUID, int]
    languages: frozenset[str]
    capacity: Mapping[Load, int] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    occupancy_cap: float = DEFAULT_OCCUPANCY_CAP
    wrap_up_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class WorkItem:
    id: uuid.UUID
    tenant_id: uuid.UUID
    queue_id: uuid.UUID
    channel: str
    language: str | None
    priority: int
    # ValueTier.rank: 0 standard .. 3 platinum
    value_rank: int
    # When the work entered the queue (first time; a transfer or a re-offer keeps it)
    arrived_at: float
    # When its SLA target is breached: the interaction's or its ticket's. None: the queue's
    # threshold after arrival.
    deadline: float | None = None
    # The customer's last agent or the ticket owner.
    preferred_agent_id: uuid.UUID | None = None


class DecisionKind(StrEnum):
    OFFERED = "offered"  # work offered to an agent (auto_accept: already accepted)
    OFFER_EXPIRED = "offer_expired"  # the agent did not answer in time; work is back in queue
    WRAP_UP_EXPIRED = "wrap_up_expired"  # wrap-up time ran out; the work has left the agent
    PRESENCE_CHANGED = "presence_changed"  # the engine moved an agent (missed offers, wrap-up end)


class Held(StrEnum):
    """How an agent holds a piece of work; it takes capacity in all three."""

    OFFERED = "offered"
    ACTIVE = "active"
    WRAP_UP = "wrap_up"


@dataclass(frozen=True, slots=True)
class Decision:
    kind: DecisionKind
    agent_id: uuid.UUID
    work_id: uuid.UUID | None = None
    tenant_id: uuid.UUID | None = None
    queue_id: uuid.UUID | None = None
    at: float = 0.0
    expires_at: float | None = None
    auto_accepted: bool = False
    presence: Presence | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    queue_id: uuid.UUID
    waiting: int
    longest_wait_seconds: float
    estimated_wait_seconds: float
    agents_by_presence: Mapping[str, int]  # offline/available/away/wrap_up/busy among eligible


class RoutingError(Exception):
    """A command that does not fit the engine's state (unknown work, offer not yours...)."""


@dataclass(frozen=True, slots=True)
class WorkLocation:
    """Where the engine has a piece of work: waiting in ``queue_id`` (agent_id and held None),
    or held by ``agent_id`` (``until``: the offer's expiry or the wrap-up's end)."""

    queue_id: uuid.UUID
    agent_id: uuid.UUID | None = None
    held: Held | None = None
    until: float | None = None
