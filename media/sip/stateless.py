"""Replies to requests the parser refused (RFC 3261 §8.2, §16.3 spirit).

When a request is malformed we still owe the peer a response naming the fault
(``400 Bad CSeq header``), so its transaction ends instead of retransmitting
for 32 s.  The parser could not build a :class:`Request`, so the few headers a
response needs are copied as raw lines.  If even those are missing, nothing
can be answered and the datagram is dropped.
"""

from __future__ import annotations

import re

from .errors import RemoteProtocolError
from .ids import new_tag

_HEADER_LINE = re.compile(rb"^([A-Za-z][A-Za-z0-9.!%*_+`'~-]*)[ \t]*:(.*)$")
_NEEDED = {
    b"via": b"Via",
    b"v": b"Via",
    b"from": b"From",
    b"f": b"From",
    b"to": b"To",
    b"t": b"To",
    b"call-id": b"Call-ID",
    b"i": b"Call-ID",
    b"cseq": b"CSeq",
}
_REQUIRED = (b"Via", b"From", b"To", b"Call-ID", b"CSeq")


def error_response(data: bytes, error: RemoteProtocolError) -> bytes | None:
    """The wire bytes of a response to the malformed request ``data``, or None.

    None when ``data`` is a response (never answered), an ACK (§17.2.1 never
    answers an ACK), or lacks a header a response must copy.
    """
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    start = lines[0]
    if start.startswith(b"SIP/") or start.startswith(b"ACK ") or not start.strip():
        return None
    found: dict[bytes, list[bytes]] = {}
    for line in lines[1:]:
        match = _HEADER_LINE.match(line)
        if match is None:
            continue
        name = _NEEDED.get(match.group(1).lower())
        if name is not None:
            found.setdefault(name, []).append(match.group(2).strip())
    if any(name not in found for name in _REQUIRED):
        return None
    if b"tag=" not in found[b"To"][0].lower():
        found[b"To"][0] += b";tag=" + new_tag().encode()
    reason = _safe_reason(error.reason)
    out = [b"SIP/2.0 %d %s" % (error.status, reason)]
    for name in _REQUIRED:
        values = found[name] if name == b"Via" else found[name][:1]
        out.extend(name + b": " + value for value in values)
    out.append(b"Content-Length: 0")
    return b"\r\n".join(out) + b"\r\n\r\n"


def _safe_reason(reason: str) -> bytes:
    """A reason phrase cannot hold CR/LF; keep it short and printable."""
    text = " ".join(reason.split())[:120]
    return text.encode("utf-8", "replace")
