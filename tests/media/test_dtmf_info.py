"""SIP INFO DTMF bodies: ``application/dtmf-relay`` and ``application/dtmf``.

There is no RFC for either body.  The vectors follow what deployed equipment sends: Cisco
IOS and Asterisk ``Signal=5\\r\\nDuration=160\\r\\n`` (Duration in milliseconds), phones that
send ``signal= 5`` or bare LF line ends, and the single-key ``application/dtmf`` body.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.dtmf import DIGITS, DtmfDigit, DtmfError, parse_info
from media.dtmf.info import DEFAULT_DURATION_MS

RELAY = "application/dtmf-relay"
NOT_A_SIGNAL = "not a DTMF signal: {} (expected one of 0123456789*#ABCD)"


@pytest.mark.parametrize(
    ("content_type", "body", "digit", "duration"),
    [
        (RELAY, b"Signal=5\r\nDuration=160\r\n", "5", 160),
        (RELAY, b"Signal=*\r\nDuration=250\r\n", "*", 250),
        (RELAY, b"Signal=#\r\nDuration=100\r\n", "#", 100),
        (RELAY, b"Signal=A\r\nDuration=100\r\n", "A", 100),
        (RELAY, b"Signal=d\r\nDuration=100\r\n", "D", 100),
        (RELAY, b"signal= 1\nduration = 90\n", "1", 90),
        (RELAY, b"SIGNAL=0\r\nDURATION=0", "0", 0),
        (RELAY, b"Duration=120\r\nSignal=9\r\n", "9", 120),
        (RELAY, b"Signal=7\r\n", "7", DEFAULT_DURATION_MS),
        (RELAY, b"\r\nSignal=3\r\nDuration=80\r\nVolume=10\r\n\r\n", "3", 80),
        (RELAY, b"Signal=10\r\nDuration=100\r\n", "*", 100),  # RFC 4733 event codes
        (RELAY, b"Signal=11\r\nDuration=100\r\n", "#", 100),
        (RELAY, "Signal=8\r\nDuration=100\r\n", "8", 100),  # already decoded text
        ("Application/DTMF-Relay; charset=US-ASCII", b"Signal=2\r\nDuration=60\r\n", "2", 60),
        ("application/dtmf", b"5", "5", DEFAULT_DURATION_MS),
        ("application/dtmf", b" #\r\n", "#", DEFAULT_DURATION_MS),
        ("application/dtmf", b"b", "B", DEFAULT_DURATION_MS),
    ],
)
def test_valid_bodies(content_type: str, body: bytes | str, digit: str, duration: int) -> None:
    assert parse_info(content_type, body, 12.5) == DtmfDigit(digit, "info", duration, 12.5)


@pytest.mark.parametrize(
    ("content_type", "body", "message", "status"),
    [
        ("text/plain", b"Signal=5", "unsupported DTMF content type 'text/plain'", 415),
        ("", b"5", "unsupported DTMF content type ''", 415),
        (RELAY, b"", "dtmf-relay body has no Signal line", 400),
        (RELAY, b"Duration=160\r\n", "dtmf-relay body has no Signal line", 400),
        (RELAY, b"Signal=X\r\n", NOT_A_SIGNAL.format("'X'"), 400),
        (RELAY, b"Signal=16\r\n", NOT_A_SIGNAL.format("'16'"), 400),  # hook flash
        (RELAY, b"Signal=\r\n", NOT_A_SIGNAL.format("''"), 400),
        (RELAY, b"Signal=5\r\nSignal=6\r\n", "dtmf-relay body repeats Signal", 400),
        (RELAY, b"Signal 5\r\n", "dtmf-relay line is not key=value: 'Signal 5'", 400),
        (RELAY, b"=5\r\n", "dtmf-relay line is not key=value: '=5'", 400),
        (
            RELAY,
            b"Signal=5\r\nDuration=abc\r\n",
            "bad dtmf-relay Duration 'abc' (milliseconds expected)",
            400,
        ),
        (
            RELAY,
            b"Signal=5\r\nDuration=-5\r\n",
            "bad dtmf-relay Duration '-5' (milliseconds expected)",
            400,
        ),
        (
            RELAY,
            b"Signal=5\r\nDuration=9999999\r\n",
            "bad dtmf-relay Duration '9999999' (milliseconds expected)",
            400,
        ),
        (RELAY, b"Signal=5\r\nDuration=\xb2\r\n", "DTMF body is not ASCII (byte 19)", 400),
        (RELAY, b"Signal=5\r\n" + b" " * 1100, "DTMF body too long (1110 > 1024 bytes)", 400),
        ("application/dtmf", b"", NOT_A_SIGNAL.format("''"), 400),
        ("application/dtmf", b"55", NOT_A_SIGNAL.format("'55'"), 400),
    ],
)
def test_invalid_bodies(content_type: str, body: bytes, message: str, status: int) -> None:
    with pytest.raises(DtmfError) as info:
        parse_info(content_type, body, 0.0)
    assert (str(info.value), info.value.reason, info.value.status) == (message, message, status)


def test_unicode_digits_are_not_durations() -> None:
    with pytest.raises(
        DtmfError, match=r"^bad dtmf-relay Duration '١٢' \(milliseconds expected\)$"
    ):
        parse_info(RELAY, "Signal=5\nDuration=١٢", 0.0)


@given(st.binary(max_size=64))
def test_fuzz_bytes_parse_or_raise_dtmf_error(body: bytes) -> None:
    try:
        digit = parse_info(RELAY, body, 1.0)
    except DtmfError as exc:
        assert exc.status == 400
        return
    assert digit.digit in DIGITS and digit.duration_ms >= 0 and digit.source == "info"


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Signal", "signal", "Duration", "DURATION", "Volume", "x", ""]),
            st.sampled_from(["=", " = ", ":", ""]),
            st.text(alphabet="0123456789*#ABCDabcdx- \t", max_size=6),
        ),
        max_size=4,
    ),
    st.sampled_from(["\r\n", "\n"]),
)
def test_fuzz_relay_lines_parse_or_raise_dtmf_error(lines: list, newline: str) -> None:
    body = newline.join(key + sep + value for key, sep, value in lines)
    for content_type in (RELAY, "application/dtmf"):
        try:
            digit = parse_info(content_type, body, 1.0)
        except DtmfError:
            continue
        assert digit.digit in DIGITS and digit.duration_ms >= 0
