"""The small port protocol between the interpreter and a call, live or simulated.

The interpreter (`ivr.interpreter`) knows nothing of RTP, SIP or asyncio's clock: it asks
its `CallPorts` to say things, to wait for the caller's input (DTMF and speech merged,
whichever comes first), for the time, and to hand the call to a queue. `ivr.live` wires
these to a `media.call.Call`; `ivr.simulate` to a script and a fake clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

InputKind = Literal["dtmf", "speech", "noinput", "nomatch", "hangup"]
GrammarKind = Literal["digits", "yesno", "free", "phrases"]


@dataclass(frozen=True, slots=True)
class Utterance:
    """One prompt to play: TTS ``text`` in ``language`` (or ``voice``), or an audio ``file``."""

    text: str
    file: str = ""
    language: str = "en"
    voice: str | None = None


#: what a question plays: nothing, one prompt, or several in a row
Prompts = Utterance | Sequence[Utterance] | None


def utterances(what: Prompts) -> list[Utterance]:
    """The non-empty prompts of ``what``, in order."""
    if what is None:
        return []
    listed = [what] if isinstance(what, Utterance) else list(what)
    return [u for u in listed if u.text or u.file]


@dataclass(frozen=True, slots=True)
class Expect:
    """What the caller may answer a prompt with.

    ``grammar`` None means keys only; ``phrases`` maps a value to its synonyms for the
    ``phrases`` grammar; ``min_len``/``max_len`` bound the ``digits`` grammar. The
    no-input ``timeout`` runs from the end of the prompt; ``end_silence`` is the pause
    that ends an utterance.
    """

    timeout: float = 5.0
    grammar: GrammarKind | None = None
    phrases: dict[str, list[str]] = field(default_factory=dict)
    min_len: int = 1
    max_len: int = 16
    language: str = "en"
    barge_in: bool = True
    end_silence: float = 0.8


@dataclass(frozen=True, slots=True)
class Input:
    """The caller's answer: a key (``value`` the digit), recognized speech (``value`` the
    grammar's value, ``text`` what was heard), or why there is none."""

    kind: InputKind
    value: str = ""
    text: str = ""


@dataclass(frozen=True, slots=True)
class QueueTicket:
    """A queue request, independent of `routing.QueueRequest` (which the live port builds)."""

    queue: str
    skills: dict[str, int]
    priority: int
    language: str
    context: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Recording:
    """A voicemail: where the WAV is (None if nothing was recorded) and its length."""

    path: str | None
    seconds: float


class CallPorts(Protocol):
    """What one call offers the interpreter."""

    caller: str
    called: str
    call_id: str

    def now(self) -> float:
        """The call clock, seconds (monotonic)."""
        ...

    def wall_clock(self) -> datetime:
        """The current time, timezone-aware (business hours)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait on the call clock."""

    def ended(self) -> bool:
        """The caller hung up (or the call was ended)."""
        ...

    async def say(self, what: Utterance, *, barge_in: bool) -> bool:
        """Play ``what``; True if it played to the end."""
        ...

    async def ask(self, what: Prompts, expect: Expect) -> Input:
        """Play ``what`` (one prompt or several in a row, e.g. "Sorry, I did not hear
        anything." then the question) and return the caller's first input. The caller
        may answer (barge-in per ``expect``) during any of them; the no-input timer
        starts when the last one ends."""
        ...

    async def next_digit(self, timeout: float) -> Input:
        """The next key within ``timeout`` s (typed-ahead keys first): dtmf/noinput/hangup."""
        ...

    async def beep(self) -> None:
        """A short tone (before a recording)."""

    async def record_audio(self, max_seconds: float, end_key: str) -> Recording:
        """Record the caller until ``end_key``, ``max_seconds`` or the hang-up."""
        ...

    async def enqueue(self, ticket: QueueTicket) -> str | None:
        """Queue the call; the outcome kind once the caller left the queue, None when no
        queueing service exists."""
        ...

    async def transfer(self, target: str) -> str:
        """Transfer to ``target``: "transferred", "unsupported" or "failed"."""
        ...

    def record_event(self, event: dict[str, Any]) -> None:
        """Append ``event`` to the call record."""

    async def hangup(self) -> None:
        """End the call."""


@dataclass(frozen=True, slots=True)
class NoticeText:
    """An active supervisor notice."""

    text: str
    translations: dict[str, str] = field(default_factory=dict)


class Notices(Protocol):
    async def __call__(self, name: str) -> NoticeText | None: ...
