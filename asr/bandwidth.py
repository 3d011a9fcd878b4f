"""Artificial bandwidth extension: give upsampled telephone speech a plausible 4-8 kHz band.

The bundled pocketsphinx model is wideband (25 mel filters up to 6800 Hz). Telephone audio
upsampled to 16 kHz leaves about six of those filters empty, and the log of an empty band
swamps the cepstrum: fricatives vanish ("six" is heard as nothing). We predict the missing
band's spectral envelope from the 0-4 kHz envelope of the same and neighbouring frames
(a ridge regression fitted on wideband speech by ``asr/tools/train_bandwidth.py``, the
coefficients in ``bandwidth.json``) and add noise shaped to it, leaving the telephone band
itself untouched. Streaming, numpy only, ~20 ms of delay.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

RATE = 16000
NFFT = 512
WIN = 480  # a Hann window of 3 hops: its squares overlap-add to a constant
HOP = 160
CONTEXT = 2  # frames either side of the predicted one that the regression sees
LOW_BANDS = (200.0, 3700.0, 18)  # mel bands of the telephone band (the regression input)
HIGH_EDGES = (3900.0, 4300.0, 4750.0, 5250.0, 5800.0, 6400.0, 7100.0, 7900.0)
COEFFS = Path(__file__).with_name("bandwidth.json")
_FLOOR = 1e-3


def _mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def _imel(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


@lru_cache(maxsize=1)
def low_filters() -> np.ndarray:
    """Triangular mel filters over the telephone band, shape (bands, NFFT // 2 + 1)."""
    lo, hi, n = LOW_BANDS
    edges = _imel(np.linspace(_mel(lo), _mel(hi), int(n) + 2))
    freqs = np.arange(NFFT // 2 + 1) * RATE / NFFT
    bank = np.zeros((int(n), len(freqs)))
    for i in range(int(n)):
        left, centre, right = edges[i : i + 3]
        up = (freqs - left) / (centre - left)
        down = (right - freqs) / (right - centre)
        bank[i] = np.clip(np.minimum(up, down), 0.0, None)
    return bank / bank.sum(axis=1, keepdims=True)


@lru_cache(maxsize=1)
def high_bins() -> list[np.ndarray]:
    """The FFT bins of each high band."""
    freqs = np.arange(NFFT // 2 + 1) * RATE / NFFT
    return [np.nonzero((freqs >= a) & (freqs < b))[0] for a, b in itertools.pairwise(HIGH_EDGES)]


@lru_cache(maxsize=1)
def window() -> np.ndarray:
    return np.hanning(WIN + 1)[:WIN]


def spectra(pcm: np.ndarray) -> np.ndarray:
    """Power spectra of the frames of ``pcm`` (float), shape (frames, NFFT // 2 + 1)."""
    if len(pcm) < WIN:
        return np.zeros((0, NFFT // 2 + 1))
    starts = np.arange(0, len(pcm) - WIN + 1, HOP)
    frames = pcm[starts[:, None] + np.arange(WIN)] * window()
    spec = np.fft.rfft(frames, NFFT)
    return np.asarray(spec.real**2 + spec.imag**2)


def low_features(power: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: the low-band log-mel envelope minus its mean, and that mean (the level)."""
    logmel = np.log(power @ low_filters().T + _FLOOR)
    level = logmel.mean(axis=1, keepdims=True)
    return logmel - level, level


def high_targets(power: np.ndarray) -> np.ndarray:
    """Per frame: log mean power in each high band (what the regression predicts)."""
    return np.log(np.stack([power[:, b].mean(axis=1) for b in high_bins()], axis=1) + _FLOOR)


def stack_context(feats: np.ndarray) -> np.ndarray:
    """Each frame's features with its CONTEXT neighbours either side (edges repeated)."""
    padded = np.concatenate(
        [np.repeat(feats[:1], CONTEXT, 0), feats, np.repeat(feats[-1:], CONTEXT, 0)]
    )
    n = len(feats)
    cols = [padded[i : i + n] for i in range(2 * CONTEXT + 1)]
    return np.concatenate([*cols, np.ones((n, 1))], axis=1)


@dataclass(frozen=True)
class Model:
    """Ridge coefficients: stacked low-band features -> high-band log powers minus level."""

    weights: np.ndarray  # (inputs, high bands)
    gain_db: float = 0.0  # how loud the synthesized band is relative to the prediction
    tilt_db: float = 0.0  # extra gain of the top band over the bottom one (linear between)

    @classmethod
    def load(cls, path: Path = COEFFS) -> Model:
        data = json.loads(path.read_text())
        return cls(
            np.asarray(data["weights"], dtype=np.float64),
            float(data.get("gain_db", 0.0)),
            float(data.get("tilt_db", 0.0)),
        )

    def predict(self, power: np.ndarray) -> np.ndarray:
        feats, level = low_features(power)
        return np.asarray(stack_context(feats) @ self.weights + level)


@lru_cache(maxsize=8)
def default_model(gain_db: float | None = None, tilt_db: float | None = None) -> Model:
    model = Model.load()
    return Model(
        model.weights,
        model.gain_db if gain_db is None else gain_db,
        model.tilt_db if tilt_db is None else tilt_db,
    )


class BandwidthExtender:
    """Streaming: 16 kHz int16 (telephone band) in, the same plus a synthesized high band out.

    The output lags the input by ``WIN`` samples plus CONTEXT hops of look-ahead; `flush`
    returns the rest at the end of the utterance. One instance per utterance.
    """

    def __init__(self, model: Model | None = None, seed: int = 0) -> None:
        self.model = model or default_model()
        bands = len(HIGH_EDGES) - 1
        tilt = self.model.tilt_db * np.arange(bands) / max(bands - 1, 1)
        self._gain = 10.0 ** ((self.model.gain_db + tilt) / 20.0)
        self._rng = np.random.default_rng(seed)
        self._bins = high_bins()
        self._nbins = sum(len(b) for b in self._bins)
        self._norm = window() / ((window() ** 2).sum() / HOP)  # Hann^2 overlap-adds to a constant
        self._x = np.zeros(0)  # input from sample `_x0` on (dry signal + analysis buffer)
        self._x0 = 0
        self._total = 0  # input samples received
        self._feats: list[np.ndarray] = []  # per analysed frame: low-band shape + level
        self._synth = 0  # frames synthesized
        self._acc = np.zeros(0)  # overlap-add sums from sample `_emitted` on
        self._emitted = 0

    def process(self, pcm: np.ndarray) -> np.ndarray:
        self._x = np.concatenate([self._x, pcm.astype(np.float64)])
        self._total += len(pcm)
        self._analyse()
        return self._emit(len(self._feats) - CONTEXT, final=False)

    def flush(self) -> np.ndarray:
        """The rest of the utterance (the input padded so every sample is fully covered)."""
        real = self._total
        cover = -(-max(real - WIN, 0) // HOP) * HOP + WIN  # frames up to the last sample
        self._x = np.concatenate([self._x, np.zeros(cover - real + WIN)])
        self._total = real + cover - real + WIN
        self._analyse()
        out = self._emit(len(self._feats), final=True)
        return out[: max(0, real - (self._emitted - len(out)))]

    def _analyse(self) -> None:
        first = len(self._feats)
        count = (self._total - WIN) // HOP + 1 - first if self._total >= WIN else 0
        if count <= 0:
            return
        start = first * HOP - self._x0
        power = spectra(self._x[start : start + (count - 1) * HOP + WIN])
        shape, level = low_features(power)
        self._feats.extend(np.concatenate([shape, level], axis=1))

    def _emit(self, ready: int, final: bool) -> np.ndarray:
        if ready <= self._synth:
            return np.zeros(0, dtype=np.int16)
        feats = np.asarray(self._feats)
        index = np.clip(np.arange(self._synth - CONTEXT, ready + CONTEXT), 0, len(feats) - 1)
        window_feats = feats[index]
        shape, level = window_feats[:, :-1], window_feats[:, -1:]
        n = ready - self._synth
        stacked = np.concatenate(
            [*(shape[i : i + n] for i in range(2 * CONTEXT + 1)), np.ones((n, 1))], axis=1
        )
        predicted = stacked @ self.model.weights + level[CONTEXT : CONTEXT + n]
        frames = self._synthesize(predicted)
        # frame j starts at sample j * HOP; the accumulator starts at sample _emitted
        end = (ready - 1) * HOP + WIN
        acc = np.zeros(end - self._emitted)
        acc[: len(self._acc)] = self._acc
        for i, frame in enumerate(frames):
            at = (self._synth + i) * HOP - self._emitted
            acc[at : at + WIN] += frame
        self._synth = ready
        done = end if final else ready * HOP  # later frames still add to what follows
        dry = self._x[self._emitted - self._x0 : done - self._x0]
        out = dry + acc[: done - self._emitted]
        self._acc = acc[done - self._emitted :]
        self._emitted = done
        keep = min(self._emitted, len(self._feats) * HOP)  # the analysis needs from here on
        self._x = self._x[keep - self._x0 :]
        self._x0 = keep
        return np.asarray(np.clip(np.rint(out), -32768, 32767), dtype=np.int16)

    def _synthesize(self, predicted: np.ndarray) -> np.ndarray:
        spec = np.zeros((len(predicted), NFFT // 2 + 1), dtype=np.complex128)
        amp = np.sqrt(np.exp(predicted)) * self._gain[: predicted.shape[1]]
        # one row of phases per frame, drawn frame after frame: the noise (and so what the
        # recognizer hears) does not depend on how the stream was cut into calls
        phases = self._rng.uniform(0, 2 * np.pi, (len(predicted), self._nbins))
        at = 0
        for j, bins in enumerate(self._bins):
            phase = phases[:, at : at + len(bins)]
            at += len(bins)
            spec[:, bins] = amp[:, j : j + 1] * np.exp(1j * phase)
        return np.asarray(np.fft.irfft(spec, NFFT)[:, :WIN] * self._norm)
