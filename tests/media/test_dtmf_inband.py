"""In-band DTMF detection: synthetic ITU-T Q.23 digits against Q.24-style limits, and speech.

Synthetic digits are computed with numpy from the Q.23 frequencies.  Speech: Asterisk's
recorded English prompts (Debian package asterisk-core-sounds-en-wav, real human voices
recorded for telephony at 8 kHz) and espeak-ng's synthetic voices.  No digit may be found
in either.
"""

from __future__ import annotations

import subprocess
import warnings
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from media.dtmf import DIGITS, DtmfDigit, DtmfUsageError, InbandDetector
from media.dtmf.inband import COLUMN_HZ, KEYPAD, ROW_HZ

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # G.711 reference for one test; gone in Python 3.13

RATE = 8000
ZERO_DBM0_PEAK = 22_656.0  # mu-law: +3.17 dBm0 is full scale (G.711)
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en")


def tone(
    digit: str,
    ms: float,
    *,
    level_dbm0: float = -10.0,
    twist_db: float = 0.0,
    freq_error: tuple[float, float] = (0.0, 0.0),
    rate: int = RATE,
) -> npt.NDArray[np.float64]:
    """Row + column sines of ``digit``; ``twist_db`` = row level minus column level."""
    row = next(i for i, keys in enumerate(KEYPAD) if digit in keys)
    col = KEYPAD[row].index(digit)
    t = np.arange(round(ms * rate / 1000)) / rate
    row_amp = ZERO_DBM0_PEAK * 10 ** ((level_dbm0 + twist_db / 2) / 20)
    col_amp = ZERO_DBM0_PEAK * 10 ** ((level_dbm0 - twist_db / 2) / 20)
    f_row = ROW_HZ[row] * (1 + freq_error[0])
    f_col = COLUMN_HZ[col] * (1 + freq_error[1])
    return row_amp * np.sin(2 * np.pi * f_row * t + 0.3) + col_amp * np.sin(2 * np.pi * f_col * t)


def silence(ms: float, rate: int = RATE) -> npt.NDArray[np.float64]:
    return np.zeros(round(ms * rate / 1000))


