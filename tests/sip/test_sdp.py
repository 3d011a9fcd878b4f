"""Tests for media.sip.sdp: RFC 4566 parsing/serializing, RFC 3264 offer/answer, fuzz.

Vectors in ``data/sdp/``:

* ``rfc4317_*`` are RFC 4317 (SDP Offer/Answer Examples) descriptions, named
  ``rfc4317_<section>_<offer|answer|offer2>``: §2.1 Audio and Video 1, §2.2
  Audio and Video 2 (answer; its offer is the §2.1 offer), §2.4 Two Audio
  Streams, §2.6 Audio Only 1, §2.8 Audio and Video 6 (answer), §3.1 Hold and
  Unhold 1, §4.1 Second Audio Stream Added (second offer), §5.1 No Media
  (offer), §5.2 Hold and Unhold 2 (offer), §5.3 Hold and Unhold 3.  As RFC 4317
  §1 says, their ``s=`` line holds a single space.
* ``sipp_uac_offer`` is the offer of SIPp's built-in ``uac`` scenario with the
  defaults filled in (127.0.0.1, media port 6000).
* ``baresip_offer`` has the shape of a baresip offer (PCMU, PCMA,
  telephone-event 101 ``0-15``, ``a=rtcp``, ``a=ssrc``, ptime 20); values are ours.
* ``chromium_opus_offer`` is the audio part of a Chromium offer restricted to
  Opus (``UDP/TLS/RTP/SAVPF``, ICE, DTLS fingerprint); values are ours.

Files are stored with LF line ends; each ``*_invalid.sdp`` is its twin with
one defect, checked against the exact error message.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from media.sip.sdp import (
    Attribute,
    Connection,
    Direction,
    ExtraLine,
    LocalMedia,
    MediaDescription,
    NegotiatedMedia,
    NotAcceptable,
    RtpMap,
    SdpError,
    SdpUsageError,
    SessionDescription,
    Timing,
    answer,
    bump_version,
    make_offer,
    negotiate_answer,
    negotiated_from_offer,
)

DATA = Path(__file__).parent / "data" / "sdp"
VALID = sorted(p.name for p in DATA.glob("*.sdp") if not p.stem.endswith("_invalid"))
LOCAL = LocalMedia(address="192.0.2.10", port=40000, session_id=4242, session_version=1)


def load(name: str) -> str:
    """A data file's text, LF line ends as stored."""
    return (DATA / name).read_text(encoding="utf-8")


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def sdp(name: str) -> SessionDescription:
    return SessionDescription.parse(load(name))


def lines(text: str) -> str:
    """Build SDP text from an indented block, CRLF line ends."""
    return "".join(f"{line.strip()}\r\n" for line in text.strip().splitlines())


def offer_with(media: str, *, session: str = "c=IN IP4 198.51.100.7") -> SessionDescription:
    """A minimal offer around the given media section(s)."""
    head = f"v=0\no=peer 1 1 IN IP4 198.51.100.7\ns=-\n{session}\nt=0 0\n"
    return SessionDescription.parse(head + media)


# ---------------------------------------------------------------------------
# Parsing and serializing


@pytest.mark.parametrize("name", VALID)
def test_vector_round_trips_byte_exact(name: str) -> None:
    text = load(name)
    parsed = SessionDescription.parse(text)
    assert str(parsed) == crlf(text)
    assert bytes(parsed) == crlf(text).encode("utf-8")
    assert SessionDescription.parse(str(parsed)) == parsed


@pytest.mark.parametrize("name", VALID)
def test_vector_parses_the_same_from_lf_crlf_and_bytes(name: str) -> None:
    text = load(name)
    parsed = SessionDescription.parse(text)
    assert SessionDescription.parse(crlf(text)) == parsed
    assert SessionDescription.parse(crlf(text).encode("utf-8")) == parsed
    assert SessionDescription.parse(crlf(text) + "\r\n\r\n") == parsed  # trailing blank lines


def test_rfc4317_2_1_offer_model() -> None:
    # RFC 4317 §2.1 offer
    offer = sdp("rfc4317_2_1_offer.sdp")
    assert offer.version == 0
    assert offer.origin.username == "alice"
    assert offer.origin.sess_id == "2890844526"
    assert offer.origin.sess_version == 2890844526
    assert (offer.origin.nettype, offer.origin.addrtype) == ("IN", "IP4")
    assert offer.session_name == " "
    assert offer.connection == Connection("IN", "IP4", "host.atlanta.example.com")
    assert offer.timings == (Timing(0, 0),)
    audio, video = offer.media
    assert (audio.media, audio.port, audio.proto) == ("audio", 49170, "RTP/AVP")
    assert audio.formats == ("0", "8", "97")
    assert audio.payload_types == (0, 8, 97)
    assert audio.rtpmap == {
        0: RtpMap("PCMU", 8000, 1),
        8: RtpMap("PCMA", 8000, 1),
        97: RtpMap("iLBC", 8000, 1),
    }
    assert video.rtpmap[31] == RtpMap("H261", 90000, None)
    assert offer.effective_direction(audio) is Direction.SENDRECV
    assert offer.effective_connection(video) == offer.connection


def test_rfc4317_2_8_answer_media_connection_overrides_session() -> None:
    # RFC 4317 §2.8: video sent to a different host than audio
    answer_sdp = sdp("rfc4317_2_8_answer.sdp")
    audio, video = answer_sdp.media
    assert answer_sdp.effective_connection(audio) == answer_sdp.connection
    conn = answer_sdp.effective_connection(video)
    assert conn is not None
    assert conn.host == "otherhost.biloxi.example.com"


def test_rfc4317_5_1_offer_without_media() -> None:
    # RFC 4317 §5.1 offer: no m= lines at all
    assert sdp("rfc4317_5_1_offer.sdp").media == ()


