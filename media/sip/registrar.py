"""The registrar's decision (RFC 3261 §10.3), sans-IO.

Given a REGISTER the caller has already authenticated, the bindings stored for
its address-of-record and the wall-clock time, :func:`process_register` says
which bindings to write or delete and what to answer.  Storage and digest
authentication are the edge's job (:mod:`media.sip.server`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from email.utils import formatdate
from typing import cast

from .errors import RemoteProtocolError
from .headers import ContactStar, HeaderValue, NameAddr
from .message import Request
from .uri import SipUri

DEFAULT_EXPIRES = 3600
MIN_EXPIRES = 60
MAX_EXPIRES = 7200


@dataclass(frozen=True, slots=True)
class Binding:
    """One contact bound to an address-of-record until ``expires_at`` (epoch seconds)."""

    aor: str
    contact: str
    expires_at: float
    call_id: str
    cseq: int
    received: str | None = None
    user_agent: str | None = None


@dataclass(slots=True)
class RegisterDecision:
    """What to store (``upserts``/``removals``) and the 200's extra headers."""

    upserts: list[Binding] = field(default_factory=list)
    removals: list[Binding] = field(default_factory=list)
    current: list[Binding] = field(default_factory=list)

    def response_headers(self, now: float) -> list[tuple[str, HeaderValue]]:
        """Every binding still in force, each with its remaining ``expires`` (§10.3 step 8)."""
        headers: list[tuple[str, HeaderValue]] = []
        for binding in self.current:
            remaining = max(0, round(binding.expires_at - now))
            contact = NameAddr(SipUri.parse(binding.contact), params={"expires": str(remaining)})
            headers.append(("Contact", contact))
        headers.append(("Date", formatdate(now, usegmt=True)))
        return headers


def address_of_record(request: Request) -> str:
    """The canonical AOR of a REGISTER: its To URI as ``sip:user@host`` (§10.3 step 5)."""
    uri = request.to.uri
    return str(SipUri(uri.host.lower(), uri.user, scheme=uri.scheme))


def process_register(
    request: Request,
    existing: list[Binding],
    now: float,
    *,
    source: str | None = None,
    min_expires: int = MIN_EXPIRES,
    max_expires: int = MAX_EXPIRES,
) -> RegisterDecision:
    """Apply §10.3 steps 6-8 to ``request``; raises :class:`RemoteProtocolError` (400/423/500)."""
    aor = address_of_record(request)
    header_expires = _expires_header(request)
    contacts = request.headers.get_all("Contact")
    decision = RegisterDecision()
    if any(isinstance(c, ContactStar) for c in contacts):
        _check_star(contacts, header_expires)
        if not all(_may_replace(b, request) for b in existing):  # step 6: abort
            raise RemoteProtocolError("CSeq out of order for a binding", 500)
        decision.removals = list(existing)
        return decision
    before = {b.contact: b for b in existing}
    current = dict(before)
    seen: set[str] = set()
    for contact in cast(list[NameAddr], contacts):
        expires = _expires_for(contact, header_expires, min_expires, max_expires)
        key = _binding_key(current, contact.uri)
        old = before.get(key)
        if old is not None and key not in seen and not _may_replace(old, request):
            raise RemoteProtocolError("CSeq out of order for this binding", 500)
        seen.add(key)  # a contact listed twice: the later entry wins
        decision.upserts = [b for b in decision.upserts if b.contact != key]
        decision.removals = [b for b in decision.removals if b.contact != key]
        if expires == 0:
            current.pop(key, None)
            if old is not None:
                decision.removals.append(old)
            continue
        binding = Binding(
            aor,
            key,
            now + expires,
            request.call_id,
            request.cseq.number,
            source,
            _user_agent(request),
        )
        decision.upserts.append(binding)
        current[key] = binding
    decision.current = [replace(b) for b in current.values() if b.expires_at > now]
    return decision


def _binding_key(bindings: dict[str, Binding], uri: SipUri) -> str:
    """The stored contact ``uri`` matches by §19.1.4 URI equality (step 7), else its text."""
    text = str(uri)
    if text in bindings:
        return text
    return next((key for key in bindings if _same_uri(key, uri)), text)


def _same_uri(text: str, uri: SipUri) -> bool:
    try:
        return SipUri.parse(text) == uri
    except RemoteProtocolError:
        return False


def _expires_header(request: Request) -> int | None:
    value = request.headers.get("Expires")
    return None if value is None else int(cast(int, value))


def _check_star(contacts: list[HeaderValue], expires: int | None) -> None:
    """§10.3 step 6: ``Contact: *`` must stand alone, with ``Expires: 0``."""
    if len(contacts) != 1 or expires != 0:
        raise RemoteProtocolError("Contact * needs Expires: 0 and no other Contact")


def _expires_for(contact: NameAddr, header: int | None, low: int, high: int) -> int:
    raw = contact.params.get("expires")
    if raw is not None:
        if not raw.isdigit():
            raise RemoteProtocolError(f"Bad Contact expires parameter: {raw!r}")
        expires = int(raw)
    else:
        expires = header if header is not None else DEFAULT_EXPIRES
    if 0 < expires < low:
        raise IntervalTooBrief(low)
    return min(expires, high)


def _may_replace(binding: Binding, request: Request) -> bool:
    """§10.3 step 7: same Call-ID must bring a higher CSeq; another Call-ID always may."""
    return binding.call_id != request.call_id or request.cseq.number > binding.cseq


def _user_agent(request: Request) -> str | None:
    value = request.headers.get("User-Agent")
    return None if value is None else str(value)


class IntervalTooBrief(RemoteProtocolError):
    """423: the registration is shorter than we accept; the reply carries Min-Expires."""

    def __init__(self, min_expires: int) -> None:
        super().__init__("Interval Too Brief", 423)
        self.min_expires = min_expires
