"""Speech accuracy per engine and grammar on real telephone speech (Asterisk's prompts) and
espeak-ng through G.711, through the live pipeline (endpointer -> worker stream -> engine).

    .venv/bin/python bench/asr_accuracy.py [--strings 50]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from asr import Grammar, SpeechService
from asr.audio import aiter_frames, join, read_wav, through_g711

SOUNDS = Path("/usr/share/asterisk/sounds/en")


def espeak(text: str, voice: str = "en-us", rate: int = 130) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(wav), text], check=True
        )
        return through_g711(read_wav(wav))


#: prompts holding a yes/no word that a pause (or the end) separates from what follows:
#: prompt -> (transcript, word, value). Words run into the next one ("no more messages",
#: "if this is correct, press") are left out: a cut there carries the next word's onset.
CUTS = {
    "vm-incorrect": ("login incorrect", "incorrect", "no"),
    "vm-incorrect-mailbox": ("login incorrect mailbox", "incorrect", "no"),
    "agent-incorrect": (
        "login incorrect please enter your agent number followed by the pound key",
        "incorrect",
        "no",
    ),
}


def cut_word(name: str, transcript: str, word: str) -> np.ndarray:
    """``word`` cut out of an Asterisk prompt at the bounds a forced alignment gives."""
    import os

    import pocketsphinx

    from asr.bandwidth import BandwidthExtender
    from asr.engines import sphinx
    from media.codecs.resample import resample

    pcm = read_wav(SOUNDS / f"{name}.wav")
    wide = resample(pcm, 8000, 16000)
    extender = BandwidthExtender()
    wide = np.concatenate([extender.process(wide), extender.flush()])
    config = pocketsphinx.Config(hmm=str(sphinx.model_dir({})), lm=None, logfn=os.devnull)
    decoder = pocketsphinx.Decoder(config)
    decoder.set_align_text(transcript)
    decoder.start_utt()
    decoder.process_raw(wide.tobytes(), False, True)
    decoder.end_utt()
    segments = list(decoder.seg())
    at = next(i for i, s in enumerate(segments) if s.word.split("(")[0] == word)
    following = segments[at + 1].word if at + 1 < len(segments) else "</s>"
    assert following in ("<sil>", "</s>"), f"{name}: {word} runs into {following}"
    start, end = segments[at].start_frame * 80, (segments[at].end_frame + 1) * 80  # 10 ms
    return pcm[max(0, start - 240) : end + 240]


def wer(ref: str, hyp: str) -> tuple[int, int]:
    r, h = ref.split(), hyp.split()
    d = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, d[0] = d[0], i
        for j, hw in enumerate(h, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (rw != hw))
    return d[len(h)], len(r)


async def main(n_strings: int) -> None:
    speech = SpeechService(workers=2)
    await speech.start()

    #: grammar -> [(right?, confidence, truth among the alternatives?)]
    scored: dict[str, list[tuple[bool, float, bool]]] = {}
    chatter_confidence: dict[str, list[float]] = {}

    def oog(grammar: str) -> float:
        values = chatter_confidence.get(grammar, [])
        return sum(values) / max(len(values), 1)

    async def hear(
        pcm: np.ndarray, grammar: Grammar, language: str = "en", truth: str | None = None
    ) -> str:
        heard = await speech.recognize(
            aiter_frames(pcm), grammar, language=language, max_backlog=None
        )
        if truth == "-":
            chatter_confidence.setdefault(grammar.name, []).append(heard.confidence)
        if truth is not None and language == "en":
            alternatives = {grammar.interpret(a, language) for a in heard.alternatives}
            scored.setdefault(grammar.name, []).append(
                (heard.value == truth, heard.confidence, truth in alternatives)
            )
        return heard.value or ""

    rows: list[tuple[str, str, str, int, int]] = []
    digits = {d: read_wav(SOUNDS / f"digits/{d}.wav") for d in "0123456789"}
    ok = sum([await hear(digits[d], Grammar.digits(), truth=d) == d for d in digits])
    rows.append(("pocketsphinx", "digits", "single digits (Asterisk, human)", ok, 10))
    rng = random.Random(4)
    for length in (4, 6, 8):
        ok = 0
        for _ in range(n_strings):
            s = "".join(rng.choice("0123456789") for _ in range(length))
            pcm = join([digits[d] for d in s], gap=0.3)
            ok += await hear(pcm, Grammar.digits(4, 8), truth=s) == s
        rows.append(
            ("pocketsphinx", "digits", f"{length}-digit strings exact (human)", ok, n_strings)
        )
    # the same 4-digit strings when the prompt knows the length (a PIN): Grammar.digits(4, 4)
    rng = random.Random(4)
    ok = 0
    for _ in range(n_strings):
        s = "".join(rng.choice("0123456789") for _ in range(4))
        pcm = join([digits[d] for d in s], gap=0.3)
        ok += await hear(pcm, Grammar.digits(4, 4), truth=s) == s
    rows.append(
        ("pocketsphinx", "digits", "4-digit strings, grammar of exactly 4 (human)", ok, n_strings)
    )
    yes = ["yes", "yeah", "yep", "correct", "sure", "that is right"]
    no = ["no", "nope", "wrong", "incorrect", "no thanks"]
    ok = total = 0
    for voice in ("en-us", "en", "en-us+f3"):
        for word, value in [(w, "yes") for w in yes] + [(w, "no") for w in no]:
            ok += await hear(espeak(word, voice), Grammar.yesno(), truth=value) == value
            total += 1
    rows.append(("pocketsphinx", "yesno", "yes/no synonyms (espeak, 3 voices, G.711)", ok, total))
    vm_no = read_wav(SOUNDS / "vm-no.wav")
    rows.append(
        (
            "pocketsphinx",
            "yesno",
            "'no' (Asterisk vm-no, human)",
            int(await hear(vm_no, Grammar.yesno()) == "no"),
            1,
        )
    )
    ok = 0
    for name, (transcript, word, value) in CUTS.items():
        pcm = cut_word(name, transcript, word)
        ok += await hear(pcm, Grammar.yesno(), truth=value) == value
    rows.append(
        (
            "pocketsphinx",
            "yesno",
            "'incorrect' cut from Asterisk prompts (human)",
            ok,
            len(CUTS),
        )
    )
    menu = {
        "order_status": ["order status", "where is my order"],
        "agent": ["agent", "operator", "talk to a person"],
        "billing": ["billing", "invoice"],
        "returns": ["return", "returns"],
    }
    ok = total = 0
    for intent, phrases in menu.items():
        for p in phrases:
            for voice in ("en-us", "en"):
                ok += await hear(espeak(p, voice), Grammar.phrases(menu), truth=intent) == intent
                total += 1
    rows.append(("pocketsphinx", "phrases", "menu phrases (espeak, G.711)", ok, total))
    transcripts = {
        "auth-thankyou": "thank you",
        "all-circuits-busy-now": "all circuits are busy now",
        "cannot-complete-as-dialed": "your call cannot be completed as dialed",
        "check-number-dial-again": "please check the number and dial again",
        "agent-loginok": "agent logged in",
        "calling": "calling",
    }
    errors = words = 0
    for name, ref in transcripts.items():
        hyp = await hear(read_wav(SOUNDS / f"{name}.wav"), Grammar.free())
        e, n = wer(ref, hyp)
        errors, words = errors + e, words + n
    rows.append(
        (
            "pocketsphinx",
            "free",
            "free speech WER (Asterisk, human; lower is better)",
            errors,
            words,
        )
    )
    # out-of-grammar speech: any "match" is wrong, only a low confidence can save the IVR
    chatter = ["hello there how are you", "banana", "the weather is nice today", "call me later"]
    for text in chatter:
        for voice in ("en-us", "en-us+f3"):
            await hear(espeak(text, voice), Grammar.yesno(), truth="-")
            await hear(espeak(text, voice), Grammar.digits(4, 8), truth="-")
    ko = {"3": "삼", "5": "오", "2": "이", "1": "일", "4": "사", "0": "영"}
    ok = 0
    for d, w in ko.items():
        ok += await hear(espeak(w, "ko"), Grammar.digits(), "ko") == d
    rows.append(("vosk (ko)", "digits", "Korean single digits (espeak ko, G.711)", ok, len(ko)))
    await speech.stop()
    print(f"{'engine':<14}{'grammar':<9}{'set':<52}{'result':>14}")
    for engine, grammar, name, a, b in rows:
        print(f"{engine:<14}{grammar:<9}{name:<52}{a:>5}/{b:<4}{100 * a / max(b, 1):5.1f}%")
    print()
    print("pocketsphinx confidence (the sets above): mean over right and wrong results,")
    print("and how often the truth is among the alternatives of a wrong result")
    print(f"{'grammar':<9}{'right':>7}{'conf':>7}{'wrong':>7}{'conf':>7}{'truth in alts':>15}")
    print("(wrong includes 8 out-of-grammar phrases per grammar: mean confidence of those")
    print(f" yes/no {oog('yesno'):.2f}, digits {oog('digits'):.2f})")
    for grammar, results in scored.items():
        right = [c for ok, c, _ in results if ok]
        wrong = [(c, alt) for ok, c, alt in results if not ok]
        mean_right = sum(right) / len(right) if right else float("nan")
        mean_wrong = sum(c for c, _ in wrong) / len(wrong) if wrong else float("nan")
        in_alts = sum(alt for _, alt in wrong)
        print(
            f"{grammar:<9}{len(right):>7}{mean_right:>7.2f}{len(wrong):>7}{mean_wrong:>7.2f}"
            f"{in_alts:>9}/{len(wrong)}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--strings", type=int, default=30)
    asyncio.run(main(parser.parse_args().strings))
