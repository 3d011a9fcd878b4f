"""Sans-IO SDP for Hotline: RFC 4566 descriptions and RFC 3264 offer/answer.

``session`` parses and writes session descriptions; ``negotiation`` answers
offers, makes our own and reads the negotiated media out of an exchange.
"""

from __future__ import annotations

from media.sip.sdp.negotiation import (
    SUPPORTED_PTIMES,
    LocalMedia,
    NegotiatedMedia,
    NotAcceptable,
    answer,
    bump_version,
    make_offer,
    negotiate_answer,
    negotiated_from_offer,
)
from media.sip.sdp.session import (
    HOLD_ADDRESSES,
    STATIC_PAYLOAD_TYPES,
    Attribute,
    Bandwidth,
    Connection,
    Direction,
    ExtraLine,
    MediaDescription,
    Origin,
    RtpMap,
    SdpError,
    SdpUsageError,
    SessionDescription,
    Timing,
)

__all__ = [
    "HOLD_ADDRESSES",
    "STATIC_PAYLOAD_TYPES",
    "SUPPORTED_PTIMES",
    "Attribute",
    "Bandwidth",
    "Connection",
    "Direction",
    "ExtraLine",
    "LocalMedia",
    "MediaDescription",
    "NegotiatedMedia",
    "NotAcceptable",
    "Origin",
    "RtpMap",
    "SdpError",
    "SdpUsageError",
    "SessionDescription",
    "Timing",
    "answer",
    "bump_version",
    "make_offer",
    "negotiate_answer",
    "negotiated_from_offer",
]