def pcm(signal: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
    return np.clip(np.round(signal), -32768, 32767).astype(np.int16)


def detect(
    signal: npt.NDArray[np.float64] | npt.NDArray[np.int16],
    frame: int = 160,
    rate: int = RATE,
    sizes: list[int] | None = None,
) -> list[DtmfDigit]:
    """Feeds ``signal`` in frames (of ``frame`` samples, or cycling through ``sizes``)."""
    samples = signal.astype(np.int16) if signal.dtype == np.int16 else pcm(signal.astype(float))
    detector = InbandDetector(rate)
    digits: list[DtmfDigit] = []
    offset, i = 0, 0
    while offset < len(samples):
        size = sizes[i % len(sizes)] if sizes else frame
        digits += detector.feed(samples[offset : offset + size], offset / rate)
        offset, i = offset + size, i + 1
    return digits + detector.flush()


def keys(digits: list[DtmfDigit]) -> str:
    return "".join(d.digit for d in digits)


def padded(signal: npt.NDArray[np.float64], lead_ms: float = 100) -> npt.NDArray[np.float64]:
    return np.concatenate((silence(lead_ms), signal, silence(150)))


# -- what must be detected --------------------------------------------------------------------


@pytest.mark.parametrize("ms", [40, 60, 100, 500])
@pytest.mark.parametrize("lead_ms", [100, 102.5, 106.25, 108.75])  # onset across the 10 ms hop
def test_every_digit(ms: int, lead_ms: float) -> None:
    for digit in DIGITS:
        found = detect(padded(tone(digit, ms), lead_ms))
        assert keys(found) == digit, (digit, ms, lead_ms)
        (got,) = found
        assert got.source == "inband"
        assert abs(got.at - lead_ms / 1000) <= 0.01  # the detector's hop
        assert abs(got.duration_ms - ms) <= 10


@pytest.mark.parametrize("twist_db", [6.0, -3.0])
def test_twist_within_limits_is_accepted(twist_db: float) -> None:
    for digit in DIGITS:
        assert keys(detect(padded(tone(digit, 100, twist_db=twist_db)))) == digit


@pytest.mark.parametrize("twist_db", [10.0, -6.0])
def test_twist_beyond_limits_is_rejected(twist_db: float) -> None:
    for digit in DIGITS:
        assert detect(padded(tone(digit, 100, twist_db=twist_db))) == []


def test_noise_at_20_db_snr() -> None:
    rng = np.random.default_rng(4733)
    for digit in DIGITS:
        signal = padded(tone(digit, 60, level_dbm0=-20))
        on = signal != 0
        noise_power = np.mean(signal[on] ** 2) / 100  # 20 dB below the digit
        noisy = signal + rng.normal(0.0, np.sqrt(noise_power), len(signal))
        assert keys(detect(noisy)) == digit


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_g711_encode_decode(law: str) -> None:
    encode = {"ulaw": audioop.lin2ulaw, "alaw": audioop.lin2alaw}[law]
    decode = {"ulaw": audioop.ulaw2lin, "alaw": audioop.alaw2lin}[law]
    for level in (-30.0, -10.0, -3.0):
        for digit in DIGITS:
            signal = pcm(padded(tone(digit, 60, level_dbm0=level, twist_db=2)))
            coded = decode(encode(signal.tobytes(), 2), 2)
            assert keys(detect(np.frombuffer(coded, dtype=np.int16))) == digit


def test_digits_separated_by_40_ms_gaps() -> None:
    sequence = DIGITS + "1122##"
    signal = np.concatenate([np.concatenate((tone(d, 40), silence(40))) for d in sequence])
    assert keys(detect(padded(signal, 37.5))) == sequence


def test_frequency_within_tolerance() -> None:
    """Q.24: operate within +-1.5 % (both tones off, in either direction)."""
    for error in [(0.015, 0.015), (-0.015, -0.015), (0.015, -0.015), (-0.015, 0.015)]:
        for digit in DIGITS:
            assert keys(detect(padded(tone(digit, 60, freq_error=error)))) == digit


def test_levels_across_q24_range() -> None:
    for level in (-30.0, -20.0, -3.0):
        assert keys(detect(padded(tone("8", 60, level_dbm0=level)))) == "8"


def test_short_interruption_is_bridged() -> None:
    """Q.24: a break of 10 ms or less within a tone is not a pause."""
    signal = np.concatenate((tone("5", 100), silence(10), tone("5", 100)))
    (got,) = detect(padded(signal))
    assert (got.digit, got.duration_ms) == ("5", 210)


def test_long_press_is_one_digit() -> None:
    (got,) = detect(padded(tone("0", 3000)))
    assert (got.digit, got.duration_ms) == ("0", 3000)


def test_held_key_reported_on_flush() -> None:
    detector = InbandDetector()
    signal = pcm(tone("D", 200))
    assert detector.feed(signal[:160], 0.0) == []
    assert [keys(detector.feed(signal[i : i + 160], i / RATE)) for i in range(160, 1600, 160)]
    (got,) = detector.flush()
    assert (got.digit, got.duration_ms, got.at) == ("D", 200, 0.0)
    assert detector.flush() == []


def test_frame_sizes_do_not_matter() -> None:
    """Fed whole, sample by sample or in odd chunks, the stream gives the same digits."""
    signal = padded(np.concatenate([np.concatenate((tone(d, 60), silence(50))) for d in "95#"]))
    reference = detect(signal)
    assert keys(reference) == "95#"
    for sizes in ([1], [37, 80, 161], [len(signal)], [400, 3]):
        found = detect(signal, sizes=sizes)
        assert [(d.digit, d.duration_ms) for d in found] == [
            (d.digit, d.duration_ms) for d in reference
        ]
        assert [d.at for d in found] == pytest.approx([d.at for d in reference])


def test_wideband() -> None:
    signal = np.concatenate((silence(50, 16000), tone("7", 80, rate=16000), silence(150, 16000)))
    assert keys(detect(signal, frame=320, rate=16000)) == "7"


# -- what must not be detected ----------------------------------------------------------------


@pytest.mark.parametrize("lead_ms", [100, 101.25, 102.5, 103.75])
def test_20_ms_tone_is_too_short(lead_ms: float) -> None:
    for digit in DIGITS:
        assert detect(padded(tone(digit, 20), lead_ms)) == []


def test_frequency_beyond_tolerance() -> None:
    """Q.24: do not operate beyond +-3.5 %."""
    for error in [(0.035, 0.0), (0.0, -0.035), (-0.035, -0.035)]:
        for digit in DIGITS:
            assert detect(padded(tone(digit, 100, freq_error=error))) == [], (digit, error)


def test_too_quiet() -> None:
    assert detect(padded(tone("8", 100, level_dbm0=-45))) == []


def test_single_tones_are_not_digits() -> None:
    t = np.arange(800) / RATE
    for frequency in ROW_HZ + COLUMN_HZ:
        assert detect(padded(8000 * np.sin(2 * np.pi * frequency * t))) == []


def wav_samples(path: Path) -> npt.NDArray[np.int16]:
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (RATE, 2, 1), path
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


def false_digits(paths: list[Path]) -> tuple[list[tuple[str, DtmfDigit]], float]:
    """Digits found in the WAV files, and the seconds of audio checked."""
    found, seconds = [], 0.0
    for path in paths:
        samples = wav_samples(path)
        seconds += len(samples) / RATE
        found += [(path.name, digit) for digit in detect(samples)]
    return found, seconds


@pytest.mark.peer
def test_no_digits_in_recorded_speech(record_property: Callable[[str, object], None]) -> None:
    paths = sorted(ASTERISK_SOUNDS.rglob("*.wav"))
    found, seconds = false_digits(paths)
    record_property("speech_files", len(paths))
    record_property("speech_minutes", round(seconds / 60, 1))
    assert len(paths) > 300 and seconds > 20 * 60  # the whole package, not a stub
    assert found == []


@pytest.mark.peer
def test_no_digits_in_synthetic_speech(tmp_path: Path) -> None:
    text = (
        "Thank you for calling. Press one for orders, two for returns, or stay on the line. "
        "Your estimated wait time is four minutes. Please say or enter your account number."
    )
    paths = []
    for voice in ("en", "en-us+f3", "en+m3", "en-gb+f2"):
        raw, wav = tmp_path / f"{voice}.raw.wav", tmp_path / f"{voice}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
        subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(wav)], check=True)
        paths.append(wav)
    found, seconds = false_digits(paths)
    assert seconds > 30
    assert found == []


# -- misuse -------------------------------------------------------------------------------


def test_stereo_frame_is_refused() -> None:
    with pytest.raises(DtmfUsageError) as info:
        InbandDetector().feed(np.zeros((160, 2), dtype=np.int16), 0.0)
    assert str(info.value) == "expected a mono frame, got shape (160, 2)"


def test_unsupported_sample_rate() -> None:
    with pytest.raises(DtmfUsageError) as info:
        InbandDetector(44100)
    assert str(info.value) == "sample rate 44100 Hz unsupported (8000 or 16000)"