def test_static_payload_types_without_rtpmap() -> None:
    offer = offer_with("m=audio 4000 RTP/AVP 0 8 18 9 13\n")
    media = offer.media[0]
    assert media.rtpmap == {}
    assert media.codec(0) == RtpMap("PCMU", 8000, 1)
    assert media.codec(8) == RtpMap("PCMA", 8000, 1)
    assert media.codec(18) == RtpMap("G729", 8000, 1)
    assert media.codec(9) == RtpMap("G722", 8000, 1)
    assert media.codec(13) == RtpMap("CN", 8000, 1)
    assert media.codec(96) is None


def test_explicit_rtpmap_wins_over_static_table() -> None:
    media = offer_with("m=audio 4000 RTP/AVP 0\na=rtpmap:0 opus/48000/2\n").media[0]
    assert media.codec(0) == RtpMap("opus", 48000, 2)


def test_baresip_offer_helpers() -> None:
    offer = sdp("baresip_offer.sdp")
    media = offer.media[0]
    assert media.fmtp == {101: "0-15"}
    assert media.ptime == 20
    assert media.maxptime is None
    assert media.direction is Direction.SENDRECV
    assert media.values("rtcp") == ["10205"]
    assert media.bandwidths[0].bwtype == "AS"
    assert media.bandwidths[0].bandwidth == 93
    assert Attribute("rtcp-rsize") in media.attributes


def test_chromium_attributes_kept_verbatim() -> None:
    offer = sdp("chromium_opus_offer.sdp")
    assert offer.attribute("msid-semantic") == " WMS 5c0d4c9e-6b1d-4c59-9c59-2bbd6e3b0a52"
    assert offer.attribute("group") == "BUNDLE 0"
    assert Attribute("extmap-allow-mixed") in offer.attributes
    media = offer.media[0]
    assert media.is_rtp
    assert media.codec(111) == RtpMap("opus", 48000, 2)
    conn = offer.effective_connection(media)
    assert conn is not None and conn.is_hold  # c=IN IP4 0.0.0.0 with ICE


def test_ipv6_connection_and_origin() -> None:
    text = lines(
        """
        v=0
        o=- 7 7 IN IP6 2001:db8::5
        s=-
        c=IN IP6 2001:db8::5
        t=0 0
        m=audio 5004 RTP/AVP 8
        """
    )
    parsed = SessionDescription.parse(text)
    assert parsed.connection == Connection("IN", "IP6", "2001:db8::5")
    assert parsed.origin.addrtype == "IP6"
    assert str(parsed) == text


def test_multicast_connection_host() -> None:
    conn = Connection("IN", "IP4", "224.2.36.42/127/3")
    assert conn.host == "224.2.36.42"
    assert not conn.is_hold


def test_direction_media_level_overrides_session_level() -> None:
    offer = offer_with(
        "m=audio 4000 RTP/AVP 0\nm=audio 4002 RTP/AVP 0\na=recvonly\n",
        session="c=IN IP4 198.51.100.7\na=sendonly",
    )
    # a= at session level must follow t=; offer_with puts it before t=, which we accept
    first, second = offer.media
    assert offer.direction is Direction.SENDONLY
    assert first.direction is None
    assert offer.effective_direction(first) is Direction.SENDONLY
    assert offer.effective_direction(second) is Direction.RECVONLY


def test_unknown_lines_and_attributes_round_trip() -> None:
    text = lines(
        """
        v=0
        o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5
        s=SDP Seminar
        i=A Seminar on the session description protocol
        u=http://www.example.com/seminars/sdp.pdf
        e=j.doe@example.com (Jane Doe)
        p=+1 617 555-6011
        c=IN IP4 224.2.17.12/127
        b=CT:128
        t=2873397496 2873404696
        r=7d 1h 0 25h
        z=2882844526 -1h 2898848070 0
        k=prompt
        y=unknown-type-letter
        a=recvonly
        a=x-vendor:with:colons and spaces
        m=audio 49170/2 RTP/AVP 0
        i=audio stream
        c=IN IP4 224.2.17.12/127
        b=AS:64
        k=clear:secret
        q=unknown in media
        a=x-flag
        a=empty-value:
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel
        c=IN IP4 0.0.0.0
        a=sctp-port:5000
        """
    )
    parsed = SessionDescription.parse(text)
    assert str(parsed) == text
    assert parsed.timings == (Timing(2873397496, 2873404696, ("7d 1h 0 25h",)),)
    assert ExtraLine("y", "unknown-type-letter") in parsed.extra_lines
    assert parsed.attribute("x-vendor") == "with:colons and spaces"
    audio, app = parsed.media
    assert audio.port_count == 2
    assert audio.extra_lines == (
        ExtraLine("i", "audio stream"),
        ExtraLine("k", "clear:secret"),
        ExtraLine("q", "unknown in media"),
    )
    assert Attribute("empty-value", "") in audio.attributes
    assert app.formats == ("webrtc-datachannel",)
    assert app.payload_types == ()


def test_out_of_order_lines_are_written_in_rfc_order() -> None:
    text = "v=0\no=- 1 1 IN IP4 h\ns=-\na=tool:x\nt=0 0\nc=IN IP4 h\ni=info\n"
    parsed = SessionDescription.parse(text)
    assert (
        str(parsed)
        == "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\ni=info\r\nc=IN IP4 h\r\nt=0 0\r\na=tool:x\r\n"
    )
    assert SessionDescription.parse(str(parsed)) == parsed


def test_extra_blanks_between_fields_are_tolerated() -> None:
    parsed = SessionDescription.parse("v=0\no=-  1\t1 IN IP4 h\ns=-\nt=0  0\nc=IN IP4 h\n")
    assert parsed.origin.sess_version == 1
    assert str(parsed).splitlines()[1] == "o=- 1 1 IN IP4 h"


