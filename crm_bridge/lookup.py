"""The caller's CRM record, fetched once per call from the moment the INVITE arrives.

`start_lookup` (called by the SIP server's INVITE hook, `CallLookups.on_invite`) begins
the look-up in the background and caches it by Call-ID. The IVR's ``lookup`` node and
the agent's screen-pop ask for it later with a time budget:

    lookup = lookup_for(call.call_id) or start_lookup(crm, call.call_id, call.caller)
    result = await lookup.result(budget=0.2)   # never raises
    if result.status == "pending":            # the CRM is slow: go on without it ...
        lookup.subscribe(push_update)          # ... and update the screen when it answers

Nothing waits for a slow CRM longer than its budget; the look-up itself goes on (up to
`LOOKUP_TIMEOUT`) and subscribers hear the final result once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from crm_bridge.connector import Crm
from crm_bridge.models import Customer, Interaction, Order, Ticket
from crm_bridge.phone import DEFAULT_REGION, normalize_phone

if TYPE_CHECKING:
    from media.sip.session import CallSession

log = logging.getLogger(__name__)

DEFAULT_BUDGET = 0.15  # seconds a caller of result() waits by default
LOOKUP_TIMEOUT = 10.0  # a CRM slower than this is reported as failed
MAX_CACHED = 10_000  # look-ups kept (oldest dropped first); a call needs its own for minutes

LookupStatus = Literal["pending", "ready", "failed"]
Subscriber = Callable[["LookupResult"], None]


@dataclass(frozen=True, slots=True)
class LookupResult:
    """What is known about the caller at one moment.

    ``status`` is "pending" while the CRM has not answered, "ready" once it has (with
    ``customer`` None for an unknown or anonymous caller) and "failed" when it errored or
    timed out. ``elapsed`` is seconds from the INVITE to the answer.
    """

    status: LookupStatus
    call_id: str
    caller_uri: str
    phone: str | None
    customer: Customer | None = None
    orders: tuple[Order, ...] = ()
    history: tuple[Interaction, ...] = ()
    tickets: tuple[Ticket, ...] = ()
    error: str | None = None
    elapsed: float | None = None

    @property
    def found(self) -> bool:
        """The caller is a known customer."""
        return self.customer is not None


@dataclass
class CallLookup:
    """One call's look-up: a background task and its result, cached for the call."""

    crm: Crm
    call_id: str
    caller_uri: str
    default_region: str = DEFAULT_REGION
    budget: float = DEFAULT_BUDGET
    limit: int = 5
    clock: Callable[[], float] = time.monotonic
    phone: str | None = field(init=False)
    _current: LookupResult = field(init=False)
    _task: asyncio.Task[None] | None = field(init=False, default=None)
    _subscribers: list[Subscriber] = field(init=False, default_factory=list)
    _started: float = field(init=False)

    def __post_init__(self) -> None:
        self.phone = normalize_phone(self.caller_uri, self.default_region)
        self._started = self.clock()
        self._current = LookupResult("pending", self.call_id, self.caller_uri, self.phone)

    def start(self) -> CallLookup:
        """Begin fetching (in a task); an anonymous caller is ready at once."""
        if self._task is None and self._current.status == "pending":
            if self.phone is None:
                self._finish(replace(self._current, status="ready", elapsed=0.0))
            else:
                loop = asyncio.get_running_loop()
                self._task = loop.create_task(self._run(self.phone), name=f"crm-{self.call_id}")
        return self

    @property
    def current(self) -> LookupResult:
        """What is known right now, without waiting."""
        return self._current

    @property
    def done(self) -> bool:
        """The CRM answered (or failed); `current` is final."""
        return self._current.status != "pending"

    async def result(self, budget: float | None = None) -> LookupResult:
        """What is known after waiting at most ``budget`` s (default: the lookup's budget).

        Never raises; being cancelled while waiting leaves the look-up running.
        """
        wait = self.budget if budget is None else budget
        if not self.done and self._task is not None and wait > 0:
            await asyncio.wait({self._task}, timeout=wait)
        return self._current

    async def final(self) -> LookupResult:
        """The result once the CRM has answered or failed (at most `LOOKUP_TIMEOUT`)."""
        if self._task is not None and not self.done:
            await asyncio.wait({self._task})
        return self._current

    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback(result)`` once, when the look-up finishes (now if it has)."""
        if self.done:
            _notify(callback, self._current)
        else:
            self._subscribers.append(callback)

    def cancel(self) -> None:
        """Stop fetching (the call is gone); subscribers are not told."""
        self._subscribers.clear()
        if self._task is not None:
            self._task.cancel()

    async def _run(self, phone: str) -> None:
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT):
                found = await self._fetch(phone)
        except Exception as exc:  # the CRM's trouble is reported, never raised to callers
            log.warning("CRM look-up for %s failed: %r", self.call_id, exc)
            found = replace(self._current, status="failed", error=_describe(exc))
        self._finish(replace(found, elapsed=self.clock() - self._started))

    async def _fetch(self, phone: str) -> LookupResult:
        customer = await self.crm.customer_by_phone(phone)
        if customer is None:
            return replace(self._current, status="ready")
        orders, history, tickets = await asyncio.gather(
            self.crm.orders(customer.id, self.limit),
            self.crm.history(customer.id, self.limit),
            self.crm.open_tickets(customer.id),
        )
        return replace(
            self._current,
            status="ready",
            customer=customer,
            orders=tuple(orders),
            history=tuple(history),
            tickets=tuple(tickets),
        )

    def _finish(self, result: LookupResult) -> None:
        self._current = result
        subscribers, self._subscribers = self._subscribers, []
        for callback in subscribers:
            _notify(callback, result)


def _notify(callback: Subscriber, result: LookupResult) -> None:
    try:
        callback(result)
    except Exception:  # one broken subscriber must not starve the others
        log.exception("CRM look-up subscriber failed")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"CRM did not answer within {LOOKUP_TIMEOUT:.0f} s"
    return f"{type(exc).__name__}: {exc}"[:200]


class CallLookups:
    """The look-ups of the calls in progress, by Call-ID (bounded; oldest dropped first)."""

    def __init__(self, max_cached: int = MAX_CACHED) -> None:
        self._lookups: OrderedDict[str, CallLookup] = OrderedDict()
        self.max_cached = max_cached

    def start(self, crm: Crm, call_id: str, caller_uri: str, **options: Any) -> CallLookup:
        """The call's look-up, started now unless it already was."""
        existing = self._lookups.get(call_id)
        if existing is not None:
            return existing
        lookup = CallLookup(crm, call_id, caller_uri, **options).start()
        self._lookups[call_id] = lookup
        while len(self._lookups) > self.max_cached:
            _, dropped = self._lookups.popitem(last=False)
            dropped.cancel()
        return lookup

    def get(self, call_id: str) -> CallLookup | None:
        """The call's look-up, or None if it never started (or was dropped)."""
        return self._lookups.get(call_id)

    def forget(self, call_id: str) -> None:
        """Drop the call's look-up."""
        lookup = self._lookups.pop(call_id, None)
        if lookup is not None:
            lookup.cancel()

    def invite_hook(self, crm: Crm, **options: Any) -> Callable[[CallSession], None]:
        """The SIP server's ``on_invite``: start the caller's look-up as the INVITE arrives."""

        def on_invite(session: CallSession) -> None:
            self.start(crm, session.call_id, str(session.invite.from_.uri), **options)

        return on_invite

    def __len__(self) -> int:
        return len(self._lookups)


#: the process's look-ups; Call-IDs are unique, so one registry serves every SIP server
LOOKUPS = CallLookups()


def start_lookup(
    crm: Crm, call_id: str, caller_uri: str, *, budget: float = DEFAULT_BUDGET, **options: Any
) -> CallLookup:
    """Start (or find) the look-up for ``call_id`` in the process registry."""
    return LOOKUPS.start(crm, call_id, caller_uri, budget=budget, **options)


def lookup_for(call_id: str) -> CallLookup | None:
    """The look-up started for ``call_id``, or None."""
    return LOOKUPS.get(call_id)
