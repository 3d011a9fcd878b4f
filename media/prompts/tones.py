"""Call-progress tones and music on hold, synthesized at 8 kHz as int16 PCM.

Pure functions of their arguments: the same call always gives the same samples, so
callers can generate once at start-up (in an executor for long music) and share the
result between calls.  Cadences follow ITU-T E.180 Supplement 2 ("Various tones used
in national networks").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from media.prompts.audio import SAMPLE_RATE

_FADE_MS = 4.0
"""Raised-cosine edges on every tone burst: long enough to avoid clicks, far shorter
than any cadence step."""


@dataclass(frozen=True, slots=True)
class Cadence:
    """A national ringback tone: summed frequencies and alternating on/off seconds."""

    frequencies: tuple[float, ...]
    pattern: tuple[float, ...]  # on, off, on, off, ... (seconds)


RINGBACK: dict[str, Cadence] = {
    "us": Cadence((440.0, 480.0), (2.0, 4.0)),  # also Canada (ANSI T1.401)
    "eu": Cadence((425.0,), (1.0, 4.0)),  # ETSI ES 201 970 (most of Europe, incl. Poland)
    "pl": Cadence((425.0,), (1.0, 4.0)),
    "uk": Cadence((400.0, 450.0), (0.4, 0.2, 0.4, 2.0)),
    "kr": Cadence((440.0, 480.0), (1.0, 2.0)),
}
"""Ringback cadences by country code; ``eu`` is the ETSI harmonised tone."""

_TONE_LEVEL = 0.1  # per frequency, about -20 dBFS: ringback is quiet by convention


def silence(ms: float) -> np.ndarray:
    """``ms`` milliseconds of digital silence."""
    return np.zeros(_samples(ms / 1000), dtype=np.int16)


def beep(ms: float = 200, hz: float = 1000) -> np.ndarray:
    """A single sine beep (about -10 dBFS) with soft edges, e.g. before recording."""
    n = _samples(ms / 1000)
    return _to_pcm(_faded(_sine((hz,), n, 0.3)))


def ringback(seconds: float, country: str = "us") -> np.ndarray:
    """``seconds`` of ringback tone in ``country``'s cadence, starting with a burst."""
    try:
        cadence = RINGBACK[country.lower()]
    except KeyError:
        raise ValueError(
            f"no ringback cadence for {country!r}; known: {', '.join(sorted(RINGBACK))}"
        ) from None
    parts = []
    for index, step in enumerate(cadence.pattern):
        n = _samples(step)
        on = index % 2 == 0
        parts.append(_faded(_sine(cadence.frequencies, n, _TONE_LEVEL)) if on else np.zeros(n))
    cycle = _to_pcm(np.concatenate(parts))
    return _repeat_to(cycle, _samples(seconds))


# Music on hold: a I-vi-IV-V progression in C major, a soft pad per bar plus a plucked
# arpeggio per beat.  MIDI note numbers; every note starts and ends silent inside its
# own bar or beat, so any whole number of bars loops without a click.
_BEAT_S = 0.5
_BAR_S = 4 * _BEAT_S
_CHORDS: tuple[tuple[int, ...], ...] = ((60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62))
_ARPEGGIO = (0, 1, 2, 1)  # chord-tone index per beat, an octave up
_PAD_PARTIALS = ((1, 1.0), (2, 0.25), (3, 0.08))  # (harmonic, weight): warm, band-limited
_PLUCK_PARTIALS = ((1, 1.0), (2, 0.4), (4, 0.1))


def music_on_hold(seconds: float) -> np.ndarray:
    """A gentle synthesized melody, about ``seconds`` long, that loops without clicks.

    The length is rounded to whole 2-second bars (at least one) so that the end joins
    the beginning on a bar line; loop it with ``Player(..., loop=True)``.  Generating
    30 s takes ~150 ms of numpy: do it once, off the event loop.
    """
    bars = max(1, round(seconds / _BAR_S))
    music = np.concatenate([_bar(_CHORDS[i % len(_CHORDS)]) for i in range(bars)])
    peak = float(np.max(np.abs(music))) or 1.0
    return _to_pcm(music * (0.35 / peak))


def _bar(chord: tuple[int, ...]) -> np.ndarray:
    """One bar: the chord as a pad plus four plucked arpeggio notes."""
    n = _samples(_BAR_S)
    t = np.arange(n) / SAMPLE_RATE
    pad = sum((_voice(_hz(note), t, _PAD_PARTIALS) for note in chord), np.zeros(n))
    pad *= _pad_envelope(n) * 0.12
    beat = _samples(_BEAT_S)
    tb = t[:beat]
    pluck_env = _pluck_envelope(beat)
    melody = np.concatenate(
        [_voice(_hz(chord[i] + 12), tb, _PLUCK_PARTIALS) * pluck_env for i in _ARPEGGIO]
    )
    return pad + 0.3 * melody


def _voice(hz: float, t: np.ndarray, partials: tuple[tuple[int, float], ...]) -> np.ndarray:
    """A tone with a few harmonics, skipping any above the telephone band's 3.4 kHz."""
    out = np.zeros_like(t)
    for harmonic, weight in partials:
        if hz * harmonic < 3400:
            out += weight * np.sin(2 * np.pi * hz * harmonic * t)
    return out


def _pad_envelope(n: int) -> np.ndarray:
    """Slow swell in, hold, then fade fully to zero before the bar line."""
    env = np.ones(n)
    attack, release = _samples(0.35), _samples(0.45)
    env[:attack] = _rise(attack)
    env[n - release :] = _rise(release)[::-1]
    return env


def _pluck_envelope(n: int) -> np.ndarray:
    """Fast attack, exponential decay, and a short fade that lands on exactly zero."""
    t = np.arange(n) / SAMPLE_RATE
    env = np.exp(-t / 0.18)
    attack, tail = _samples(0.008), _samples(0.03)
    env[:attack] *= _rise(attack)
    env[n - tail :] *= _rise(tail)[::-1]
    return env


def _hz(midi: int) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12)


def _sine(frequencies: tuple[float, ...], n: int, level: float) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    return sum((level * np.sin(2 * np.pi * f * t) for f in frequencies), np.zeros(n))


def _rise(n: int) -> np.ndarray:
    """Raised-cosine ramp from 0 to 1 over ``n`` samples."""
    return 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / max(n, 1))


def _faded(x: np.ndarray) -> np.ndarray:
    edge = min(_samples(_FADE_MS / 1000), len(x) // 2)
    if edge:
        x[:edge] *= _rise(edge)
        x[len(x) - edge :] *= _rise(edge)[::-1]
    return x


def _repeat_to(cycle: np.ndarray, n: int) -> np.ndarray:
    reps = -(-n // len(cycle)) if len(cycle) else 0
    return np.tile(cycle, reps)[:n] if reps else np.zeros(n, dtype=np.int16)


def _samples(seconds: float) -> int:
    if seconds < 0:
        raise ValueError(f"duration must not be negative, got {seconds}")
    return round(seconds * SAMPLE_RATE)


def _to_pcm(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 32767), -32768, 32767).astype(np.int16)
