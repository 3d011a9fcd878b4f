"""SDP offer/answer (RFC 3264) for a G.711 telephony server. Sans-IO and pure.

``answer(offer, local)`` answers a peer's offer (RFC 3264 §6), ``make_offer``
writes our own (§5), ``negotiate_answer`` checks the peer's answer to it, and
``negotiated_from_offer`` reads the outcome after we answered.  Both end in a
``NegotiatedMedia``: where to send RTP, with which payload type, and whether
the peer holds the call.

Policy: one audio stream per call.  The first acceptable ``RTP/AVP`` audio
stream is taken; every other stream (video, a second audio stream, SRTP,
WebRTC's ``UDP/TLS/RTP/SAVPF``) is refused with port 0 (§6).  Among the
offered codecs the first one, in the offerer's order, that we support wins.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from media.sip.sdp.session import (
    HOLD_ADDRESSES,
    STATIC_PAYLOAD_TYPES,
    Attribute,
    Connection,
    Direction,
    MediaDescription,
    Origin,
    RtpMap,
    SdpError,
    SdpUsageError,
    SessionDescription,
)

__all__ = [
    "SUPPORTED_PTIMES",
    "LocalMedia",
    "NegotiatedMedia",
    "NotAcceptable",
    "answer",
    "bump_version",
    "make_offer",
    "negotiate_answer",
    "negotiated_from_offer",
]

#: Packetization times we can send and receive, in milliseconds.
SUPPORTED_PTIMES = frozenset({10, 20, 30})
TELEPHONE_EVENT = "telephone-event"
_CLOCK_RATE = 8000
_DEFAULT_PTIME = 20
_AUDIO_PROFILE = "RTP/AVP"
# Payload formats that travel beside a codec rather than being one.
_NOT_CODECS = frozenset({TELEPHONE_EVENT, "cn"})
# Static 8 kHz mono audio payload types by encoding name (RFC 3551 table 4).
_STATIC_AUDIO: dict[str, tuple[int, RtpMap]] = {}
for _pt, _codec in STATIC_PAYLOAD_TYPES.items():
    if _codec.clock_rate == _CLOCK_RATE and _codec.channels == 1:
        _STATIC_AUDIO.setdefault(_codec.encoding.upper(), (_pt, _codec))


class NotAcceptable(SdpError):
    """No offered stream is usable: answer 488 Not Acceptable Here (RFC 3261 §21.4.26).

    ``warn_code`` and ``warn_text`` are the Warning header's code and text
    (RFC 3261 §20.43: 304 "Media type not available", 305 "Incompatible media
    format"); ``warning`` is a ready header value with ``hotline`` as agent.
    """

    status = 488

    def __init__(
        self, reason: str, *, warn_code: int = 305, warn_text: str = "Incompatible media format"
    ) -> None:
        super().__init__(reason)
        self.warn_code = warn_code
        self.warn_text = warn_text
        self.warning = f'{warn_code} hotline "{warn_text}"'


@dataclass(frozen=True, slots=True)
class LocalMedia:
    """What we can do: our RTP address and port, codecs in our preference order.

    ``codecs`` name static 8 kHz payload types (RFC 3551), e.g. PCMU and PCMA.
    ``session_id``/``session_version`` fill our ``o=`` line; the caller keeps the
    id for the dialog and raises the version for each new offer (RFC 3264 §8).
    """

    address: str
    port: int
    codecs: tuple[str, ...] = ("PCMU", "PCMA")
    telephone_event: bool = True
    telephone_event_pt: int = 101
    telephone_event_fmtp: str = "0-16"
    ptime: int = _DEFAULT_PTIME
    session_id: int = 0
    session_version: int = 0
    username: str = "hotline"

    def __post_init__(self) -> None:
        problem = _local_problem(self)
        if problem is not None:
            raise SdpUsageError(f"LocalMedia: {problem}")

    @property
    def addrtype(self) -> str:
        """``IP6`` for an IPv6 address, else ``IP4``."""
        return "IP6" if ":" in self.address else "IP4"


def _local_problem(local: LocalMedia) -> str | None:
    unknown = [c for c in local.codecs if c.upper() not in _STATIC_AUDIO]
    checks = [
        (not local.address or any(ch.isspace() for ch in local.address), "bad address"),
        (not 1 <= local.port <= 65535, f"port {local.port} out of range"),
        (not local.codecs or bool(unknown), f"codecs must be static 8 kHz types: {unknown}"),
        (len({c.upper() for c in local.codecs}) != len(local.codecs), "duplicate codecs"),
        (not 96 <= local.telephone_event_pt <= 127, "telephone_event_pt must be 96-127"),
        (local.ptime not in SUPPORTED_PTIMES, f"ptime {local.ptime} not in 10/20/30"),
        (min(local.session_id, local.session_version) < 0, "negative session id/version"),
        (not local.username or any(ch.isspace() for ch in local.username), "bad username"),
    ]
    return next((message for failed, message in checks if failed), None)


@dataclass(frozen=True, slots=True)
class NegotiatedMedia:
    """The outcome of one offer/answer exchange, seen from our side.

    ``payload_type`` and ``telephone_event_pt`` are the numbers the peer
    listed, so the ones to send with; ``local_payload_type`` and
    ``local_telephone_event_pt`` are ours, the ones the peer sends with (RFC
    3264 §5.1, §6.1: a description names what its author receives; the two may
    differ for dynamic types, RFC 4317 §2.3).  ``ptime`` is the peer's wish
    when we support it.  ``on_hold``: the peer sends only, sends nothing,
    or asked for nothing to be sent to it (``c=0.0.0.0``, RFC 3264 §8.4).
    """

    remote_address: str
    remote_port: int
    codec: str
    payload_type: int
    clock_rate: int
    telephone_event_pt: int | None
    ptime: int
    local_direction: Direction
    remote_direction: Direction
    on_hold: bool
    local_payload_type: int
    local_telephone_event_pt: int | None
    stream_index: int = 0

    @property
    def sending(self) -> bool:
        """Whether we should send RTP now."""
        hold_address = self.remote_address in HOLD_ADDRESSES
        return self.local_direction.sends and self.remote_direction.receives and not hold_address

    @property
    def receiving(self) -> bool:
        """Whether the peer may send RTP to us now."""
        return self.local_direction.receives and self.remote_direction.sends

    @property
    def samples_per_packet(self) -> int:
        """RTP timestamp increment per packet (clock rate x ptime)."""
        return self.clock_rate * self.ptime // 1000


# ---------------------------------------------------------------------------
# Answering (RFC 3264 §6)


def answer(offer: SessionDescription, local: LocalMedia) -> SessionDescription:
    """Answer ``offer``: same m= lines in the same order, one audio stream accepted.

    Raises ``NotAcceptable`` (488) when no audio stream is usable.
    """
    streams: list[MediaDescription] = []
    accepted = False
    for media in offer.media:
        reply = None if accepted else _accept_audio(offer, media, local)
        accepted = accepted or reply is not None
        streams.append(reply if reply is not None else _refuse(media))
    if not accepted:
        raise _not_acceptable(offer, local)
    return _describe(local, tuple(streams))


def _accept_audio(
    offer: SessionDescription, media: MediaDescription, local: LocalMedia
) -> MediaDescription | None:
    """Our answer to one offered stream, or None to refuse it."""
    if media.port == 0 or media.media != "audio" or media.proto != _AUDIO_PROFILE:
        return None
    chosen = _first_supported(media, local)
    if chosen is None:
        return None
    pt, codec = chosen
    event = _event_pt(media, codec.clock_rate) if local.telephone_event else None
    events = {} if event is None else {event: media.fmtp.get(event)}
    ptime = media.ptime if media.ptime in SUPPORTED_PTIMES else local.ptime
    direction = _answer_direction(offer, media)
    return _audio_stream(local.port, [(pt, codec)], events, ptime, direction)


def _first_supported(media: MediaDescription, local: LocalMedia) -> tuple[int, RtpMap] | None:
    """The offerer's most preferred codec that we support (RFC 3264 §6.1)."""
    wanted = {name.upper() for name in local.codecs}
    for pt in media.payload_types:
        codec = media.codec(pt)
        if codec is not None and _is_supported(codec, wanted):
            return pt, codec
    return None


def _is_supported(codec: RtpMap, wanted: set[str]) -> bool:
    name = codec.encoding.upper()
    return (
        name in wanted
        and codec.clock_rate == _STATIC_AUDIO[name][1].clock_rate
        and codec.channels in (None, 1)
    )


def _event_pt(media: MediaDescription, clock_rate: int) -> int | None:
    """The telephone-event payload type at the codec's clock rate (RFC 4733 §7.1.1)."""
    event = (TELEPHONE_EVENT, clock_rate)
    for pt in media.payload_types:
        codec = media.codec(pt)
        if codec is not None and (codec.encoding.lower(), codec.clock_rate) == event:
            return pt
    return None


def _answer_direction(offer: SessionDescription, media: MediaDescription) -> Direction:
    """Mirror the offer (RFC 3264 §6.1); never send towards ``c=0.0.0.0`` (§8.4)."""
    offered = offer.effective_direction(media)
    connection = offer.effective_connection(media)
    if connection is not None and connection.is_hold:
        offered = Direction.from_flags(sends=offered.sends, receives=False)
    return offered.reverse()


def _refuse(media: MediaDescription) -> MediaDescription:
    """A refused stream: port 0, the offered formats (RFC 3264 §6)."""
    return MediaDescription(media=media.media, port=0, proto=media.proto, formats=media.formats)


def _not_acceptable(offer: SessionDescription, local: LocalMedia) -> NotAcceptable:
    audio = [m for m in offer.media if m.media == "audio" and m.port != 0]
    if not audio:
        kinds = ", ".join(m.media for m in offer.media if m.port != 0) or "none"
        return NotAcceptable(
            f"no audio stream offered (active streams: {kinds})",
            warn_code=304,
            warn_text="Media type not available",
        )
    offered = "; ".join(_summary(m) for m in audio)
    ours = " ".join(local.codecs)
    return NotAcceptable(
        f"no common audio codec: offered {offered}; we take {_AUDIO_PROFILE} {ours}"
    )


def _summary(media: MediaDescription, limit: int = 8) -> str:
    names = []
    for pt in media.payload_types[:limit]:
        codec = media.codec(pt)
        names.append(str(pt) if codec is None else f"{codec.encoding}/{codec.clock_rate}")
    more = " ..." if len(media.formats) > limit else ""
    return f"{media.proto} {' '.join(names) or ' '.join(media.formats[:limit])}{more}"


# ---------------------------------------------------------------------------
# Offering (RFC 3264 §5, §8)


def make_offer(
    local: LocalMedia, *, direction: Direction | str = Direction.SENDRECV
) -> SessionDescription:
    """Our offer: one audio stream with our codecs and telephone-event.

    Use ``direction="sendonly"`` to put the peer on hold (RFC 3264 §8.4), and a
    raised ``local.session_version`` (or ``bump_version``) for re-offers.
    """
    codecs = [_STATIC_AUDIO[name.upper()] for name in local.codecs]
    events: dict[int, str | None] = {}
    if local.telephone_event:
        events[local.telephone_event_pt] = local.telephone_event_fmtp
    stream = _audio_stream(local.port, codecs, events, local.ptime, _direction(direction))
    return _describe(local, (stream,))


def bump_version(sdp: SessionDescription) -> SessionDescription:
    """The same description with the ``o=`` version raised by one (RFC 3264 §8)."""
    origin = dataclasses.replace(sdp.origin, sess_version=sdp.origin.sess_version + 1)
    return dataclasses.replace(sdp, origin=origin)


def _direction(value: Direction | str) -> Direction:
    try:
        return Direction(value)
    except ValueError:
        raise SdpUsageError(f"unknown direction {value!r}") from None


def _audio_stream(
    port: int,
    codecs: Sequence[tuple[int, RtpMap]],
    events: dict[int, str | None],
    ptime: int,
    direction: Direction,
) -> MediaDescription:
    """An ``m=audio`` section with rtpmap lines, telephone-event, ptime and direction."""
    clock_rate = codecs[0][1].clock_rate
    formats = [str(pt) for pt, _ in codecs] + [str(pt) for pt in events]
    attributes = [Attribute("rtpmap", f"{pt} {c.encoding}/{c.clock_rate}") for pt, c in codecs]
    for pt, fmtp in events.items():
        attributes.append(Attribute("rtpmap", f"{pt} {TELEPHONE_EVENT}/{clock_rate}"))
        if fmtp is not None:
            attributes.append(Attribute("fmtp", f"{pt} {fmtp}"))
    attributes += [Attribute("ptime", str(ptime)), Attribute(direction.value)]
    return MediaDescription(
        media="audio",
        port=port,
        proto=_AUDIO_PROFILE,
        formats=tuple(formats),
        attributes=tuple(attributes),
    )


def _describe(local: LocalMedia, media: tuple[MediaDescription, ...]) -> SessionDescription:
    origin = Origin(
        local.username,
        str(local.session_id),
        local.session_version,
        "IN",
        local.addrtype,
        local.address,
    )
    connection = Connection("IN", local.addrtype, local.address)
    return SessionDescription(origin=origin, connection=connection, media=media)


# ---------------------------------------------------------------------------
# Reading the outcome (RFC 3264 §6.1, §7)

# RFC 3264 §6.1: what an answer may say for each offered direction.
_ALLOWED_ANSWERS: dict[Direction, frozenset[Direction]] = {
    Direction.SENDRECV: frozenset(Direction),
    Direction.SENDONLY: frozenset({Direction.RECVONLY, Direction.INACTIVE}),
    Direction.RECVONLY: frozenset({Direction.SENDONLY, Direction.INACTIVE}),
    Direction.INACTIVE: frozenset({Direction.INACTIVE}),
}


def negotiate_answer(offer: SessionDescription, answer: SessionDescription) -> NegotiatedMedia:
    """Accept the peer's ``answer`` to our ``offer`` (RFC 3264 §7).

    Raises ``SdpError`` when the answer does not fit the offer (m= line count,
    media types, a codec or direction the offer did not allow) and
    ``NotAcceptable`` when it refuses every audio stream.
    """
    return _negotiate(offer, answer, remote_offered=False)


def negotiated_from_offer(offer: SessionDescription, answer: SessionDescription) -> NegotiatedMedia:
    """The outcome after we sent ``answer`` to the peer's ``offer``."""
    return _negotiate(offer, answer, remote_offered=True)


def _negotiate(
    offer: SessionDescription, answer: SessionDescription, *, remote_offered: bool
) -> NegotiatedMedia:
    _check_shape(offer, answer)
    index, answer_pt, codec = _active_audio(offer, answer)
    offered, answered = offer.media[index], answer.media[index]
    _check_direction(
        offer.effective_direction(offered), answer.effective_direction(answered), index
    )
    offer_pt = _find_codec(offered, codec)
    if offer_pt is None:  # unreachable: _active_audio checked the offer lists the codec
        raise SdpError(f"m= line {index + 1}: codec {codec.encoding} missing from the offer")
    sides = _Side(offer, offered, offer_pt), _Side(answer, answered, answer_pt)
    remote, local = sides if remote_offered else sides[::-1]
    return _outcome(remote, local, codec, index)


@dataclass(frozen=True, slots=True)
class _Side:
    """One party's description, its chosen stream and its number for the codec."""

    sdp: SessionDescription
    media: MediaDescription
    payload_type: int

    @property
    def direction(self) -> Direction:
        return self.sdp.effective_direction(self.media)


def _outcome(remote: _Side, local: _Side, codec: RtpMap, index: int) -> NegotiatedMedia:
    connection = remote.sdp.effective_connection(remote.media)
    if connection is None:
        raise SdpError(f"m= line {index + 1}: no c= line for the stream")
    remote_event = _event_pt(remote.media, codec.clock_rate)
    local_event = _event_pt(local.media, codec.clock_rate)
    both_events = remote_event is not None and local_event is not None
    return NegotiatedMedia(
        remote_address=connection.host,
        remote_port=remote.media.port,
        codec=codec.encoding,
        payload_type=remote.payload_type,
        clock_rate=codec.clock_rate,
        telephone_event_pt=remote_event if both_events else None,
        ptime=_ptime(remote.media, local.media),
        local_direction=local.direction,
        remote_direction=remote.direction,
        on_hold=connection.is_hold or not remote.direction.receives,
        stream_index=index,
        local_payload_type=local.payload_type,
        local_telephone_event_pt=local_event if both_events else None,
    )


def _check_shape(offer: SessionDescription, answer: SessionDescription) -> None:
    """Same m= lines, same media types, no stream revived (RFC 3264 §6)."""
    if len(answer.media) != len(offer.media):
        raise SdpError(
            f"answer has {len(answer.media)} m= lines, the offer {len(offer.media)} (RFC 3264 §6)"
        )
    for number, (o, a) in enumerate(zip(offer.media, answer.media, strict=True), start=1):
        if a.media != o.media:
            raise SdpError(f"m= line {number}: answer media {a.media} for offered {o.media}")
        if o.port == 0 and a.port != 0:
            raise SdpError(f"m= line {number}: answer accepts a stream offered with port 0")
        if a.port != 0 and a.proto != o.proto:
            raise SdpError(f"m= line {number}: answer transport {a.proto} for offered {o.proto}")


def _active_audio(offer: SessionDescription, answer: SessionDescription) -> tuple[int, int, RtpMap]:
    """The first audio stream both sides kept: index, answer payload type, codec."""
    for index, (o, a) in enumerate(zip(offer.media, answer.media, strict=True)):
        if o.media == "audio" and o.is_rtp and o.port != 0 and a.port != 0:
            chosen = _answer_codec(o, a, index + 1)
            if chosen is not None:
                return index, *chosen
    raise NotAcceptable(
        "the answer accepts no audio stream", warn_code=304, warn_text="Media type not available"
    )


def _answer_codec(
    offered: MediaDescription, answered: MediaDescription, number: int
) -> tuple[int, RtpMap] | None:
    """The answer's first codec, which must be one the offer listed (RFC 3264 §6.1)."""
    for pt in answered.payload_types:
        codec = answered.codec(pt) or offered.codec(pt)
        if codec is None:
            raise SdpError(f"m= line {number}: answer payload type {pt} has no rtpmap")
        if codec.encoding.lower() in _NOT_CODECS:
            continue
        if _find_codec(offered, codec) is None:
            raise SdpError(
                f"m= line {number}: answer codec {codec.encoding}/{codec.clock_rate} "
                "was not offered (RFC 3264 §6.1)"
            )
        return pt, codec
    return None


def _find_codec(media: MediaDescription, codec: RtpMap) -> int | None:
    """The payload type ``media`` uses for ``codec`` (name, clock rate and channels)."""
    for pt in media.payload_types:
        candidate = media.codec(pt)
        if candidate is not None and _same_codec(candidate, codec):
            return pt
    return None


def _same_codec(a: RtpMap, b: RtpMap) -> bool:
    return (
        a.encoding.lower() == b.encoding.lower()
        and a.clock_rate == b.clock_rate
        and (a.channels or 1) == (b.channels or 1)
    )


def _check_direction(offered: Direction, answered: Direction, index: int) -> None:
    if answered not in _ALLOWED_ANSWERS[offered]:
        raise SdpError(
            f"m= line {index + 1}: answer {answered} does not fit offered {offered} (RFC 3264 §6.1)"
        )


def _ptime(remote: MediaDescription, local: MediaDescription) -> int:
    """The peer's ptime if we support it, else ours, else 20 ms."""
    for ptime in (remote.ptime, local.ptime):
        if ptime is not None and ptime in SUPPORTED_PTIMES:
            return ptime
    return _DEFAULT_PTIME