def test_built_description_serializes() -> None:
    description = SessionDescription(
        origin=make_offer(LOCAL).origin,
        connection=Connection("IN", "IP4", "192.0.2.10"),
        media=(
            MediaDescription(
                media="audio",
                port=7078,
                proto="RTP/AVP",
                formats=("8",),
                attributes=(Attribute("rtpmap", "8 PCMA/8000"), Attribute("sendrecv")),
            ),
        ),
    )
    assert str(description) == lines(
        """
        v=0
        o=hotline 4242 1 IN IP4 192.0.2.10
        s=-
        c=IN IP4 192.0.2.10
        t=0 0
        m=audio 7078 RTP/AVP 8
        a=rtpmap:8 PCMA/8000
        a=sendrecv
        """
    )


# ---------------------------------------------------------------------------
# Malformed SDP: exact messages


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("sipp_uac_offer_invalid.sdp", 'line 6: m= port "abc" is not a number'),
        (
            "baresip_offer_invalid.sdp",
            'line 10: a=rtpmap "101 telephone-event" is not '
            "<payload type> <encoding>/<clock rate>[/<channels>]",
        ),
        ("chromium_opus_offer_invalid.sdp", 'line 8: m= payload type "128" is out of range'),
        (
            "rfc4317_2_1_offer_invalid.sdp",
            "line 2: o= needs <username> <sess-id> <sess-version> <nettype> <addrtype> "
            "<address>, got 5 fields",
        ),
    ],
)
def test_invalid_twin(name: str, message: str) -> None:
    assert (DATA / name.replace("_invalid", "")).exists()
    for data in (load(name), crlf(load(name)).encode("utf-8")):
        with pytest.raises(SdpError) as caught:
            SessionDescription.parse(data)
        assert str(caught.value) == message
        assert caught.value.status == 400


HEAD = "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 h\nt=0 0\n"

INVALID = [
    ("", "line 1: empty session description"),
    ("\r\n", "line 1: empty session description"),
    ("o=- 1 1 IN IP4 h\n", "line 1: expected v= line, got o="),
    ("v=1\no=- 1 1 IN IP4 h\ns=-\nt=0 0\n", 'line 1: unsupported SDP version "1"'),
    ("v=0\n", "line 2: expected o= line, got end of SDP"),
    ("v=0\ns=-\n", "line 2: expected o= line, got s="),
    ("v=0\no=- 1 1 IN IP4 h\nt=0 0\n", "line 3: expected s= line, got t="),
    ("v=0\no=- 1 x IN IP4 h\ns=-\nt=0 0\n", 'line 2: o= session version "x" is not a number'),
    (
        "v=0\no=- 1 99999999999999999999 IN IP4 h\ns=-\nt=0 0\n",
        'line 2: o= session version "99999999999999999999" is out of range',
    ),
    ("v=0\no=- 1 1 IN IP4 h\ns=-\n", "line 4: no t= line in the session section (RFC 4566 §5)"),
    (
        "v=0\no=- 1 1 IN IP4 h\ns=-\nm=audio 1 RTP/AVP 0\n",
        "line 4: no t= line in the session section (RFC 4566 §5)",
    ),
    (HEAD + "\nm=audio 4000 RTP/AVP 0\n", "line 6: empty line"),
    (HEAD + "x\n", 'line 6: expected <type>=<value>, got "x"'),
    (HEAD + "A=b\n", 'line 6: expected <type>=<value>, got "A=b"'),
    (HEAD + "a=x\rb\n", "line 6: stray CR or NUL character"),
    (HEAD + "a=x\x00\n", "line 6: stray CR or NUL character"),
    (HEAD + "c=IN IP4 h\n", "line 6: second session-level c= line"),
    (HEAD + "s=again\n", "line 6: second s= line"),
    (HEAD + "b=IN IP4\n", 'line 6: b= "IN IP4" is not <bwtype>:<bandwidth>'),
    (HEAD + "b=AS:lots\n", 'line 6: b= bandwidth "lots" is not a number'),
    (
        "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN\nt=0 0\n",
        "line 4: c= needs <nettype> <addrtype> <connection-address>, got 1 fields",
    ),
    ("v=0\no=- 1 1 IN IP4 h\ns=-\nr=7d 1h 0\nt=0 0\n", "line 4: r= line before any t= line"),
    (
        "v=0\no=- 1 1 IN IP4 h\ns=-\nt=0\n",
        "line 4: t= needs <start-time> <stop-time>, got 1 fields",
    ),
    ("v=0\no=- 1 1 IN IP4 h\ns=-\nt=now 0\n", 'line 4: t= start time "now" is not a number'),
    (HEAD + "a=\n", 'line 6: a= attribute name "" is not a token'),
    (HEAD + "a=bad name:1\n", 'line 6: a= attribute name "bad name" is not a token'),
    (HEAD + "m=audio 4000\n", "line 6: m= needs <media> <port> <proto> <fmt>..., got 2 fields"),
    (HEAD + "m=audio abc RTP/AVP 0\n", 'line 6: m= port "abc" is not a number'),
    (HEAD + "m=audio -1 RTP/AVP 0\n", 'line 6: m= port "-1" is not a number'),
    (HEAD + "m=audio 70000 RTP/AVP 0\n", 'line 6: m= port "70000" is out of range'),
    (
        HEAD + "m=audio \u0664\u0660\u0660\u0660 RTP/AVP 0\n",
        'line 6: m= port "\u0664\u0660\u0660\u0660" is not a number',
    ),
    (HEAD + "m=audio 4_000 RTP/AVP 0\n", 'line 6: m= port "4_000" is not a number'),
    (HEAD + "m=audio 4000/0 RTP/AVP 0\n", "line 6: m= port count must be at least 1"),
    (HEAD + "m=audio 4000/x RTP/AVP 0\n", 'line 6: m= port count "x" is not a number'),
    (HEAD + "m=audio 4000 RTP/AVP\n", "line 6: m= line has no formats"),
    (HEAD + "m=audio 4000 RTP/AVP PCMU\n", 'line 6: m= payload type "PCMU" is not a number'),
    (HEAD + "m=audio 4000 RTP/AVP 0\nt=0 0\n", "line 7: t= line is not allowed in a media section"),
    (
        HEAD + "m=audio 4000 RTP/AVP 0\nc=IN IP4 a\nc=IN IP4 b\n",
        "line 8: second c= line in a media section",
    ),
    (
        HEAD + "m=audio 4000 RTP/AVP 0\na=rtpmap:0 PCMU\n",
        'line 7: a=rtpmap "0 PCMU" is not <payload type> <encoding>/<clock rate>[/<channels>]',
    ),
    (
        HEAD + "m=audio 4000 RTP/AVP 0\na=rtpmap:0 PCMU/0\n",
        'line 7: a=rtpmap "0 PCMU/0" is not <payload type> <encoding>/<clock rate>[/<channels>]',
    ),
    (
        HEAD + "m=audio 4000 RTP/AVP 0\na=rtpmap\n",
        'line 7: a=rtpmap "" is not <payload type> <encoding>/<clock rate>[/<channels>]',
    ),
    (
        HEAD + "m=audio 4000 RTP/AVP 101\na=fmtp:x 0-15\n",
        'line 7: a=fmtp "x 0-15" is not <payload type> <parameters>',
    ),
    (
        HEAD + "m=audio 4000 RTP/AVP 0\na=ptime:twenty\n",
        'line 7: a=ptime value "twenty" is not a number',
    ),
    (HEAD + "m=audio 4000 RTP/AVP 0\na=maxptime\n", 'line 7: a=maxptime value "" is not a number'),
    (
        "v=0\no=- 1 1 IN IP4 h\ns=-\nt=0 0\nm=audio 4000 RTP/AVP 0\n",
        "line 5: m= stream has no c= line and the session has none",
    ),
    (
        HEAD + "a=" + "x" * 60 + " y\n",
        'line 6: a= attribute name "' + "x" * 37 + '..." is not a token',
    ),
]


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_invalid_message(text: str, message: str) -> None:
    with pytest.raises(SdpError) as caught:
        SessionDescription.parse(text)
    assert str(caught.value) == message


