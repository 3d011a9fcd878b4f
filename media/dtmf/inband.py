"""In-band DTMF detection (tones in the audio) for trunks that do not send RFC 4733.

Sans-IO: :meth:`InbandDetector.feed` takes each decoded int16 audio frame and the time of
its first sample, and returns the digits that ended in it.

How it works.  The audio is cut into 20 ms windows every 10 ms.  One matrix product of the
windows against precomputed cosine/sine tables gives the DFT of each window -- what the
Goertzel algorithm computes, all at once -- at the eight ITU-T Q.23 frequencies and their
second harmonics.  Each tone is probed at nominal, +-1 % and +-3 %: 20 ms windows have
50 Hz bins, too wide to tell 1.5 % from 3.5 % (10-57 Hz) by level alone, but whether the
+-1 % or the +-3 % probe is loudest does.  A window holds a key when (checks after ITU-T
Q.24 and common software detectors, spandsp and Asterisk):

* quiet audio is skipped before any DFT (its energy bounds what any tone could have);
* both tones are loud enough (``min_level_dbm0`` per tone, default -36 dBm0);
* twist: the row (low-group) tone is at most 8 dB above the column tone ("normal"
  twist, what loop loss of the high group produces) and at most 4 dB below it
  ("reverse" twist) -- spandsp's convention;
* both tones are on frequency: accepted within Q.24's +-1.5 %, refused beyond +-3.5 %
  (in practice from about +-2 %);
* the strongest row and column tones dominate the other tones of their group;
* neither tone has a strong second harmonic (voiced speech has many harmonics);
* the two tones carry most of the window's energy (``min_tone_share``): DTMF scores
  0.9-1.0 even with noise, G.711 and frequency error, speech mostly far less.

None of these alone keeps speech out: on Asterisk's 25 minutes of recorded prompts each
can be relaxed a long way with no false digit, and all must be relaxed together by over
2 dB before one appears.

A key counts once two consecutive windows agree: 30 ms of audio.  Every 40 ms tone (Q.24's
shortest to accept) holds two whole windows; a 20 ms tone never passes in two, since a
window it only partly fills fails the energy-share test.  A key ends after four windows
without it: a 10 ms interruption (Q.24: to be bridged) spoils at most three, a 40 ms pause
five or more.  The digit is reported when it ends, with its measured duration (to within
a 10 ms hop) -- one digit per press however long.  Windows every 5 ms would time keys
more finely, but cost about a third more per frame (measured).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

from .errors import DtmfUsageError
from .events import DtmfDigit

__all__ = ["COLUMN_HZ", "KEYPAD", "ROW_HZ", "InbandDetector"]

#: ITU-T Q.23 low-group (row) and high-group (column) frequencies.
ROW_HZ = (697.0, 770.0, 852.0, 941.0)
COLUMN_HZ = (1209.0, 1336.0, 1477.0, 1633.0)
#: Q.23 keypad: KEYPAD[row][column].
KEYPAD = ("123A", "456B", "789C", "*0#D")

# Full-scale 16-bit level of a 0 dBm0 sine: G.711 mu-law peaks at +3.17 dBm0, i.e. at
# 8159 in 14-bit (32636 in 16-bit) units, so 0 dBm0 is 32636 / 10**(3.17/20) peak.
_DBM0_PEAK = 22_656.0

# Bins around each tone.  The loudest counts, but if it is an outer one (+-3 %) the tone
# is too far off: Q.24 accepts +-1.5 % and refuses +-3.5 %.
_OFFSETS = (-0.03, -0.01, 0.0, 0.01, 0.03)
_INNER = range(1, 4)
_TONES = ROW_HZ + COLUMN_HZ
# Analysis frequencies: the bins of each tone (rows first), then the second harmonics.
_FREQS = tuple(f * (1 + o) for f in _TONES for o in _OFFSETS) + tuple(2 * f for f in _TONES)
_BINS = len(_OFFSETS)
_ROW_BINS = 4 * _BINS  # rows' bins end here, columns' begin
_HARMONICS = 8 * _BINS  # columns' bins end here, harmonics begin
_HITS_TO_START = 2  # consecutive windows that must agree before a key counts
_MISSES_TO_END = 4  # consecutive windows without it that end the key
_NO_KEY = -1


def _amplitude(db: float) -> float:
    """Amplitude ratio of a level difference in dB."""
    return float(10 ** (db / 20))


class InbandDetector:
    """Goertzel-style DTMF detector over int16 frames (any length; 20 ms is the norm).

    ``sample_rate`` is 8000 (narrowband) or 16000.  The thresholds default to the values
    the tests and the speech corpus were run with; see the module docstring.
    """

    def __init__(
        self,
        sample_rate: int = 8000,
        *,
        min_level_dbm0: float = -36.0,
        normal_twist_db: float = 8.0,
        reverse_twist_db: float = 4.0,
        relative_peak_db: float = 8.0,
        max_harmonic_db: float = -4.0,
        min_tone_share: float = 0.8,
    ) -> None:
        if sample_rate not in (8000, 16000):
            raise DtmfUsageError(f"sample rate {sample_rate} Hz unsupported (8000 or 16000)")
        self.sample_rate = sample_rate
        self._window = sample_rate // 50  # 20 ms: 50 Hz bins, fine enough for Q.23's spacing
        self._hop = self._window // 2
        self._overlap = self._window - self._hop
        # Thresholds apply to |X|: a sinusoid of amplitude A on a bin gives |X| = A*N/2.
        self._min_magnitude = _DBM0_PEAK * _amplitude(min_level_dbm0) * self._window / 2
        self._min_energy = self._min_magnitude**2 / self._window
        self._normal_twist = _amplitude(normal_twist_db)
        self._reverse_twist = _amplitude(reverse_twist_db)
        self._relative_peak = _amplitude(relative_peak_db)
        self._max_harmonic = _amplitude(max_harmonic_db)
        # The tones' share of the window's energy: a sinusoid's |X|^2 = (A^2/2) * N^2/2,
        # its energy sum(x^2) = (A^2/2) * N.
        self._min_share = min_tone_share * self._window / 2
        # float32: half the matrix product's time, and ample precision for 20 ms sums.
        self._table = _dft_table(self._window, sample_rate)
        # Steady state: the previous frame's last samples, then the current frame.
        self._buf = np.zeros(self._overlap + self._window, dtype=np.float32)
        self._buf_windows = _windows(self._buf, self._window, self._hop)
        self._leftover = np.zeros(0, dtype=np.float32)  # samples short of a hop
        self._hits = 0  # consecutive windows agreeing on _candidate
        self._candidate = _NO_KEY
        self._candidate_at = 0.0
        self._key = _NO_KEY  # the key being held, once counted
        self._key_at = 0.0
        self._key_until = 0.0
        self._misses = 0

    def feed(self, frame: npt.NDArray[np.int16], now: float) -> list[DtmfDigit]:
        """Feed one mono int16 frame whose first sample was at ``now``; returns ended digits."""
        samples = np.asarray(frame)
        if samples.ndim != 1:
            raise DtmfUsageError(f"expected a mono frame, got shape {samples.shape}")
        start = now - (self._overlap + len(self._leftover)) / self.sample_rate
        if len(samples) == self._window and not len(self._leftover):
            buf = self._buf
            buf[: self._overlap] = buf[self._window :]
            buf[self._overlap :] = samples
            span, windows = buf, self._buf_windows
        else:
            span, windows = self._windows_of(samples)
        digits: list[DtmfDigit] = []
        if len(windows):
            step = self._hop / self.sample_rate
            for index, key in enumerate(self._keys(windows, span)):
                self._advance(key, start + index * step, digits)
        return digits

    def flush(self) -> list[DtmfDigit]:
        """Reports a key still held (end of the stream) and forgets any tone under way."""
        digits: list[DtmfDigit] = []
        if self._key != _NO_KEY:
            self._end(digits)
        self._hits, self._candidate = 0, _NO_KEY
        return digits

    def _windows_of(
        self, samples: npt.NDArray[np.int16]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """The audio and windows over overlap, leftover and ``samples``; keeps what the next
        call needs."""
        hop, window = self._hop, self._window
        data = np.concatenate((self._buf[window:], self._leftover, samples), dtype=np.float32)
        count = max(0, (len(data) - window) // hop + 1)
        self._buf[window:] = data[count * hop : count * hop + self._overlap]
        self._leftover = data[count * hop + self._overlap :].copy()
        return data[: count * hop + self._overlap], _windows(data, window, hop, count)

    # -- spectral checks --------------------------------------------------------------------

    def _keys(self, windows: npt.NDArray[np.float32], span: npt.NDArray[np.float32]) -> list[int]:
        """The key each window holds, or -1; ``span`` is the audio the windows cover."""
        # Cauchy-Schwarz: |X|^2 <= N * sum(x^2), so quiet audio (silence, line noise, the
        # caller listening to a prompt) cannot hold a tone loud enough: skip the DFT.
        if float(np.dot(span, span)) < self._min_energy:
            return [_NO_KEY] * len(windows)
        spectrum = windows @ self._table
        half = len(_FREQS)
        magnitudes = np.hypot(spectrum[:, :half], spectrum[:, half:]).tolist()
        keys = []
        energy: list[float] | None = None
        for i, magnitude in enumerate(magnitudes):
            key = self._key_of(magnitude)
            if key != _NO_KEY:  # rare but for DTMF itself: the remaining tests
                if energy is None:
                    energy = np.einsum("ij,ij->i", windows, windows).tolist()
                key = self._confirm(key, magnitude, energy[i])
            keys.append(key)
        return keys

    def _key_of(self, magnitude: list[float]) -> int:
        """The key a window's |X| at the analysis frequencies suggests, or -1.

        Level, twist, frequency and dominance tests, cheapest and most selective first
        (most audio is too quiet at DTMF frequencies).  Plain Python on a few floats, with
        C-level ``max`` and ``index`` over slices: for two windows a frame that beats a
        dozen tiny numpy calls.
        """
        m_row, m_col = max(magnitude[:_ROW_BINS]), max(magnitude[_ROW_BINS:_HARMONICS])
        if m_row < self._min_magnitude or m_col < self._min_magnitude:
            return _NO_KEY
        if m_row > m_col * self._normal_twist or m_col > m_row * self._reverse_twist:
            return _NO_KEY
        row, row_bin = divmod(magnitude.index(m_row), _BINS)
        col, col_bin = divmod(magnitude.index(m_col, _ROW_BINS) - _ROW_BINS, _BINS)
        if row_bin not in _INNER or col_bin not in _INNER:
            return _NO_KEY  # loudest beyond +-1 %: the tone is off frequency
        # The strongest other tone of each group, from the bins outside the winner's.
        row_rest = magnitude[: row * _BINS] + magnitude[(row + 1) * _BINS : _ROW_BINS]
        col_start = _ROW_BINS + col * _BINS
        col_rest = magnitude[_ROW_BINS:col_start] + magnitude[col_start + _BINS : _HARMONICS]
        if m_row < max(row_rest) * self._relative_peak:
            return _NO_KEY
        if m_col < max(col_rest) * self._relative_peak:
            return _NO_KEY
        return row * 4 + col

    def _confirm(self, key: int, magnitude: list[float], energy: float) -> int:
        """``key`` if its tones have weak second harmonics and carry most of the window's
        energy, else -1."""
        row, col = divmod(key, 4)
        m_row = max(magnitude[row * _BINS : (row + 1) * _BINS])
        m_col = max(magnitude[_ROW_BINS + col * _BINS : _ROW_BINS + (col + 1) * _BINS])
        limit = self._max_harmonic
        harmonics = magnitude[_HARMONICS:]
        if harmonics[row] > m_row * limit or harmonics[4 + col] > m_col * limit:
            return _NO_KEY
        if m_row * m_row + m_col * m_col < energy * self._min_share:
            return _NO_KEY
        return key

    # -- timing -----------------------------------------------------------------------------

    def _advance(self, key: int, at: float, out: list[DtmfDigit]) -> None:
        """One window's verdict (``at`` is its first sample's time) through the timing rules."""
        if key != _NO_KEY and key == self._candidate:
            self._hits += 1
        else:
            self._candidate, self._candidate_at = key, at
            self._hits = 0 if key == _NO_KEY else 1
        if self._key != _NO_KEY:
            if key == self._key:
                self._misses, self._key_until = 0, at + self._window / self.sample_rate
                return
            self._misses += 1
            if self._misses < _MISSES_TO_END and self._hits < _HITS_TO_START:
                return
            self._end(out)  # a pause, or another key held long enough
        if self._hits >= _HITS_TO_START:
            self._key, self._key_at, self._misses = self._candidate, self._candidate_at, 0
            self._key_until = at + self._window / self.sample_rate

    def _end(self, out: list[DtmfDigit]) -> None:
        key, self._key = self._key, _NO_KEY
        duration_ms = round((self._key_until - self._key_at) * 1000)
        out.append(DtmfDigit(KEYPAD[key // 4][key % 4], "inband", duration_ms, self._key_at))


def _windows(
    data: npt.NDArray[np.float32], window: int, hop: int, count: int | None = None
) -> npt.NDArray[np.float32]:
    """Read-only view of ``count`` (default: all) windows of ``data``, ``hop`` apart."""
    if count is None:
        count = (len(data) - window) // hop + 1
    stride = data.strides[0]
    return np.lib.stride_tricks.as_strided(
        data, shape=(count, window), strides=(stride * hop, stride), writeable=False
    )


@functools.lru_cache(maxsize=4)
def _dft_table(window: int, sample_rate: int) -> npt.NDArray[np.float32]:
    """``window x 2F`` matrix: cosines then sines of the F analysis frequencies.

    Shared by every detector (read-only): building it per call cost more than
    the rest of a call's set-up.
    """
    n = np.arange(window)[:, None]
    omega = 2 * math.pi * np.asarray(_FREQS)[None, :] / sample_rate
    table = np.hstack((np.cos(omega * n), np.sin(omega * n))).astype(np.float32)
    table.setflags(write=False)
    return table
