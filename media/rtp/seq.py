"""Wrap-around arithmetic for RTP sequence numbers (16 bits) and timestamps (32 bits).

RTP counters wrap: 65535 + 1 is 0 (RFC 3550 §5.1).  Comparisons use serial-number
arithmetic (RFC 1982): ``a`` is newer than ``b`` when it is less than half the counter
space ahead.  Extended values carry the wrap count in the upper bits (RFC 3550
Appendix A.1 keeps ``cycles``) so that later code can use plain integer arithmetic.
"""

from __future__ import annotations

SEQ_MOD = 1 << 16
TS_MOD = 1 << 32
_SEQ_HALF = SEQ_MOD >> 1
_TS_HALF = TS_MOD >> 1


def seq_diff(a: int, b: int) -> int:
    """Signed distance ``a - b`` of two sequence numbers, in ``[-32768, 32767]``."""
    return ((a - b + _SEQ_HALF) & 0xFFFF) - _SEQ_HALF


def seq_gt(a: int, b: int) -> bool:
    """True if sequence number ``a`` comes after ``b`` (modulo 2**16)."""
    return 0 < ((a - b) & 0xFFFF) < _SEQ_HALF


def seq_add(a: int, n: int) -> int:
    """Sequence number ``n`` steps after ``a`` (``n`` may be negative)."""
    return (a + n) & 0xFFFF


def ts_diff(a: int, b: int) -> int:
    """Signed distance ``a - b`` of two RTP timestamps, in ``[-2**31, 2**31 - 1]``."""
    return ((a - b + _TS_HALF) & 0xFFFFFFFF) - _TS_HALF


def ts_gt(a: int, b: int) -> bool:
    """True if RTP timestamp ``a`` comes after ``b`` (modulo 2**32)."""
    return 0 < ((a - b) & 0xFFFFFFFF) < _TS_HALF


def ts_add(a: int, n: int) -> int:
    """RTP timestamp ``n`` units after ``a`` (``n`` may be negative)."""
    return (a + n) & 0xFFFFFFFF


def extend_seq(seq: int, reference: int) -> int:
    """The extended sequence number of ``seq`` nearest to the extended ``reference``.

    ``reference`` is an already extended value (e.g. the highest seen, RFC 3550 A.1
    ``cycles + max_seq``); the result differs from it by at most 2**15, so a packet
    just before a wrap extends to the old cycle and one just after to the new cycle.
    """
    return reference + seq_diff(seq, reference & 0xFFFF)


def extend_ts(timestamp: int, reference: int) -> int:
    """The extended RTP timestamp of ``timestamp`` nearest to the extended ``reference``."""
    return reference + ts_diff(timestamp, reference & 0xFFFFFFFF)