def test_invalid_utf8_bytes_name_the_line() -> None:
    with pytest.raises(SdpError, match=r"^line 3: not valid UTF-8 text$") as caught:
        SessionDescription.parse(b"v=0\r\no=- 1 1 IN IP4 h\r\ns=\xff\r\nt=0 0\r\n")
    assert caught.value.lineno == 3
    assert caught.value.reason == "not valid UTF-8 text"


def test_lone_surrogate_in_text_is_an_sdp_error() -> None:
    with pytest.raises(SdpError, match="line 3: not valid UTF-8"):
        SessionDescription.parse("v=0\no=- 1 1 IN IP4 h\ns=\ud800\nt=0 0\n")


def test_non_rtp_formats_are_not_payload_types() -> None:
    offer = offer_with("m=image 4000 udptl t38\nm=application 5000 TCP/BFCP *\n")
    assert [m.formats for m in offer.media] == [("t38",), ("*",)]
    assert offer.media[0].codec(0) is None


def test_rejected_stream_may_omit_formats_and_connection() -> None:
    parsed = SessionDescription.parse("v=0\no=- 1 1 IN IP4 h\ns=-\nt=0 0\nm=video 0 RTP/AVP\n")
    assert parsed.media[0].formats == ()


# ---------------------------------------------------------------------------
# Answering offers (RFC 3264 §6)


def test_answer_sipp_offer() -> None:
    offer = sdp("sipp_uac_offer.sdp")
    reply = answer(offer, LOCAL)
    assert str(reply) == lines(
        """
        v=0
        o=hotline 4242 1 IN IP4 192.0.2.10
        s=-
        c=IN IP4 192.0.2.10
        t=0 0
        m=audio 40000 RTP/AVP 0
        a=rtpmap:0 PCMU/8000
        a=ptime:20
        a=sendrecv
        """
    )
    media = negotiated_from_offer(offer, reply)
    assert media == NegotiatedMedia(
        remote_address="127.0.0.1",
        remote_port=6000,
        codec="PCMU",
        payload_type=0,
        clock_rate=8000,
        telephone_event_pt=None,
        ptime=20,
        local_direction=Direction.SENDRECV,
        remote_direction=Direction.SENDRECV,
        on_hold=False,
        local_payload_type=0,
        local_telephone_event_pt=None,
    )
    assert media.sending and media.receiving
    assert media.samples_per_packet == 160


def test_answer_baresip_offer_keeps_telephone_event_pt_and_fmtp() -> None:
    offer = sdp("baresip_offer.sdp")
    reply = answer(offer, LOCAL)
    assert reply.media[0].formats == ("0", "101")
    assert reply.media[0].attributes == (
        Attribute("rtpmap", "0 PCMU/8000"),
        Attribute("rtpmap", "101 telephone-event/8000"),
        Attribute("fmtp", "101 0-15"),
        Attribute("ptime", "20"),
        Attribute("sendrecv"),
    )
    media = negotiated_from_offer(offer, reply)
    assert (media.remote_address, media.remote_port) == ("192.168.1.20", 10204)
    assert media.telephone_event_pt == media.local_telephone_event_pt == 101
    assert media.ptime == 20


def test_answer_follows_the_offerers_codec_order() -> None:
    offer = offer_with("m=audio 4000 RTP/AVP 18 8 0 101\na=rtpmap:101 telephone-event/8000\n")
    reply = answer(offer, LOCAL)  # we prefer PCMU, the offerer prefers PCMA
    assert reply.media[0].formats == ("8", "101")
    assert "a=fmtp" not in str(reply)  # none offered, none invented
    assert negotiated_from_offer(offer, reply).codec == "PCMA"


