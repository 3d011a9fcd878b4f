"""G.711 checked exhaustively: all 65,536 int16 inputs, all 256 codes, three references.

References and what each one is:

* **ITU-T G.191 (STL) ``g711.c``** -- the ITU's reference software for G.711.
  ``_g191_ulaw_compress``/``_g191_alaw_compress`` below transcribe its
  ``ulaw_compress``/``alaw_compress`` loops sample by sample (scalar Python, a
  different formulation from the vectorised tables under test).  Our encoder is
  defined to be this one, and must match it on every input.
* **Python's ``audioop``** (3.11; removed in 3.13, so the tests skip without it)
  -- the Sun Microsystems ``g711.c`` (also in pjsip).  Same decoder.  Same A-law
  encoder.  Its mu-law encoder reduces negative samples to 14 bits as
  ``-(x >> 2)`` instead of G.191's one's complement ``~x >> 2``, so it disagrees
  with G.191 on 508 negative inputs, each by one quantisation step; equivalently
  ``ours(x) == audioop(~x) & 0x7F`` for every negative ``x``.
* **Debian's sox** (``sox -D``: dithering off, or sox adds TPDF dither when
  writing 8-bit G.711) -- libsox's tables are generated from the Sun code, so on
  exact 14/13-bit input they agree with the Sun encoder; but sox first *rounds*
  the 16-bit sample to 14 (mu) / 13 (A) bits, saturating at the top, instead of
  truncating.  It therefore disagrees with every truncating encoder at the
  inputs just below a decision level.  Decoding agrees with all others.

Which is right: G.711 defines the code for 14-/13-bit inputs; the reduction
from 16 bits is outside G.711.  G.191 truncates and takes negatives in one's
complement, which makes the quantiser exactly symmetric (``encode(~x) ==
encode(x) ^ 0x80``); over all 65,536 inputs its mean coding error is +0.5 (in
int16 units, half of the ``~x`` offset) with the lowest RMS error of the three,
while the Sun mu-law encoder is asymmetric with a -1.46 mean error and sox's
A-law a +4.44 mean error.  We follow G.191.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import numpy.typing as npt
import pytest

from media.codecs import (
    Codec,
    PcmaCodec,
    PcmuCodec,
    alaw_decode,
    alaw_encode,
    codec_names,
    get_codec,
    register_codec,
    ulaw_decode,
    ulaw_encode,
)

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))
NEGATIVE = ALL_INT16 < 0

LAWS = {
    "ulaw": (ulaw_encode, ulaw_decode, "u-law"),
    "alaw": (alaw_encode, alaw_decode, "a-law"),
}


def _codes(payload: bytes) -> npt.NDArray[np.uint8]:
    return np.frombuffer(payload, dtype=np.uint8)


# --- ITU-T G.191 transcription (STL g711.c, ulaw_compress / alaw_compress) ---


def _g191_ulaw_compress(x: int) -> int:
    absno = ((~x) >> 2) + 33 if x < 0 else (x >> 2) + 33
    absno = min(absno, 0x1FFF)
    i, segno = absno >> 6, 1
    while i:
        segno += 1
        i >>= 1
    code = ((8 - segno) << 4) | (15 - ((absno >> segno) & 0x0F))
    return code | 0x80 if x >= 0 else code


def _g191_alaw_compress(x: int) -> int:
    ix = (~x) >> 4 if x < 0 else x >> 4
    if ix > 15:
        iexp = 1
        while ix > 16 + 15:
            ix >>= 1
            iexp += 1
        ix = ix - 16 + (iexp << 4)
    if x >= 0:
        ix |= 0x80
    return ix ^ 0x55


G191 = {"ulaw": _g191_ulaw_compress, "alaw": _g191_alaw_compress}


# --- external references ---


@pytest.fixture(scope="module")
def audioop() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pytest.importorskip("audioop")


def _sox(*args: str | Path) -> None:
    subprocess.run(["sox", "-D", *map(str, args)], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def sox_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, bytes]]:
    """``{law: (encoding of ALL_INT16, decoding of ALL_CODES)}`` as written by sox."""
    assert shutil.which("sox"), "sox is not installed: `make test` installs Debian's sox"
    tmp = tmp_path_factory.mktemp("sox")
    linear, codes = tmp / "linear.raw", tmp / "codes.raw"
    linear.write_bytes(ALL_INT16.astype("<i2").tobytes())
    codes.write_bytes(ALL_CODES)
    pcm = ("-t", "raw", "-r", "8000", "-c", "1", "-e", "signed", "-b", "16", "-L")
    tables = {}
    for law, (_, _, encoding) in LAWS.items():
        g711 = ("-t", "raw", "-r", "8000", "-c", "1", "-e", encoding, "-b", "8")
        encoded, decoded = tmp / f"{law}.enc", tmp / f"{law}.dec"
        _sox(*pcm, linear, *g711, encoded)
        _sox(*g711, codes, *pcm, decoded)
        tables[law] = (encoded.read_bytes(), decoded.read_bytes())
    return tables


# --- decoding: every reference agrees on all 256 codes ---


@pytest.mark.parametrize("law", LAWS)
def test_decode_matches_sox(law: str, sox_tables: dict[str, tuple[bytes, bytes]]) -> None:
    expected = np.frombuffer(sox_tables[law][1], dtype="<i2")
    np.testing.assert_array_equal(LAWS[law][1](ALL_CODES), expected)


@pytest.mark.parametrize("law", LAWS)
def test_decode_matches_audioop(law: str, audioop: ModuleType) -> None:
    reference = audioop.ulaw2lin if law == "ulaw" else audioop.alaw2lin
    expected = np.frombuffer(reference(ALL_CODES, 2), dtype=np.int16)
    np.testing.assert_array_equal(LAWS[law][1](ALL_CODES), expected)


# --- encoding: all 65,536 inputs ---


@pytest.mark.parametrize("law", LAWS)
def test_encode_matches_g191(law: str) -> None:
    expected = np.array([G191[law](int(x)) for x in ALL_INT16], dtype=np.uint8)
    np.testing.assert_array_equal(_codes(LAWS[law][0](ALL_INT16)), expected)


def test_alaw_encode_matches_audioop(audioop: ModuleType) -> None:
    expected = _codes(audioop.lin2alaw(ALL_INT16.tobytes(), 2))
    np.testing.assert_array_equal(_codes(alaw_encode(ALL_INT16)), expected)


def test_ulaw_encode_matches_audioop_up_to_ones_complement(audioop: ModuleType) -> None:
    sun = _codes(audioop.lin2ulaw(ALL_INT16.tobytes(), 2))
    ours = _codes(ulaw_encode(ALL_INT16))
    np.testing.assert_array_equal(ours[~NEGATIVE], sun[~NEGATIVE])
    # audioop indexed at ~x (a non-negative sample, offset by 32768), sign bit cleared.
    mirrored = sun[(~ALL_INT16[NEGATIVE]).astype(np.int32) + 32768] & 0x7F
    np.testing.assert_array_equal(ours[NEGATIVE], mirrored)
    # The direct disagreement is small, negative-only and one step wide.
    differ = np.nonzero(ours != sun)[0]
    assert len(differ) == 508
    assert NEGATIVE[differ].all()
    assert (np.abs(ours[differ].astype(int) - sun[differ]) == 1).all()


def _sox_14_13_bit_value(law: str) -> npt.NDArray[np.int32]:
    """sox's reduction of each int16 to 14 (mu) or 13 (A) bits: round half up, saturate."""
    shift = 2 if law == "ulaw" else 3
    wide = ALL_INT16.astype(np.int32)
    return np.minimum((wide + (1 << (shift - 1))) >> shift, 32767 >> shift)


