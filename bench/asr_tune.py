"""Tuning split for the pocketsphinx digit/yes-no front end, kept apart from the held-out
figures of bench/asr_accuracy.py (human strings from random seed 4).

Tuning material: 4-digit strings from other seeds built from Asterisk's human digits, and
espeak-ng digit strings in four voices through G.711 (another "speaker" altogether).

    .venv/bin/python bench/asr_tune.py [--set human|espeak|yesno|all] [KEY=VALUE ...]

KEY=VALUE pairs are pocketsphinx decoder options (``wip=1e-3``) or ``gain_db=``/``cmn_s=``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import math
import random
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from asr import Grammar, SpeechService
from asr.audio import aiter_frames, join, read_wav, through_g711
from asr.bandwidth import default_model
from asr.engines import sphinx

SOUNDS = Path("/usr/share/asterisk/sounds/en")
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def espeak(text: str, voice: str, rate: int = 150) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(wav), text], check=True
        )
        return through_g711(read_wav(wav))


def human_set(seeds: tuple[int, ...], n: int) -> list[tuple[str, np.ndarray]]:
    digits = {d: read_wav(SOUNDS / f"digits/{d}.wav") for d in "0123456789"}
    out = []
    for seed in seeds:
        rng = random.Random(seed)
        for _ in range(n):
            s = "".join(rng.choice("0123456789") for _ in range(4))
            gap = rng.choice((0.1, 0.2, 0.3))
            out.append((s, join([digits[d] for d in s], gap=gap)))
    return out


def espeak_set(n: int) -> list[tuple[str, np.ndarray]]:
    rng = random.Random(99)
    out = []
    for i in range(n):
        s = "".join(rng.choice("0123456789") for _ in range(4))
        voice = ("en-us", "en", "en-us+f3", "en-us+m3")[i % 4]
        out.append((s, espeak(", ".join(WORDS[int(d)] for d in s), voice, rate=140)))
    return out


def yesno_set() -> list[tuple[str, np.ndarray]]:
    yes = ["yes", "yeah", "yep", "correct", "sure", "that is right", "right", "yes please"]
    no = ["no", "nope", "wrong", "incorrect", "no thanks", "not really"]
    out = []
    for voice in ("en-us+m3", "en-gb-x-rp", "en-us+f2"):
        for word, value in [(w, "yes") for w in yes] + [(w, "no") for w in no]:
            out.append((value, espeak(word, voice, rate=150)))
    return out


oks: list[float] = []
alts: list[tuple[str, str, tuple[str, ...]]] = []


async def score(
    speech: SpeechService, items: list[tuple[str, np.ndarray]], grammar: Grammar
) -> tuple[int, list[tuple[str, str, float]]]:
    ok = 0
    misses = []
    oks.clear()
    sem = asyncio.Semaphore(2)

    async def one(ref: str, pcm: np.ndarray) -> None:
        nonlocal ok
        async with sem:
            heard = await speech.recognize(aiter_frames(pcm), grammar, max_backlog=None)
        if heard.value == ref:
            ok += 1
            oks.append(heard.confidence)
        else:
            misses.append((ref, heard.value or f"<{heard.text}>", heard.confidence))
            alts.append((ref, heard.text, heard.alternatives))

    await asyncio.gather(*(one(r, p) for r, p in items))
    return ok, misses


def parse(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        try:
            out[key] = float(value) if "." in value or "e" in value else int(value)
        except ValueError:
            out[key] = value
    return out


async def main(which: str, options: dict[str, Any]) -> None:
    gain = options.pop("gain_db", None)
    tilt = options.pop("tilt_db", None)
    if "cmn_s" in options:
        sphinx.CMN_PROBE_S = float(options.pop("cmn_s"))
    if options.pop("log", 0):
        sphinx.LOGFN = "/tmp/asrdbg/ps.log"
    exact = bool(options.pop("exact", 0))
    if "lengths" in options:
        sphinx.DIGIT_LENGTHS = bool(options.pop("lengths"))
    if "min_batch" in options:
        from asr import stream

        stream.MIN_BATCH = int(options.pop("min_batch"))
    if options.pop("raw", 0):
        sphinx.confidence = lambda bad: math.exp(-bad / 1000)
    speech = SpeechService(workers=int(options.pop("workers", 2)))
    await speech.start()
    bandwidth: Any = True
    if gain is not None or tilt is not None:
        bandwidth = default_model(
            None if gain is None else float(gain), None if tilt is None else float(tilt)
        )
    weights = {k[2:]: float(options.pop(k)) for k in list(options) if k.startswith("w_")}
    sphinx.WEIGHTS.update(weights)
    front = {k[3:]: str(options.pop(k)) for k in list(options) if k.startswith("fe_")}
    engine = sphinx.SphinxEngine(front or None, bandwidth=bandwidth, **options)
    engine.warm_up()  # decoders made while others decode would race in C
    speech._engines["en"] = engine
    sets = {
        "human": lambda: human_set((1, 2), 20),
        "espeak": lambda: espeak_set(24),
        "yesno": yesno_set,
    }
    for name, build in sets.items():
        if which not in (name, "all") and not (which == "digits" and name != "yesno"):
            continue
        items = build()
        grammar = Grammar.digits(4, 4) if exact else Grammar.digits(4, 8)
        grammar = Grammar.yesno() if name == "yesno" else grammar
        ok, misses = await score(speech, items, grammar)
        confusions: collections.Counter[str] = collections.Counter()
        for ref, hyp, _ in misses:
            if len(ref) == len(hyp):
                confusions.update(f"{a}->{b}" for a, b in zip(ref, hyp, strict=True) if a != b)
            else:
                confusions[f"len {len(ref)}->{len(hyp)}"] += 1
        rate = 100 * ok / len(items)
        print(f"{name:<7} {ok:>3}/{len(items):<3} {rate:5.1f}%  {options} gain={gain} tilt={tilt}")
        print("        ", dict(confusions.most_common(8)))
        print("        ", [(r, h) for r, h, _ in misses][:12])
        bad = [-1000 * math.log(max(c, 1e-300)) for c in oks]
        wrong = [-1000 * math.log(max(c, 1e-300)) for _, _, c in misses]
        print("         badness ok:", [round(b, 2) for b in sorted(bad)])
        print("         badness wrong:", [round(b, 2) for b in sorted(wrong)])
        print("         alternatives of wrong:", alts)
        alts.clear()
    await speech.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default="all")
    parser.add_argument("options", nargs="*")
    args = parser.parse_args()
    asyncio.run(main(args.set, parse(args.options)))