def test_answer_keeps_the_offered_dynamic_event_pt() -> None:
    offer = offer_with(
        "m=audio 4000 RTP/AVP 8 96 97\n"
        "a=rtpmap:96 telephone-event/48000\n"
        "a=rtpmap:97 telephone-event/8000\n"
        "a=fmtp:97 0-16\n"
    )
    reply = answer(offer, LOCAL)
    assert reply.media[0].formats == ("8", "97")
    assert reply.media[0].fmtp == {97: "0-16"}


def test_answer_without_telephone_event_support() -> None:
    local = dataclasses.replace(LOCAL, telephone_event=False)
    reply = answer(sdp("baresip_offer.sdp"), local)
    assert reply.media[0].formats == ("0",)


def test_answer_codec_names_are_case_insensitive() -> None:
    offer = offer_with("m=audio 4000 RTP/AVP 100\na=rtpmap:100 pcma/8000\n")
    assert answer(offer, LOCAL).media[0].formats == ("100",)


def test_answer_rfc4317_2_1_rejects_video_with_port_0() -> None:
    # RFC 4317 §2.1 offer, answered by us: PCMU accepted, video refused
    reply = answer(sdp("rfc4317_2_1_offer.sdp"), LOCAL)
    audio, video = reply.media
    assert (audio.port, audio.formats) == (40000, ("0",))
    assert video == MediaDescription(media="video", port=0, proto="RTP/AVP", formats=("31", "32"))
    assert "m=video 0 RTP/AVP 31 32\r\n" in str(reply)


def test_answer_rfc4317_2_4_takes_one_audio_stream() -> None:
    # RFC 4317 §2.4 offer: codecs on one stream, telephone-event alone on another
    reply = answer(sdp("rfc4317_2_4_offer.sdp"), LOCAL)
    assert [(m.port, m.formats) for m in reply.media] == [(40000, ("0",)), (0, ("98",))]


def test_answer_rfc4317_2_6_accepts_first_usable_audio_stream() -> None:
    # RFC 4317 §2.6 offer: PCMU stream, then iLBC + telephone-event stream
    reply = answer(sdp("rfc4317_2_6_offer.sdp"), LOCAL)
    assert [(m.port, m.formats) for m in reply.media] == [(40000, ("0",)), (0, ("97", "101"))]


def test_answer_skips_a_disabled_audio_stream() -> None:
    offer = offer_with("m=audio 0 RTP/AVP 0\nm=audio 4002 RTP/AVP 8\n")
    reply = answer(offer, LOCAL)
    assert [(m.port, m.formats) for m in reply.media] == [(0, ("0",)), (40000, ("8",))]
    media = negotiated_from_offer(offer, reply)
    assert (media.stream_index, media.remote_port, media.codec) == (1, 4002, "PCMA")


def test_answer_video_and_audio_offer() -> None:
    offer = offer_with("m=video 5000 RTP/AVP 96\na=rtpmap:96 H264/90000\nm=audio 5002 RTP/AVP 0\n")
    reply = answer(offer, LOCAL)
    assert [(m.media, m.port) for m in reply.media] == [("video", 0), ("audio", 40000)]


def test_answer_refuses_srtp_audio() -> None:
    offer = offer_with("m=audio 4000 RTP/SAVP 0\nm=audio 4002 RTP/AVP 0\n")
    reply = answer(offer, LOCAL)
    assert [(m.proto, m.port) for m in reply.media] == [("RTP/SAVP", 0), ("RTP/AVP", 40000)]


def test_chromium_opus_offer_is_not_acceptable() -> None:
    with pytest.raises(NotAcceptable) as caught:
        answer(sdp("chromium_opus_offer.sdp"), LOCAL)
    error = caught.value
    assert isinstance(error, SdpError)
    assert error.status == 488
    assert error.warn_code == 305
    assert error.warning == '305 hotline "Incompatible media format"'
    assert str(error) == (
        "no common audio codec: offered UDP/TLS/RTP/SAVPF opus/48000; we take RTP/AVP PCMU PCMA"
    )


def test_video_only_offer_is_not_acceptable_with_304() -> None:
    offer = offer_with("m=video 5000 RTP/AVP 31\n")
    with pytest.raises(NotAcceptable) as caught:
        answer(offer, LOCAL)
    assert caught.value.warn_code == 304
    assert caught.value.warning == '304 hotline "Media type not available"'
    assert str(caught.value) == "no audio stream offered (active streams: video)"


def test_offer_without_media_is_not_acceptable() -> None:
    # RFC 4317 §5.1 offer: no media lines (3pcc); we have nothing to answer with
    with pytest.raises(NotAcceptable, match=r"active streams: none"):
        answer(sdp("rfc4317_5_1_offer.sdp"), LOCAL)


def test_ilbc_only_offer_is_not_acceptable() -> None:
    # RFC 4317 §5.2 offer (iLBC only, c=0.0.0.0)
    with pytest.raises(NotAcceptable, match=r"offered RTP/AVP iLBC/8000;"):
        answer(sdp("rfc4317_5_2_offer.sdp"), LOCAL)


@pytest.mark.parametrize(
    ("offered", "answered", "on_hold"),
    [
        ("sendrecv", Direction.SENDRECV, False),
        ("sendonly", Direction.RECVONLY, True),
        ("recvonly", Direction.SENDONLY, False),
        ("inactive", Direction.INACTIVE, True),
    ],
)
def test_answer_mirrors_direction(offered: str, answered: Direction, on_hold: bool) -> None:
    offer = offer_with(f"m=audio 4000 RTP/AVP 0\na={offered}\n")
    reply = answer(offer, LOCAL)
    assert reply.media[0].direction is answered
    media = negotiated_from_offer(offer, reply)
    assert media.local_direction is answered
    assert media.remote_direction is Direction(offered)
    assert media.on_hold is on_hold
    assert media.sending is answered.sends
    assert media.receiving is answered.receives