@pytest.mark.parametrize("law", LAWS)
def test_encode_matches_sox_table_on_exact_input(
    law: str, sox_tables: dict[str, tuple[bytes, bytes]]
) -> None:
    """On samples already at 14/13-bit precision sox's rounding is a no-op.

    For mu-law, sox (Sun) gives a negative 14-bit value ``v`` the magnitude
    ``-v``, which G.191 gives to the int16 ``~(-v << 2) == (v << 2) - 1``; for
    A-law both take negatives in one's complement.  Compared this way, the G.711
    tables of sox and ours agree at every (sign, magnitude).
    """
    shift = 2 if law == "ulaw" else 3
    sox = _codes(sox_tables[law][0])
    magnitude = np.arange(0, 32768 >> shift, dtype=np.int32) << shift  # all exact inputs
    positive = magnitude.astype(np.int16)
    negative = (-magnitude[1:]).astype(np.int16)
    encode = LAWS[law][0]
    np.testing.assert_array_equal(_codes(encode(positive)), sox[positive.astype(np.int32) + 32768])
    if law == "alaw":  # Sun's A-law already uses one's complement, like G.191
        ours_negative = _codes(encode(negative))
    else:
        # Sun mu-law reads -v as magnitude v; G.191 reads ~(v << 2), i.e. x - 1.
        ours_negative = _codes(encode((negative.astype(np.int32) - 1).astype(np.int16)))
    np.testing.assert_array_equal(ours_negative, sox[negative.astype(np.int32) + 32768])


@pytest.mark.parametrize("law", LAWS)
def test_encode_matches_sox_everywhere_after_its_rounding(
    law: str, sox_tables: dict[str, tuple[bytes, bytes]]
) -> None:
    """All 65,536 sox codes are ours applied to sox's rounded 14/13-bit value."""
    shift = 2 if law == "ulaw" else 3
    rounded = _sox_14_13_bit_value(law) << shift
    if law == "ulaw":  # Sun mu-law magnitude -v is G.191's at the int16 (v << 2) - 1
        rounded = np.where(rounded < 0, np.maximum(rounded - 1, -32768), rounded)
    ours = _codes(LAWS[law][0](rounded.astype(np.int16)))
    np.testing.assert_array_equal(ours, _codes(sox_tables[law][0]))


# --- properties and fixed points ---


