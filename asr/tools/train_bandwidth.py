"""Fit the bandwidth-extension regression (asr/bandwidth.json) on wideband speech.

    .venv/bin/python -m asr.tools.train_bandwidth [--out asr/bandwidth.json]

Training speech is 16 kHz and never the material the benches report on: the human
recordings of Debian's ``pocketsphinx-testdata`` (librivox, cards, goforward, something;
``numbers.raw`` and tidigits are held out for validation) and espeak-ng in many voices,
speeds and pitches (sentences with digits, yes/no and menu words). Each recording is put
through what a call does to it (16 -> 8 kHz, G.711 mu-law, 8 -> 16 kHz) for the inputs;
the targets are the original's high-band log powers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
import soxr

from asr import bandwidth as bw
from media.codecs.g711 import ulaw_decode, ulaw_encode

TESTDATA = Path("/usr/share/pocketsphinx/test/data")
HUMAN = [
    *sorted((TESTDATA / "librivox").glob("*.wav")),
    *sorted((TESTDATA / "cards").glob("*.wav")),
    TESTDATA / "goforward.raw",
    TESTDATA / "something.raw",
]
HELD_OUT = [TESTDATA / "numbers.raw", TESTDATA / "tidigits/dhd.2934z.raw"]
SENTENCES = [
    "my account number is four seven one nine six two eight three",
    "zero one two three four five six seven eight nine oh",
    "yes that is right, no thanks, nope, yeah sure, correct, wrong, incorrect",
    "please check the order status, I want to talk to an agent or an operator",
    "six sixty six seven seventy five, thirty three, fifty nine, the fifth of six",
    "she sells sea shells by the sea shore, the fish and chips were fresh",
    "billing and invoices, returns and refunds, shipping charges and taxes",
    "what is the status of my parcel, it was supposed to arrive on Thursday",
    "two eight five zero, nine nine one six, three oh four seven",
    "yes please, not really, that is correct, no, yes, sure thing",
]
VOICES = ["en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-us+m3", "en-us+f2", "en+f4",
          "en+m7", "en-us+klatt", "en-029", "en-gb-x-gbclan", "en-us+f3"]  # fmt: skip


def read(path: Path) -> np.ndarray:
    if path.suffix == ".raw":
        return np.fromfile(path, dtype=np.int16).astype(np.float64)
    with wave.open(str(path)) as w:
        assert w.getframerate() == 16000 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float64)


def espeak(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), text],
            check=True,
            capture_output=True,
        )
        with wave.open(str(wav)) as w:
            pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float64)
            return np.asarray(soxr.resample(pcm, w.getframerate(), 16000))


def telephone(x16: np.ndarray) -> np.ndarray:
    """What the recognizer gets: the call's 8 kHz G.711 audio upsampled again."""
    x8 = np.clip(soxr.resample(x16, 16000, 8000), -32768, 32767).astype(np.int16)
    return np.asarray(soxr.resample(ulaw_decode(ulaw_encode(x8)).astype(np.float64), 8000, 16000))


def pairs(x16: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) of one recording; only frames with some energy count."""
    narrow, wide = bw.spectra(telephone(x16)), bw.spectra(x16)
    n = min(len(narrow), len(wide))
    shape, level = bw.low_features(narrow[:n])
    inputs = bw.stack_context(shape)
    targets = bw.high_targets(wide[:n]) - level
    loud = level[:, 0] > np.percentile(level[:, 0], 20)
    return inputs[loud], targets[loud]


def corpus(files: list[Path], espeak_too: bool) -> list[np.ndarray]:
    speech = [read(p) for p in files]
    if espeak_too:
        rng = np.random.default_rng(7)
        for voice in VOICES:
            for text in SENTENCES:
                speed, pitch = int(rng.integers(110, 190)), int(rng.integers(25, 75))
                speech.append(espeak(text, voice, speed, pitch))
    return speech


def fit(speech: list[np.ndarray], ridge: float, human_weight: int) -> np.ndarray:
    xs, ys = [], []
    for i, x in enumerate(speech):
        a, b = pairs(x)
        repeat = human_weight if i < len(HUMAN) else 1
        xs += [a] * repeat
        ys += [b] * repeat
    x, y = np.concatenate(xs), np.concatenate(ys)
    reg = ridge * len(x) * np.eye(x.shape[1])
    reg[-1, -1] = 0.0  # the bias is not shrunk
    return np.asarray(np.linalg.solve(x.T @ x + reg, x.T @ y))


def calibrate(weights: np.ndarray) -> float:
    """dB to add so that re-analysing the synthesized band gives the predicted powers."""
    x16 = read(HUMAN[0])
    narrow = telephone(x16)
    model = bw.Model(weights)
    ext = bw.BandwidthExtender(model)
    out = np.concatenate([ext.process(narrow.astype(np.int16)), ext.flush()]).astype(np.float64)
    got = bw.high_targets(bw.spectra(out - narrow[: len(out)]))
    want = model.predict(bw.spectra(narrow))
    n = min(len(got), len(want))
    return float(10 * np.log10(np.exp(np.median(want[:n] - got[:n]))))


def error(weights: np.ndarray, files: list[Path]) -> float:
    """RMS error (dB) of the predicted high-band powers on ``files``."""
    errs = []
    for p in files:
        a, b = pairs(read(p))
        errs.append((a @ weights - b).ravel())
    return float(np.sqrt(np.mean(np.concatenate(errs) ** 2)) * 10 / np.log(10))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=bw.COEFFS)
    parser.add_argument("--ridge", type=float, default=1e-3)
    parser.add_argument("--human-weight", type=int, default=4)
    parser.add_argument("--no-espeak", action="store_true")
    args = parser.parse_args()
    weights = fit(corpus(HUMAN, not args.no_espeak), args.ridge, args.human_weight)
    gain = calibrate(weights)
    print(f"held-out RMS error {error(weights, HELD_OUT):.1f} dB; synthesis gain {gain:+.1f} dB")
    args.out.write_text(
        json.dumps(
            {
                "about": "asr/tools/train_bandwidth.py: low-band log-mel (+-2 frames) -> "
                "high-band log power, ridge regression",
                "low_bands": bw.LOW_BANDS,
                "high_edges": bw.HIGH_EDGES,
                "context": bw.CONTEXT,
                "gain_db": round(gain, 2),
                "weights": np.round(weights, 5).tolist(),
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