def test_session_level_direction_is_mirrored() -> None:
    offer = offer_with("m=audio 4000 RTP/AVP 0\n", session="c=IN IP4 198.51.100.7\na=sendonly")
    reply = answer(offer, LOCAL)
    assert reply.media[0].direction is Direction.RECVONLY
    assert negotiated_from_offer(offer, reply).on_hold


def test_old_style_hold_with_zero_address() -> None:
    # RFC 3264 §8.4 / RFC 4317 §5.2: c=0.0.0.0 means "send nothing to me"
    offer = offer_with("m=audio 23442 RTP/AVP 0\n", session="c=IN IP4 0.0.0.0")
    reply = answer(offer, LOCAL)
    assert reply.media[0].direction is Direction.RECVONLY
    media = negotiated_from_offer(offer, reply)
    assert media.on_hold
    assert media.remote_address == "0.0.0.0"
    assert not media.sending
    assert media.receiving


def test_unhold_after_hold() -> None:
    held = offer_with("m=audio 4000 RTP/AVP 0\na=sendonly\n")
    resumed = offer_with("m=audio 4000 RTP/AVP 0\na=sendrecv\n")
    assert negotiated_from_offer(held, answer(held, LOCAL)).on_hold
    assert not negotiated_from_offer(resumed, answer(resumed, LOCAL)).on_hold


@pytest.mark.parametrize(("offered", "chosen"), [("30", 30), ("10", 10), ("40", 20), (None, 20)])
def test_answer_mirrors_supported_ptime(offered: str | None, chosen: int) -> None:
    extra = "" if offered is None else f"a=ptime:{offered}\n"
    offer = offer_with("m=audio 4000 RTP/AVP 0\n" + extra)
    reply = answer(offer, LOCAL)
    assert reply.media[0].ptime == chosen
    assert negotiated_from_offer(offer, reply).ptime == chosen


def test_answer_in_ipv6() -> None:
    offer = offer_with("m=audio 4000 RTP/AVP 0\n", session="c=IN IP6 2001:db8::7")
    local = dataclasses.replace(LOCAL, address="2001:db8::10")
    reply = answer(offer, local)
    assert reply.connection == Connection("IN", "IP6", "2001:db8::10")
    assert reply.origin.addrtype == "IP6"
    assert negotiated_from_offer(offer, reply).remote_address == "2001:db8::7"


# ---------------------------------------------------------------------------
# Our offers and the peer's answers (RFC 3264 §5, §7, §8)


def test_make_offer() -> None:
    assert str(make_offer(LOCAL)) == lines(
        """
        v=0
        o=hotline 4242 1 IN IP4 192.0.2.10
        s=-
        c=IN IP4 192.0.2.10
        t=0 0
        m=audio 40000 RTP/AVP 0 8 101
        a=rtpmap:0 PCMU/8000
        a=rtpmap:8 PCMA/8000
        a=rtpmap:101 telephone-event/8000
        a=fmtp:101 0-16
        a=ptime:20
        a=sendrecv
        """
    )


def test_make_offer_for_hold_and_bump_version() -> None:
    first = make_offer(LOCAL)
    hold = bump_version(make_offer(LOCAL, direction="sendonly"))
    assert hold.origin.sess_version == first.origin.sess_version + 1
    assert hold.origin.sess_id == first.origin.sess_id
    assert hold.media[0].direction is Direction.SENDONLY
    assert "o=hotline 4242 2 IN IP4 192.0.2.10\r\n" in str(hold)


def test_make_offer_codec_preference_and_ptime() -> None:
    local = dataclasses.replace(LOCAL, codecs=("pcma",), ptime=30, telephone_event_pt=96)
    offer = make_offer(local)
    assert offer.media[0].formats == ("8", "96")
    assert offer.media[0].ptime == 30


def test_two_peers_in_memory() -> None:
    alice = LocalMedia(address="192.0.2.1", port=10000, codecs=("PCMA", "PCMU"))
    bob = LocalMedia(address="192.0.2.2", port=20000)
    offer = make_offer(alice)
    reply = answer(SessionDescription.parse(bytes(offer)), bob)
    at_alice = negotiate_answer(offer, SessionDescription.parse(bytes(reply)))
    at_bob = negotiated_from_offer(offer, reply)
    assert (at_alice.remote_address, at_alice.remote_port) == ("192.0.2.2", 20000)
    assert (at_bob.remote_address, at_bob.remote_port) == ("192.0.2.1", 10000)
    assert at_alice.codec == at_bob.codec == "PCMA"
    assert at_alice.telephone_event_pt == at_bob.telephone_event_pt == 101


def test_two_peers_hold_and_resume() -> None:
    alice = LocalMedia(address="192.0.2.1", port=10000)
    bob = LocalMedia(address="192.0.2.2", port=20000)
    hold = make_offer(alice, direction=Direction.SENDONLY)
    at_bob = negotiated_from_offer(hold, answer(hold, bob))
    at_alice = negotiate_answer(hold, answer(hold, bob))
    assert at_bob.on_hold and not at_bob.sending
    assert not at_alice.on_hold and at_alice.sending and not at_alice.receiving
    resume = bump_version(make_offer(alice))
    assert not negotiated_from_offer(resume, answer(resume, bob)).on_hold


def test_negotiate_sipp_style_answer() -> None:
    offer = make_offer(LOCAL)
    peer = SessionDescription.parse(
        "v=0\no=user1 1 2 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
        "m=audio 6000 RTP/AVP 8 96\na=rtpmap:96 telephone-event/8000\na=ptime:30\n"
    )
    media = negotiate_answer(offer, peer)
    assert (media.codec, media.payload_type, media.telephone_event_pt) == ("PCMA", 8, 96)
    assert media.local_telephone_event_pt == 101  # the peer sends DTMF with our number
    assert media.ptime == 30
    assert (media.local_direction, media.remote_direction) == (Direction.SENDRECV,) * 2