@pytest.mark.parametrize("law", LAWS)
def test_encoder_is_ones_complement_symmetric(law: str) -> None:
    codes = _codes(LAWS[law][0](ALL_INT16))
    mirrored = _codes(LAWS[law][0](~ALL_INT16))
    np.testing.assert_array_equal(mirrored, codes ^ 0x80)


@pytest.mark.parametrize("law", LAWS)
def test_decoded_values_encode_back_to_their_code(law: str) -> None:
    encode, decode, _ = LAWS[law]
    again = _codes(encode(decode(ALL_CODES)))
    expected = _codes(ALL_CODES).copy()
    if law == "ulaw":
        expected[0x7F] = 0xFF  # mu-law has two zeros; the encoder emits +0
    np.testing.assert_array_equal(again, expected)


@pytest.mark.parametrize("law", LAWS)
def test_quantiser_is_monotonic_with_bounded_error(law: str) -> None:
    encode, decode, _ = LAWS[law]
    levels = decode(encode(ALL_INT16)).astype(np.int32)
    assert (np.diff(levels) >= 0).all()
    error = np.abs(levels - ALL_INT16)
    inside = np.abs(ALL_INT16.astype(np.int32)) <= decode(ALL_CODES).max()
    # The widest interval (top segment) is 1024 wide; beyond the top level inputs clip.
    assert error[inside].max() <= 512


# Values from ITU-T G.711 Tables 1a (A-law) and 2a (mu-law): the largest
# decoder outputs are 4032 (A, 13-bit) and 8031 (mu, 14-bit), times 8 and 4.
VECTORS = [
    ("ulaw", 0, 0xFF, 0),
    ("ulaw", -1, 0x7F, 0),
    ("ulaw", 32767, 0x80, 32124),
    ("ulaw", -32768, 0x00, -32124),
    ("alaw", 0, 0xD5, 8),
    ("alaw", -1, 0x55, -8),
    ("alaw", 32767, 0xAA, 32256),
    ("alaw", -32768, 0x2A, -32256),
]


@pytest.mark.parametrize(("law", "sample", "code", "decoded"), VECTORS)
def test_g711_table_vectors(law: str, sample: int, code: int, decoded: int) -> None:
    encode, decode, _ = LAWS[law]
    assert encode(np.array([sample], dtype=np.int16)) == bytes([code])
    assert decode(bytes([code]))[0] == decoded


# --- API details ---


@pytest.mark.parametrize("law", LAWS)
def test_frame_shapes_and_inputs(law: str) -> None:
    encode, decode, _ = LAWS[law]
    frame = (np.sin(np.arange(320) / 5) * 12000).astype(np.int16)
    strided = frame[::2]  # non-contiguous view: still one sample per byte
    assert encode(strided) == encode(strided.copy())
    assert len(encode(strided)) == 160
    assert encode(np.empty(0, dtype=np.int16)) == b""
    assert decode(b"").dtype == np.int16
    payload = encode(strided)
    for buffer in (payload, bytearray(payload), memoryview(payload)):
        decoded = decode(buffer)
        assert decoded.dtype == np.int16 and decoded.shape == (160,)


@pytest.mark.parametrize("law", LAWS)
def test_encode_refuses_other_dtypes(law: str) -> None:
    with pytest.raises(TypeError, match="int16"):
        LAWS[law][0](np.zeros(160, dtype=np.float32))


def test_decoded_arrays_are_private_copies() -> None:
    first = ulaw_decode(b"\x00\x01")
    first[:] = 0
    assert ulaw_decode(b"\x00\x01")[0] == -32124


# --- registry ---


@pytest.mark.parametrize(
    ("name", "kind", "payload_type"),
    [
        ("PCMU", PcmuCodec, 0),
        ("pcmu", PcmuCodec, 0),
        ("PCMA", PcmaCodec, 8),
        ("Pcma", PcmaCodec, 8),
    ],
)
def test_get_codec(name: str, kind: type[Codec], payload_type: int) -> None:
    codec = get_codec(name)
    assert isinstance(codec, kind)
    assert codec.payload_type == payload_type
    assert (codec.clock_rate, codec.sample_rate) == (8000, 8000)
    assert (codec.samples_per_frame, codec.timestamp_step) == (160, 160)
    frame = np.arange(-80, 80, dtype=np.int16) * 200
    payload = codec.encode(frame)
    assert len(payload) == codec.samples_per_frame
    assert codec.decode(payload).shape == frame.shape


def test_codecs_match_the_functions() -> None:
    frame = np.arange(-80, 80, dtype=np.int16) * 200
    assert get_codec("PCMU").encode(frame) == ulaw_encode(frame)
    assert get_codec("PCMA").encode(frame) == alaw_encode(frame)


def test_unknown_codec_is_a_key_error_naming_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"unknown codec 'G729'; known codecs: PCMA, PCMU"):
        get_codec("G729")


def test_registry_refuses_duplicates() -> None:
    assert {"PCMA", "PCMU"} <= set(codec_names())
    with pytest.raises(ValueError, match="already registered"):
        register_codec("pcmu", PcmuCodec)
