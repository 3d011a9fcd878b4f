"""Fuzzing the one invariant: parse, or raise RemoteProtocolError -- nothing else.

Inputs are random bytes and mutations (byte flips, insertions, deletions,
truncations, header-line duplication) of the RFC 4475 messages the parser
accepts.  Whatever parses must serialize to bytes that parse again.
"""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from media.sip.errors import RemoteProtocolError
from media.sip.message import Request, Response
from media.sip.parser import StreamParser, parse_message, parse_name_addr, parse_uri, parse_via

DATA = Path(__file__).parent / "data" / "rfc4475"
SEEDS = [
    (DATA / f"{name}.dat").read_bytes()
    for name in (
        "wsinv", "intmeth", "esc01", "escnull", "esc02", "lwsdisp", "longreq", "dblreq",
        "semiuri", "transports", "mpart01", "unreason", "noreason", "cparam01", "unksm2",
        "regescrt", "inv2543", "bcast",
    )
]  # fmt: skip
#: bytes that matter to the grammar, so mutations hit interesting paths often
SPECIAL = b'\r\n \t:;,<>"\\@%[]=/?*.&+\x00\xff\xc3'
SPECIAL_BYTES = [bytes([b]) for b in SPECIAL]
FUZZ = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] = draw(st.sampled_from(list(SPECIAL)) | st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(max_size=4) | st.sampled_from(SPECIAL_BYTES))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        elif op == "truncate":
            del data[pos:]
        else:
            _duplicate_a_line(data, pos)
    return bytes(data)


def _duplicate_a_line(data: bytearray, pos: int) -> None:
    start = data.rfind(b"\r\n", 0, pos) + 2 if b"\r\n" in data[:pos] else 0
    end = data.find(b"\r\n", pos)
    if end > start:
        data[end:end] = b"\r\n" + data[start:end]


def check_datagram(data: bytes) -> None:
    try:
        message = parse_message(data)
    except RemoteProtocolError:
        return
    assert isinstance(message, Request | Response)
    again = parse_message(bytes(message))  # what we send, we can read
    assert bytes(again) == bytes(message)


def check_stream(data: bytes, cuts: list[int]) -> None:
    parser = StreamParser()
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    for lo, hi in itertools.pairwise(bounds):
        parser.feed(data[lo:hi])
        while True:
            try:
                message = parser.next_message()
            except RemoteProtocolError:
                if parser.broken:
                    return
                continue
            if message is None:
                break
            assert isinstance(message, Request | Response)


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_datagram(data: bytes) -> None:
    check_datagram(data)


@FUZZ
@given(mutated())
def test_mutated_torture_messages_datagram(data: bytes) -> None:
    check_datagram(data)


@FUZZ
@given(mutated(), st.lists(st.integers(0, 4096), max_size=6))
def test_mutated_torture_messages_stream(data: bytes, cuts: list[int]) -> None:
    check_stream(data, cuts)


@FUZZ
@given(st.binary(max_size=1024), st.lists(st.integers(0, 1024), max_size=6))
def test_random_bytes_stream(data: bytes, cuts: list[int]) -> None:
    check_stream(b"\r\n\r\n" + data, cuts)


URI_ALPHABET = st.sampled_from(list("sip:tel+[]@;=?&%:/.,<> \"\\-_~*'()aA1z9F"))
URI_SEEDS = [
    "sip:alice:pw@[2001:db8::1]:5060;transport=tcp;lr?Subject=x&P=1",
    "sips:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com",
    "tel:+1-201-555-0123;phone-context=example.com",
    "sip:sips%3Auser%40example.com@example.net",
]


@st.composite
def uri_text(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(st.text(URI_ALPHABET, max_size=80))
    text = list(draw(st.sampled_from(URI_SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.integers(0, len(text)))
        text[pos:pos] = draw(st.text(URI_ALPHABET, max_size=3))
    return "".join(text)


@FUZZ
@given(uri_text() | st.text(max_size=100))
def test_parse_uri(text: str) -> None:
    try:
        uri = parse_uri(text)
    except RemoteProtocolError:
        return
    assert parse_uri(str(uri)) == uri


@FUZZ
@given(st.text(max_size=120) | uri_text())
def test_parse_name_addr_and_via(text: str) -> None:
    for parse in (parse_name_addr, parse_via):
        with contextlib.suppress(RemoteProtocolError):
            parse(text)
