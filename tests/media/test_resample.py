"""Resampling: tones keep frequency and level, out-of-band tones are removed, streams match.

Signals are synthetic tones at integer frequencies; spectra are read from a
Hann-windowed FFT of the middle half second, away from the filter's start and
end transients.  Levels are relative to the tone's amplitude (dB).
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest
import soxr
from hypothesis import given, settings
from hypothesis import strategies as st

from media.codecs import StreamResampler, resample

Int16Array = npt.NDArray[np.int16]

AMPLITUDE = 8000.0
RATE_PAIRS = [(8000, 16000), (16000, 8000), (8000, 48000), (48000, 8000), (16000, 48000)]


def tone(freq: float, rate: int, seconds: float = 1.0, amplitude: float = AMPLITUDE) -> Int16Array:
    t = np.arange(int(rate * seconds)) / rate
    return np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def level_db(signal: Int16Array, rate: int, freq: float) -> float:
    """Level of the component at ``freq`` relative to AMPLITUDE, from the middle 0.5 s."""
    start = len(signal) // 2 - rate // 4
    segment = signal[start : start + rate // 2].astype(np.float64)
    window = np.hanning(len(segment))
    spectrum = np.abs(np.fft.rfft(segment * window)) / (window.sum() / 2)
    k = round(freq * len(segment) / rate)
    return float(20 * np.log10(spectrum[k - 1 : k + 2].max() / AMPLITUDE + 1e-12))


def peak_hz(signal: Int16Array, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal.astype(np.float64) * np.hanning(len(signal))))
    return float(np.argmax(spectrum) * rate / len(signal))


def stream(pcm: Int16Array, from_rate: int, to_rate: int, *, low_latency: bool) -> Int16Array:
    """Feed ``pcm`` in 20 ms frames, then flush."""
    resampler = StreamResampler(from_rate, to_rate, low_latency=low_latency)
    step = from_rate // 50
    parts = [resampler.process(pcm[i : i + step]) for i in range(0, len(pcm), step)]
    return np.concatenate([*parts, resampler.flush()])


def via(pcm: Int16Array, rates: tuple[int, ...], *, streaming: bool) -> Int16Array:
    for from_rate, to_rate in itertools.pairwise(rates):
        if streaming:
            pcm = stream(pcm, from_rate, to_rate, low_latency=True)
        else:
            pcm = resample(pcm, from_rate, to_rate)
    return pcm


@pytest.mark.parametrize("rates", [(8000, 16000, 8000), (8000, 48000, 8000)])
@pytest.mark.parametrize("streaming", [False, True])
def test_round_trip_keeps_frequency_and_level(rates: tuple[int, ...], streaming: bool) -> None:
    original = tone(1000, 8000)
    back = via(original, rates, streaming=streaming)
    assert len(back) == len(original)
    assert peak_hz(back, 8000) == pytest.approx(1000, abs=1)
    assert level_db(back, 8000, 1000) == pytest.approx(0, abs=0.01)
    middle = slice(2000, 6000)
    if not streaming:  # the one-shot path is time-aligned: the waveform itself survives
        residual = back[middle].astype(np.float64) - original[middle]
        assert np.sqrt(np.mean(residual**2)) < 1.0  # int16 rounding, twice


@pytest.mark.parametrize(("from_rate", "to_rate"), RATE_PAIRS)
def test_one_shot_keeps_tone_at_every_rate(from_rate: int, to_rate: int) -> None:
    out = resample(tone(1000, from_rate), from_rate, to_rate)
    assert len(out) == to_rate
    assert peak_hz(out, to_rate) == pytest.approx(1000, abs=1)
    assert level_db(out, to_rate, 1000) == pytest.approx(0, abs=0.01)


@pytest.mark.parametrize("low_latency", [None, True, False])  # None: one-shot
def test_anti_alias_filter_48k_to_8k(low_latency: bool | None) -> None:
    """1 kHz and 3.5 kHz pass; 4.5 kHz and 6 kHz, above the new 4 kHz Nyquist, go.

    Without the filter 6 kHz would fold to 2 kHz and 4.5 kHz to 3.5 kHz, so the
    two halves are tested apart: 3.5 kHz must pass, and must not appear from 4.5 kHz.
    """
    passband = tone(1000, 48000) + tone(3500, 48000) + tone(6000, 48000)
    stopband = tone(1000, 48000) + tone(4500, 48000)
    if low_latency is None:
        out_pass, out_stop = resample(passband, 48000, 8000), resample(stopband, 48000, 8000)
    else:
        out_pass = stream(passband, 48000, 8000, low_latency=low_latency)
        out_stop = stream(stopband, 48000, 8000, low_latency=low_latency)
    assert level_db(out_pass, 8000, 1000) == pytest.approx(0, abs=0.01)
    assert level_db(out_pass, 8000, 3500) == pytest.approx(0, abs=0.01)
    assert level_db(out_pass, 8000, 2000) < -90  # alias of 6 kHz; int16 noise is ~-100 dB
    assert level_db(out_stop, 8000, 3500) < -90  # alias of 4.5 kHz


@pytest.mark.parametrize(("from_rate", "to_rate"), [(8000, 16000), (8000, 48000)])
def test_upsampling_leaves_no_image(from_rate: int, to_rate: int) -> None:
    out = resample(tone(1000, from_rate), from_rate, to_rate)
    assert level_db(out, to_rate, from_rate - 1000) < -90  # the image of 1 kHz at 7 kHz


def noisy_tone(rate: int, seconds: float = 1.0) -> Int16Array:
    noise = np.random.default_rng(rate).normal(0, 2000, int(rate * seconds))
    return np.clip(tone(440, rate, seconds) + noise, -32768, 32767).astype(np.int16)


@pytest.mark.parametrize(("from_rate", "to_rate"), RATE_PAIRS)
def test_fixed_rate_stream_equals_one_shot(from_rate: int, to_rate: int) -> None:
    pcm = noisy_tone(from_rate)
    streamed = stream(pcm, from_rate, to_rate, low_latency=False)
    one_shot = resample(pcm, from_rate, to_rate)
    assert len(streamed) == len(one_shot)
    assert np.abs(streamed.astype(np.int32) - one_shot).max() <= 1


def _delay_ms(signal: Int16Array, reference: Int16Array, rate: int, freq: float) -> float:
    """Delay of ``signal`` behind ``reference`` from the phase of their ``freq`` bins."""
    middle = slice(len(signal) // 4, len(signal) // 4 + rate // 2)
    k = round(freq * (rate // 2) / rate)
    a = np.fft.rfft(signal[middle].astype(np.float64))[k]
    b = np.fft.rfft(reference[middle].astype(np.float64))[k]
    return float(-np.angle(a / b) / (2 * np.pi * freq) * 1000)


@pytest.mark.parametrize(("from_rate", "to_rate"), RATE_PAIRS)
def test_low_latency_stream_is_steady_and_matches_one_shot(from_rate: int, to_rate: int) -> None:
    pcm = tone(1000, from_rate)
    resampler = StreamResampler(from_rate, to_rate)
    step, out_step = from_rate // 50, to_rate // 50
    sizes = [len(resampler.process(pcm[i : i + step])) for i in range(0, len(pcm), step)]
    streamed = stream(pcm, from_rate, to_rate, low_latency=True)
    one_shot = resample(pcm, from_rate, to_rate)
    # After two frames of start-up, every 20 ms in gives 20 ms out.
    assert sum(sizes[:2]) < 2 * out_step
    assert set(sizes[2:]) == {out_step}
    assert len(streamed) == len(one_shot)
    assert level_db(streamed, to_rate, 1000) == pytest.approx(0, abs=0.01)
    assert abs(_delay_ms(streamed, one_shot, to_rate, 1000)) < 0.25


@pytest.mark.parametrize("low_latency", [True, False])
def test_flush_starts_a_fresh_stream(low_latency: bool) -> None:
    pcm = noisy_tone(8000, 0.5)
    resampler = StreamResampler(8000, 16000, low_latency=low_latency)
    runs = []
    for _ in range(2):
        parts = [resampler.process(pcm[i : i + 160]) for i in range(0, len(pcm), 160)]
        runs.append(np.concatenate([*parts, resampler.flush()]))
    np.testing.assert_array_equal(runs[0], runs[1])


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(0, 4000), max_size=12))
def test_fixed_rate_stream_ignores_how_input_is_cut(cuts: list[int]) -> None:
    pcm = noisy_tone(8000, 0.5)
    pieces = np.split(pcm, sorted(cuts))  # includes empty and odd-sized pieces
    resampler = StreamResampler(8000, 48000, low_latency=False)
    parts = [resampler.process(piece) for piece in pieces]
    streamed = np.concatenate([*parts, resampler.flush()])
    assert np.abs(streamed.astype(np.int32) - resample(pcm, 8000, 48000)).max() <= 1


def _float64_reference(pcm: Int16Array, from_rate: int, to_rate: int, vr: bool) -> np.ndarray:
    """The same libsoxr engine run in float64, before any rounding or clipping."""
    engine = soxr.ResampleStream(from_rate, to_rate, 1, dtype="float64", quality="HQ", vr=vr)
    wide = pcm.astype(np.float64)
    return np.concatenate([engine.resample_chunk(wide), engine.resample_chunk(wide[:0], last=True)])


@pytest.mark.parametrize(("from_rate", "to_rate"), [(8000, 48000), (48000, 8000)])
@pytest.mark.parametrize("low_latency", [None, True])  # None: one-shot
def test_overshoot_saturates_instead_of_wrapping(
    from_rate: int, to_rate: int, low_latency: bool | None
) -> None:
    """A full-scale square wave rings beyond the int16 range (Gibbs): it must clip."""
    square = np.where(tone(250, from_rate, 0.5) >= 0, 32767, -32768).astype(np.int16)
    if low_latency is None:
        out = resample(square, from_rate, to_rate)
    else:
        out = stream(square, from_rate, to_rate, low_latency=low_latency)
    ideal = _float64_reference(square, from_rate, to_rate, vr=bool(low_latency))
    assert ideal.max() > 32767.5 and ideal.min() < -32768.5  # the test needs overshoot
    expected = np.clip(np.rint(ideal), -32768, 32767)
    assert np.abs(out - expected).max() <= 1  # float32 vs float64 rounding only


@pytest.mark.parametrize("n", [0, 1, 7, 159, 160, 161, 12345])
@pytest.mark.parametrize(("from_rate", "to_rate"), [*RATE_PAIRS, (44100, 8000), (8000, 44100)])
def test_one_shot_length(n: int, from_rate: int, to_rate: int) -> None:
    pcm = np.zeros(n, dtype=np.int16)
    half_up = (2 * n * to_rate + from_rate) // (2 * from_rate)  # n * to / from, .5 rounds up
    assert len(resample(pcm, from_rate, to_rate)) == half_up


def test_same_rate_is_a_copy() -> None:
    pcm = tone(1000, 8000, 0.02)
    out = resample(pcm, 8000, 8000)
    np.testing.assert_array_equal(out, pcm)
    assert out is not pcm
    resampler = StreamResampler(16000, 16000)
    np.testing.assert_array_equal(resampler.process(pcm), pcm)
    assert len(resampler.flush()) == 0


def test_misuse_is_refused() -> None:
    with pytest.raises(TypeError, match="int16"):
        resample(np.zeros(160, dtype=np.float32), 8000, 16000)
    with pytest.raises(TypeError, match="1-D"):
        StreamResampler(8000, 16000).process(np.zeros((2, 160), dtype=np.int16))
    with pytest.raises(ValueError, match="positive"):
        StreamResampler(0, 16000)
    with pytest.raises(ValueError, match="positive"):
        resample(np.zeros(1, dtype=np.int16), 8000, -1)
