"""DTMF in SIP INFO bodies: ``application/dtmf-relay`` and ``application/dtmf``.

Neither has an RFC.  ``application/dtmf-relay`` is the de facto format of Cisco, Asterisk,
FreeSWITCH and most phones: ``Signal=5`` and ``Duration=160`` (milliseconds) lines, keys
in any case, values possibly padded with blanks.  ``application/dtmf`` carries the bare key.
Both are sent in an INFO request within the dialog (RFC 6086 leaves the packages to
vendors); the SIP layer answers 200, or the :attr:`DtmfError.status` on error.
"""

from __future__ import annotations

from .errors import DtmfError
from .events import DIGITS, DtmfDigit

__all__ = ["DEFAULT_DURATION_MS", "DTMF_CONTENT_TYPES", "parse_info"]

#: Duration reported when a ``dtmf-relay`` body has no ``Duration`` line, or for
#: ``application/dtmf`` (which has none): the common 100 ms key press.
DEFAULT_DURATION_MS = 100
#: Content types this module reads (parameters such as ``charset`` are ignored).
DTMF_CONTENT_TYPES = frozenset({"application/dtmf-relay", "application/dtmf"})

# A body is a line or two; anything longer is not DTMF and is not worth scanning.
_MAX_BODY = 1024
# Longer than any key press; larger values are more likely garbage than a stuck key.
_MAX_DURATION_MS = 600_000
# Some senders put the RFC 4733 event code in Signal (10 for *, 11 for #, 12-15 for A-D).
_SIGNALS = {**{d: d for d in DIGITS}, **{str(code): d for code, d in enumerate(DIGITS)}}


def parse_info(content_type: str, body: bytes | str, now: float) -> DtmfDigit:
    """The key press carried by an INFO body of ``content_type``, received at ``now``.

    Raises :class:`DtmfError` (status 415 for another content type, 400 for a body that
    names no valid key or carries a bad duration).
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in DTMF_CONTENT_TYPES:
        raise DtmfError(f"unsupported DTMF content type {media_type or content_type!r}", 415)
    text = _decode(body)
    if media_type == "application/dtmf":
        return DtmfDigit(_signal(text.strip()), "info", DEFAULT_DURATION_MS, now)
    signal, duration = _relay_fields(text)
    return DtmfDigit(signal, "info", duration, now)


def _decode(body: bytes | str) -> str:
    if len(body) > _MAX_BODY:
        raise DtmfError(f"DTMF body too long ({len(body)} > {_MAX_BODY} bytes)")
    if isinstance(body, str):
        return body
    try:
        return body.decode("ascii")
    except UnicodeDecodeError as exc:
        raise DtmfError(f"DTMF body is not ASCII (byte {exc.start})") from None


def _relay_fields(text: str) -> tuple[str, int]:
    """``Signal`` and ``Duration`` of a ``dtmf-relay`` body; other keys are ignored."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise DtmfError(f"dtmf-relay line is not key=value: {line.strip()[:40]!r}")
        if key in fields:
            raise DtmfError(f"dtmf-relay body repeats {key.capitalize()}")
        fields[key] = value.strip()
    if "signal" not in fields:
        raise DtmfError("dtmf-relay body has no Signal line")
    duration = fields.get("duration")
    return _signal(fields["signal"]), DEFAULT_DURATION_MS if duration is None else _ms(duration)


def _signal(value: str) -> str:
    digit = _SIGNALS.get(value.upper())
    if digit is None:
        raise DtmfError(f"not a DTMF signal: {value[:20]!r} (expected one of {DIGITS})")
    return digit


def _ms(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) > _MAX_DURATION_MS:
        raise DtmfError(f"bad dtmf-relay Duration {value[:20]!r} (milliseconds expected)")
    return int(value)
