"""The SDP parser (RFC 4566 §5): text or bytes in, ``SessionDescription`` out.

Strict about structure, lenient about spacing; every failure is an
``SdpError`` whose message starts with the line number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import NamedTuple

from media.sip.sdp._grammar import DIGITS, TOKEN, is_rtp, parse_fmtp, parse_ms, parse_rtpmap
from media.sip.sdp.session import (
    Attribute,
    Bandwidth,
    Connection,
    ExtraLine,
    MediaDescription,
    Origin,
    SdpError,
    SessionDescription,
    Timing,
)

_MAX_DIGITS = 20
_UINT64 = 2**64 - 1
_INT63 = 2**63 - 1  # RFC 3264 §5: sess-id and sess-version fit a signed 64-bit integer

# Canonical line order (RFC 4566 §5); unknown letters go just before the a= lines.
_SESSION_ORDER = {letter: rank for rank, letter in enumerate("iuepzk")}
_MEDIA_ORDER = {"i": 0, "k": 1}
_SESSION_ONLY = frozenset("vostruepz")


def _quote(text: str) -> str:
    return f'"{text}"' if len(text) <= 40 else f'"{text[:37]}..."'


def _number(text: str, what: str, lineno: int, maximum: int = _UINT64) -> int:
    """An ASCII decimal number (``int()`` alone would take "1_0" and non-ASCII digits)."""
    if DIGITS.fullmatch(text) is None:
        raise SdpError(f"{what} {_quote(text)} is not a number", lineno)
    if len(text) > _MAX_DIGITS or int(text) > maximum:
        raise SdpError(f"{what} {_quote(text)} is out of range", lineno)
    return int(text)


class _Line(NamedTuple):
    lineno: int
    letter: str
    value: str


def _split_lines(data: str | bytes) -> list[_Line]:
    """Split into ``<type>=<value>`` lines (RFC 4566 §5); CRLF or LF, trailing blanks ok."""
    pieces: Sequence[str | bytes] = (
        data.split(b"\n") if isinstance(data, bytes) else data.split("\n")
    )
    texts = [_decode(piece, n) for n, piece in enumerate(pieces, start=1)]
    while len(texts) > 1 and not texts[-1]:
        texts.pop()
    if texts == [""]:
        raise SdpError("empty session description", 1)
    return [_split_line(text, n) for n, text in enumerate(texts, start=1)]


def _decode(item: str | bytes, lineno: int) -> str:
    try:
        text = item.decode("utf-8") if isinstance(item, bytes) else item
        text.encode("utf-8")  # rejects lone surrogates in str input
    except UnicodeError:
        raise SdpError("not valid UTF-8 text", lineno) from None
    return text[:-1] if text.endswith("\r") else text


def _split_line(text: str, lineno: int) -> _Line:
    if not text:
        raise SdpError("empty line", lineno)
    if len(text) < 2 or text[1] != "=" or not "a" <= text[0] <= "z":
        raise SdpError(f"expected <type>=<value>, got {_quote(text)}", lineno)
    if "\r" in text or "\x00" in text:
        raise SdpError("stray CR or NUL character", lineno)
    return _Line(lineno, text[0], text[2:])


def parse(data: str | bytes) -> SessionDescription:
    """Parse an SDP body; raise ``SdpError`` naming the line at fault."""
    lines = _split_lines(data)
    origin, name = _preamble(lines)
    starts = [i for i, line in enumerate(lines) if line.letter == "m"]
    bounds = [*starts, len(lines)]
    session = _SessionBuilder(origin, name)
    for line in lines[3 : bounds[0]]:
        session.add(line)
    media = tuple(_parse_media(lines[a:b]) for a, b in pairwise(bounds))
    result = session.build(media, next_lineno=lines[bounds[0] - 1].lineno + 1)
    _check_connections(result, [lines[i].lineno for i in starts])
    return result


def _preamble(lines: list[_Line]) -> tuple[Origin, str]:
    """``v=0``, ``o=`` and ``s=`` must open the description, in that order (RFC 4566 §5)."""
    for index, letter in enumerate("vos"):
        if index >= len(lines) or lines[index].letter != letter:
            found = f"{lines[index].letter}=" if index < len(lines) else "end of SDP"
            raise SdpError(f"expected {letter}= line, got {found}", index + 1)
    if lines[0].value.strip() != "0":
        raise SdpError(f"unsupported SDP version {_quote(lines[0].value)}", 1)
    return _origin(lines[1]), lines[2].value


def _origin(line: _Line) -> Origin:
    fields = line.value.split()
    if len(fields) != 6:
        raise SdpError(
            "o= needs <username> <sess-id> <sess-version> <nettype> <addrtype> <address>, "
            f"got {len(fields)} fields",
            line.lineno,
        )
    version = _number(fields[2], "o= session version", line.lineno, _INT63)
    return Origin(fields[0], fields[1], version, fields[3], fields[4], fields[5])


def _connection(line: _Line) -> Connection:
    fields = line.value.split()
    if len(fields) != 3:
        raise SdpError(
            f"c= needs <nettype> <addrtype> <connection-address>, got {len(fields)} fields",
            line.lineno,
        )
    return Connection(*fields)


def _bandwidth(line: _Line) -> Bandwidth:
    bwtype, colon, amount = line.value.partition(":")
    if not colon or TOKEN.fullmatch(bwtype) is None:
        raise SdpError(f"b= {_quote(line.value)} is not <bwtype>:<bandwidth>", line.lineno)
    return Bandwidth(bwtype, _number(amount.strip(), "b= bandwidth", line.lineno))


def _timing(line: _Line) -> tuple[int, int]:
    fields = line.value.split()
    if len(fields) != 2:
        raise SdpError(f"t= needs <start-time> <stop-time>, got {len(fields)} fields", line.lineno)
    start = _number(fields[0], "t= start time", line.lineno)
    return start, _number(fields[1], "t= stop time", line.lineno)


def _attribute(line: _Line) -> Attribute:
    name, colon, value = line.value.partition(":")
    if TOKEN.fullmatch(name) is None:
        raise SdpError(f"a= attribute name {_quote(name)} is not a token", line.lineno)
    return Attribute(name, value if colon else None)


def _media_attribute(line: _Line, media: str, proto: str) -> Attribute:
    """An ``a=`` line of a media section; rtpmap/fmtp/ptime are checked here (RFC 4566 §6)."""
    attribute = _attribute(line)
    name, value = attribute
    if name in ("ptime", "maxptime") and parse_ms(value) is None:
        raise SdpError(f"a={name} value {_quote(value or '')} is not a number", line.lineno)
    audio = media == "audio"
    if name == "rtpmap" and is_rtp(proto) and parse_rtpmap(value or "", audio=audio) is None:
        raise SdpError(
            f"a=rtpmap {_quote(value or '')} is not "
            "<payload type> <encoding>/<clock rate>[/<channels>]",
            line.lineno,
        )
    if name == "fmtp" and is_rtp(proto) and parse_fmtp(value or "") is None:
        raise SdpError(
            f"a=fmtp {_quote(value or '')} is not <payload type> <parameters>", line.lineno
        )
    return attribute


def _extra(line: _Line) -> ExtraLine:
    return ExtraLine(line.letter, line.value)


def _sorted_extras(extras: list[ExtraLine], order: dict[str, int]) -> tuple[ExtraLine, ...]:
    """Stable sort into the canonical slots, so writing and re-reading gives equal objects."""
    return tuple(sorted(extras, key=lambda e: order.get(e.letter, len(order))))


@dataclass(slots=True)
class _SessionBuilder:
    """Collects the session-level lines after ``v= o= s=``."""

    origin: Origin
    name: str
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = field(default_factory=list)
    timings: list[tuple[int, int, list[str]]] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    extras: list[ExtraLine] = field(default_factory=list)

    def add(self, line: _Line) -> None:
        letter = line.letter
        if letter == "c":
            if self.connection is not None:
                raise SdpError("second session-level c= line", line.lineno)
            self.connection = _connection(line)
        elif letter == "b":
            self.bandwidths.append(_bandwidth(line))
        elif letter == "t":
            self.timings.append((*_timing(line), []))
        elif letter == "r":
            if not self.timings:
                raise SdpError("r= line before any t= line", line.lineno)
            self.timings[-1][2].append(line.value)
        elif letter == "a":
            self.attributes.append(_attribute(line))
        elif letter in "vos":
            raise SdpError(f"second {letter}= line", line.lineno)
        else:
            self.extras.append(_extra(line))

    def build(self, media: tuple[MediaDescription, ...], next_lineno: int) -> SessionDescription:
        if not self.timings:
            raise SdpError("no t= line in the session section (RFC 4566 §5)", next_lineno)
        return SessionDescription(
            origin=self.origin,
            session_name=self.name,
            connection=self.connection,
            bandwidths=tuple(self.bandwidths),
            timings=tuple(Timing(s, e, tuple(r)) for s, e, r in self.timings),
            attributes=tuple(self.attributes),
            media=media,
            extra_lines=_sorted_extras(self.extras, _SESSION_ORDER),
        )


def _media_head(line: _Line) -> tuple[str, int, int | None, str, tuple[str, ...]]:
    """``m=<media> <port>[/<number of ports>] <proto> <fmt> ...`` (RFC 4566 §5.14)."""
    fields = line.value.split()
    if len(fields) < 3:
        raise SdpError(
            f"m= needs <media> <port> <proto> <fmt>..., got {len(fields)} fields", line.lineno
        )
    media, port_text, proto, *formats = fields
    port_text, slash, count_text = port_text.partition("/")
    port = _number(port_text, "m= port", line.lineno, 65535)
    count = _number(count_text, "m= port count", line.lineno, 65535) if slash else None
    if count == 0:
        raise SdpError("m= port count must be at least 1", line.lineno)
    if not formats and port != 0:
        raise SdpError("m= line has no formats", line.lineno)
    if is_rtp(proto):
        for fmt in formats:
            _number(fmt, "m= payload type", line.lineno, 127)
    return media, port, count, proto, tuple(formats)


def _parse_media(lines: list[_Line]) -> MediaDescription:
    media, port, count, proto, formats = _media_head(lines[0])
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = []
    attributes: list[Attribute] = []
    extras: list[ExtraLine] = []
    for line in lines[1:]:
        if line.letter == "c":
            if connection is not None:
                raise SdpError("second c= line in a media section", line.lineno)
            connection = _connection(line)
        elif line.letter == "b":
            bandwidths.append(_bandwidth(line))
        elif line.letter == "a":
            attributes.append(_media_attribute(line, media, proto))
        elif line.letter in _SESSION_ONLY:
            raise SdpError(f"{line.letter}= line is not allowed in a media section", line.lineno)
        else:
            extras.append(_extra(line))
    return MediaDescription(
        media=media,
        port=port,
        proto=proto,
        formats=formats,
        port_count=count,
        connection=connection,
        bandwidths=tuple(bandwidths),
        attributes=tuple(attributes),
        extra_lines=_sorted_extras(extras, _MEDIA_ORDER),
    )


def _check_connections(sdp: SessionDescription, m_linenos: list[int]) -> None:
    """Every active stream needs a ``c=``, its own or the session's (RFC 4566 §5.7)."""
    for media, lineno in zip(sdp.media, m_linenos, strict=True):
        if media.port != 0 and sdp.effective_connection(media) is None:
            raise SdpError("m= stream has no c= line and the session has none", lineno)