def test_negotiate_rfc4317_2_1() -> None:
    # RFC 4317 §2.1 offer and answer
    media = negotiate_answer(sdp("rfc4317_2_1_offer.sdp"), sdp("rfc4317_2_1_answer.sdp"))
    assert (media.remote_address, media.remote_port) == ("host.biloxi.example.com", 49174)
    assert (media.codec, media.payload_type, media.clock_rate) == ("PCMU", 0, 8000)
    assert media.telephone_event_pt is None
    assert not media.on_hold


def test_negotiate_rfc4317_2_2() -> None:
    # RFC 4317 §2.2: the §2.1 offer, answered with PCMU and PCMA, video refused
    media = negotiate_answer(sdp("rfc4317_2_1_offer.sdp"), sdp("rfc4317_2_2_answer.sdp"))
    assert (media.remote_port, media.codec) == (49172, "PCMU")


def test_negotiate_rfc4317_2_4() -> None:
    # RFC 4317 §2.4: iLBC on the first stream, events alone on the second
    media = negotiate_answer(sdp("rfc4317_2_4_offer.sdp"), sdp("rfc4317_2_4_answer.sdp"))
    assert (media.stream_index, media.codec, media.payload_type) == (0, "iLBC", 97)


def test_negotiate_rfc4317_2_6() -> None:
    # RFC 4317 §2.6: first stream refused, second (iLBC + events) accepted
    media = negotiate_answer(sdp("rfc4317_2_6_offer.sdp"), sdp("rfc4317_2_6_answer.sdp"))
    assert (media.stream_index, media.remote_port) == (1, 49170)
    assert (media.codec, media.payload_type, media.telephone_event_pt) == ("iLBC", 97, 101)


def test_negotiate_rfc4317_3_1_answer_holds_us() -> None:
    # RFC 4317 §3.1: Bob answers sendonly from a placeholder address
    media = negotiate_answer(sdp("rfc4317_3_1_offer.sdp"), sdp("rfc4317_3_1_answer.sdp"))
    assert media.remote_address == "placeholder.biloxi.example.com"
    assert media.remote_direction is Direction.SENDONLY
    assert media.on_hold
    assert not media.sending


def test_negotiate_rfc4317_5_3_black_holed_answer() -> None:
    # RFC 4317 §5.3: Bob answers with c=0.0.0.0
    media = negotiate_answer(sdp("rfc4317_5_3_offer.sdp"), sdp("rfc4317_5_3_answer.sdp"))
    assert media.on_hold
    assert not media.sending
    assert media.receiving


def test_rfc4317_4_1_second_offer_media_level_connection() -> None:
    # RFC 4317 §4.1 second offer: a recvonly telephone-event stream on another host
    offer = sdp("rfc4317_4_1_offer2.sdp")
    events = offer.media[1]
    conn = offer.effective_connection(events)
    assert conn is not None and conn.host == "mediaserver.biloxi.example.com"
    assert offer.effective_direction(events) is Direction.RECVONLY
    assert events.codec(98) == RtpMap("telephone-event", 8000, 1)


PEER_HEAD = "v=0\no=peer 1 1 IN IP4 198.51.100.9\ns=-\nc=IN IP4 198.51.100.9\nt=0 0\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "answer has 0 m= lines, the offer 1 (RFC 3264 §6)"),
        (
            "m=audio 5000 RTP/AVP 0\nm=video 0 RTP/AVP 31\n",
            "answer has 2 m= lines, the offer 1 (RFC 3264 §6)",
        ),
        ("m=video 5000 RTP/AVP 31\n", "m= line 1: answer media video for offered audio"),
        ("m=audio 5000 RTP/SAVP 0\n", "m= line 1: answer transport RTP/SAVP for offered RTP/AVP"),
        (
            "m=audio 5000 RTP/AVP 18\n",
            "m= line 1: answer codec G729/8000 was not offered (RFC 3264 §6.1)",
        ),
        ("m=audio 5000 RTP/AVP 96\n", "m= line 1: answer payload type 96 has no rtpmap"),
    ],
)
def test_negotiate_rejects_answers_that_do_not_fit(body: str, message: str) -> None:
    with pytest.raises(SdpError) as caught:
        negotiate_answer(make_offer(LOCAL), SessionDescription.parse(PEER_HEAD + body))
    assert str(caught.value) == message
    assert not isinstance(caught.value, NotAcceptable)


def test_negotiate_rejects_a_direction_the_offer_did_not_allow() -> None:
    offer = make_offer(LOCAL, direction="sendonly")
    peer = SessionDescription.parse(PEER_HEAD + "m=audio 5000 RTP/AVP 0\na=sendonly\n")
    with pytest.raises(SdpError, match=r"answer sendonly does not fit offered sendonly"):
        negotiate_answer(offer, peer)


def test_negotiate_rejects_reviving_a_disabled_stream() -> None:
    offer = offer_with("m=audio 0 RTP/AVP 0\nm=audio 4000 RTP/AVP 0\n")
    peer = SessionDescription.parse(PEER_HEAD + "m=audio 5000 RTP/AVP 0\nm=audio 5002 RTP/AVP 0\n")
    with pytest.raises(SdpError, match=r"m= line 1: answer accepts a stream offered with port 0"):
        negotiate_answer(offer, peer)


def test_negotiate_answer_refusing_everything_is_not_acceptable() -> None:
    peer = SessionDescription.parse(PEER_HEAD + "m=audio 0 RTP/AVP 0\n")
    with pytest.raises(NotAcceptable, match=r"the answer accepts no audio stream") as caught:
        negotiate_answer(make_offer(LOCAL), peer)
    assert caught.value.warn_code == 304


