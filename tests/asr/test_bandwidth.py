"""Bandwidth extension: streaming framing, where the added energy goes, and its effect."""

from __future__ import annotations

import numpy as np

from asr.audio import read_wav
from asr.bandwidth import BandwidthExtender, default_model
from media.codecs.resample import resample

from .conftest import SOUNDS


def extend(pcm16: np.ndarray, chunk: int) -> np.ndarray:
    ext = BandwidthExtender()
    parts = [ext.process(pcm16[i : i + chunk]) for i in range(0, len(pcm16), chunk)]
    return np.concatenate([*parts, ext.flush()])


def six() -> np.ndarray:
    return resample(read_wav(SOUNDS / "digits/6.wav"), 8000, 16000)


def test_output_is_the_input_plus_a_band_above_4khz_whatever_the_chunking() -> None:
    pcm = six()
    for chunk in (320, 37, 5000):
        out = extend(pcm, chunk)
        assert len(out) == len(pcm)
        added = out.astype(np.float64) - pcm
        power = np.abs(np.fft.rfft(added)) ** 2
        freqs = np.fft.rfftfreq(len(added), 1 / 16000)
        assert power[freqs < 3800].sum() < 1e-3 * power.sum()
        assert added.std() > 0.01 * pcm.std()


def test_the_fricative_of_six_gets_high_band_energy_silence_does_not() -> None:
    pcm = six()
    added = extend(pcm, 320).astype(np.float64) - pcm
    quiet = np.concatenate([np.zeros(8000, dtype=np.int16), pcm])
    lead = extend(quiet, 320)[:6000].astype(np.float64)
    assert np.abs(lead).max() < 2  # nothing synthesized from digital silence
    assert default_model().weights.shape[1] == 7
    assert added.std() > 30