def test_negotiate_answer_without_rtpmap_for_an_offered_dynamic_pt() -> None:
    offer = offer_with("m=audio 4000 RTP/AVP 97\na=rtpmap:97 iLBC/8000\n")
    peer = SessionDescription.parse(PEER_HEAD + "m=audio 5000 RTP/AVP 97\n")
    media = negotiate_answer(offer, peer)
    assert (media.codec, media.payload_type) == ("iLBC", 97)


def test_negotiate_answer_with_renumbered_dynamic_pt() -> None:
    # RFC 4317 §2.3: the answer may use 99 for the iLBC offered as 97
    offer = offer_with("m=audio 4000 RTP/AVP 97\na=rtpmap:97 iLBC/8000\n")
    peer = SessionDescription.parse(PEER_HEAD + "m=audio 5000 RTP/AVP 99\na=rtpmap:99 iLBC/8000\n")
    at_offerer = negotiate_answer(offer, peer)
    assert (at_offerer.payload_type, at_offerer.local_payload_type) == (99, 97)
    at_answerer = negotiated_from_offer(offer, peer)
    assert (at_answerer.payload_type, at_answerer.local_payload_type) == (97, 99)


# ---------------------------------------------------------------------------
# Local misuse


@pytest.mark.parametrize(
    "changes",
    [
        {"port": 0},
        {"port": 70000},
        {"codecs": ()},
        {"codecs": ("opus",)},
        {"codecs": ("PCMU", "pcmu")},
        {"ptime": 25},
        {"telephone_event_pt": 8},
        {"address": ""},
        {"address": "192.0.2.1 "},
        {"username": "two words"},
        {"session_version": -1},
    ],
)
def test_local_media_validation(changes: dict[str, object]) -> None:
    with pytest.raises(SdpUsageError, match=r"^LocalMedia: "):
        dataclasses.replace(LOCAL, **changes)  # type: ignore[arg-type]


def test_make_offer_with_unknown_direction() -> None:
    with pytest.raises(SdpUsageError, match=r"unknown direction 'hold'"):
        make_offer(LOCAL, direction="hold")


def test_usage_error_is_not_a_peer_error() -> None:
    assert not issubclass(SdpUsageError, SdpError)


# ---------------------------------------------------------------------------
# Fuzz: parse, or raise SdpError - nothing else (STYLE.md principle 13)

CORPUS = [load(name) for name in VALID]
INTERESTING = [
    "",
    " ",
    "0",
    "-1",
    "127",
    "128",
    "65535",
    "65536",
    "99999999999999999999999",
    "abc",
    "0.0.0.0",
    "::",
    "IP6",
    "RTP/AVP",
    "RTP/SAVP",
    "telephone-event/8000",
    "PCMU/8000",
    "opus/48000/2",
    "sendonly",
    "recvonly",
    "inactive",
    "a=",
    "m=",
    ":",
    "/",
    "\r",
    "\x00",
    "\u0661",
    "\ud800",
    "é",
    "\t",
    "=",
]


def check_invariants(data: str | bytes) -> None:
    """Parse or SdpError; whatever parses round-trips and can be answered or refused."""
    try:
        parsed = SessionDescription.parse(data)
    except SdpError:
        return
    assert SessionDescription.parse(str(parsed)) == parsed
    assert SessionDescription.parse(bytes(parsed)) == parsed
    try:
        reply = answer(parsed, LOCAL)
    except NotAcceptable:
        return
    assert SessionDescription.parse(bytes(reply)) == reply
    media = negotiated_from_offer(parsed, reply)
    assert media.remote_port == parsed.media[media.stream_index].port
    assert negotiate_answer(parsed, reply).remote_port == LOCAL.port


@st.composite
def mutated_sdp(draw: st.DrawFn) -> str:
    """A valid vector with a few line- and character-level mutations."""
    sdp_lines = draw(st.sampled_from(CORPUS)).split("\n")
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(sdp_lines) - 1))
        line = sdp_lines[index]
        kind = draw(st.sampled_from(["drop", "dup", "swap", "char", "token", "cut"]))
        if kind == "drop":
            del sdp_lines[index]
        elif kind == "dup":
            sdp_lines.insert(index, line)
        elif kind == "swap":
            other = draw(st.integers(0, len(sdp_lines) - 1))
            sdp_lines[index], sdp_lines[other] = sdp_lines[other], line
        elif kind == "char":
            at = draw(st.integers(0, len(line)))
            sdp_lines[index] = line[:at] + draw(st.sampled_from(INTERESTING)) + line[at + 1 :]
        elif kind == "token":
            tokens = line.split(" ")
            tokens[draw(st.integers(0, len(tokens) - 1))] = draw(st.sampled_from(INTERESTING))
            sdp_lines[index] = " ".join(tokens)
        else:
            sdp_lines[index] = line[: draw(st.integers(0, len(line)))]
        if not sdp_lines:
            sdp_lines = [""]
    return draw(st.sampled_from(["\n", "\r\n"])).join(sdp_lines)


FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.text())
def test_fuzz_random_text(data: str) -> None:
    check_invariants(data)


@FUZZ
@given(st.binary())
def test_fuzz_random_bytes(data: bytes) -> None:
    check_invariants(data)


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            [
                *INTERESTING,
                "v=0",
                "o=- 1 1 IN IP4 h",
                "s=-",
                "t=0 0",
                "c=IN IP4 h",
                "m=audio 4000 RTP/AVP 0 8 101",
                "a=rtpmap:101 telephone-event/8000",
                "a=sendonly",
            ]
        ),
        max_size=12,
    )
)
def test_fuzz_line_soup(parts: list[str]) -> None:
    check_invariants("\n".join(parts))


@settings(FUZZ, max_examples=600)
@given(mutated_sdp())
def test_fuzz_mutated_vectors(data: str) -> None:
    check_invariants(data)
    check_invariants(data.encode("utf-8", "surrogatepass"))
