"""pocketsphinx: the zero-setup English engine (the wheel ships a 16 kHz US-English model).

Grammars compile to JSGF, one named search per grammar added lazily to each pooled
decoder; free speech uses the bundled trigram LM. Telephone audio is upsampled 8 -> 16 kHz
by the recognizer base (soxr). The front end comes from a derived copy of the model
directory whose ``feat.params`` carries our narrow-band settings: pocketsphinx reads
``feat.params`` after the config, so options given in the config alone are overridden.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pocketsphinx

from ..bandwidth import BandwidthExtender, Model, default_model
from ..grammar import Grammar
from ..heard import Hypothesis
from ..words import digit_words
from .base import Engine, Pool, Recognizer

log = logging.getLogger(__name__)

LOGFN = os.devnull
MODEL = Path(pocketsphinx.get_model_path()) / "en-us"
#: front-end overrides for narrow-band (300-3400 Hz) telephone speech; see bench/asr_accuracy
NARROWBAND: dict[str, str] = {}
#: decoders created at start-up (more are made on demand and kept)
PREWARM = 4
#: seconds of audio (pre-roll + speech) whose cepstral mean normalises the utterance
CMN_PROBE_S = 1.0
#: the block handed to pocketsphinx per call (100 ms; see SphinxRecognizer._search)
BLOCK_SAMPLES = 1600
#: the longest block of the second pass (pocketsphinx's live CMN crashed on 5 s blocks)
FEED_SAMPLES = 8000
#: the mean used when an utterance is too short to measure one
CMN_INIT = "40,3,-1,0,0,0,0,0,0,0,0,0,0"
#: decoder options. The lattice pass (bestpath, and nbest which builds the same lattice)
#: costs ~0.7 s at the end of a 4 s digit string, more than the whole streaming search.
#: Grammars use the streaming search only; free speech keeps the passes (its trigram LM
#: gains from them, WER 28% vs 44%, and it has no latency goal).
DECODER: dict[str, Any] = {"bestpath": False, "fwdflat": False}
FREE_DECODER: dict[str, Any] = {}
#: the logistic mapping `badness` to confidence: 0.5 at CONF_CENTER, its slope CONF_SCALE
CONF_CENTER = 4.3
CONF_SCALE = 0.3
#: below this confidence a second pass looks for the runner-up (Heard.alternatives)
ALTERNATIVES_BELOW = 0.5
#: samples per pocketsphinx frame (10 ms at 16 kHz)
FRAME_SAMPLES = 160
#: digit strings: a lower phone insertion penalty (pip < 1 charges each phone; the long
#: "zero one" path otherwise beats a short "two") and a quieter, less bright synthetic
#: 4-8 kHz band (absolute gain dB, tilt dB), fitted on bench/asr_tune.py's tuning split:
#: human strings 70% -> 88%, espeak strings 17% -> 29%. Other grammars keep the defaults,
#: which suit yes/no better (tuning split 100% vs 88%).
DIGITS_DECODER: dict[str, Any] = {"pip": 0.3}
DIGITS_BANDWIDTH = (-3.0, -3.0)
#: digit grammars spell out their length bounds (see _digit_rule)
DIGIT_LENGTHS = True
#: JSGF weights of digit words (1.0 when absent)
WEIGHTS: dict[str, float] = {}


_MODEL_DIR_LOCK = threading.RLock()


def model_dir(front_end: dict[str, str]) -> Path:
    """The bundled model with ``front_end`` merged into its feat.params (a symlinked copy)."""
    with _MODEL_DIR_LOCK:  # decoders are created concurrently by the worker threads
        return _model_dir(front_end)


def _model_dir(front_end: dict[str, str]) -> Path:
    source = MODEL / "en-us"
    if not front_end:
        return source
    lines = (source / "feat.params").read_text().splitlines()
    params = dict(line.split(None, 1) for line in lines if line.strip())
    params.update({f"-{k}": v for k, v in front_end.items()})
    tag = "-".join(f"{k}{v}" for k, v in sorted(front_end.items()))
    target = Path(tempfile.gettempdir()) / f"hotline-sphinx-{os.getuid()}-{tag}"
    target.mkdir(exist_ok=True)
    for item in source.iterdir():
        if item.name != "feat.params" and not (target / item.name).exists():
            with contextlib.suppress(FileExistsError):  # another thread made it first
                (target / item.name).symlink_to(item)
    (target / "feat.params").write_text("".join(f"{k} {v}\n" for k, v in params.items()))
    return target


def _digit_rule(min_len: int, max_len: int) -> str:
    """Exactly ``min_len`` to ``max_len`` digit words (a loop would let the search insert or
    drop a word where the length is known: a 4-digit PIN cannot be heard as 3 digits)."""
    if not DIGIT_LENGTHS or (min_len == 1 and max_len >= 16):  # the default: any length
        return "<item>+"
    optional = ""
    for _ in range(max_len - min_len):
        optional = f"[<item> {optional}]".replace(" ]", "]")
    return " ".join(["<item>"] * min_len + ([optional] if optional else []))


def search_key(grammar: Grammar) -> str:
    if grammar.name == "digits" and DIGIT_LENGTHS:
        return f"digits:{grammar.min_len}-{grammar.max_len}"
    return grammar.key()


def jsgf(grammar: Grammar, language: str, known: set[str] | None = None) -> str:
    """The JSGF text of ``grammar`` (phrases with words outside the dictionary dropped)."""
    phrases = grammar.phrase_list(language)
    if known is not None:
        kept = [p for p in phrases if all(w in known for w in p.split())]
        if len(kept) < len(phrases):
            log.warning(
                "pocketsphinx: dropped phrases with unknown words: %s",
                sorted(set(phrases) - set(kept)),
            )
        phrases = kept
    weights = WEIGHTS if grammar.name == "digits" else {}
    if weights and phrases:
        items = " | ".join(f"/{weights.get(p, 1.0):g}/ {p}" for p in phrases)
    else:
        items = " | ".join(phrases) or "<VOID>"
    rule = _digit_rule(grammar.min_len, grammar.max_len) if grammar.name == "digits" else "<item>"
    return f"#JSGF V1.0;\ngrammar g;\npublic <utt> = {rule};\n<item> = {items};\n"


@dataclass
class _Decoder:
    """A pooled decoder and the grammar searches already compiled into it."""

    decoder: Any
    searches: set[str] = field(default_factory=set)


class SphinxRecognizer(Recognizer):
    """Telephone audio -> bandwidth extension -> pocketsphinx, with a per-utterance CMN.

    The model normalises cepstra by their mean over the utterance ("batch" CMN), but the
    streaming decoder applies a fixed mean, and telephone channels differ wildly in it. So
    the first ``CMN_PROBE_S`` of the stream (the endpointer's pre-roll plus speech) are held
    back, their cepstral mean is measured by a feature-only pass of the same decoder, and
    decoding then runs incrementally with that mean: the state never carries over to the
    next utterance on the pooled decoder.
    """

    def __init__(
        self,
        pooled: _Decoder,
        search: str,
        bandwidth: Model | None,
        kind: str = "grammar",
        rival: Callable[[str, bool], str | None] | None = None,
    ) -> None:
        super().__init__(16000)
        self.kind = kind
        self.search = search
        #: (words to exclude, whole utterance?) -> a compiled search without them
        self._rival = rival
        self._audio: list[np.ndarray] = []  # what the search has seen, for a second pass
        self.pooled = pooled
        self.decoder = decoder = pooled.decoder
        decoder.activate_search(search)
        self.free = search == "free"
        self._extender = BandwidthExtender(bandwidth) if bandwidth is not None else None
        self._held: list[np.ndarray] = []
        self._held_samples = 0
        self._open = False  # the utterance (with its measured CMN) is being searched
        self._carry = np.zeros(0, dtype=np.int16)  # less than a block, for the next call

    def decode(self, pcm: np.ndarray) -> None:
        if self._extender is not None:
            pcm = self._extender.process(pcm)
        self._feed(pcm)

    def _feed(self, pcm: np.ndarray) -> None:
        if not self._open:
            need = round(CMN_PROBE_S * 16000) - self._held_samples
            self._held.append(pcm[:need])
            self._held_samples += len(pcm[:need])
            if len(pcm) < need:
                return
            pcm = pcm[need:]
            self._start()
        self._search(pcm)

    def _search(self, pcm: np.ndarray) -> None:
        if not self.free:
            self._audio.append(pcm)
        # pocketsphinx's live CMN moves once per process_raw call, so results would depend
        # on how the worker happened to batch frames: feed fixed BLOCK_SAMPLES blocks
        if len(self._carry):
            pcm = np.concatenate([self._carry, pcm])
        whole = len(pcm) - len(pcm) % BLOCK_SAMPLES
        self._carry = pcm[whole:]
        for at in range(0, whole, BLOCK_SAMPLES):
            self.decoder.process_raw(pcm[at : at + BLOCK_SAMPLES].tobytes(), False, False)

    def _start(self) -> None:
        held = np.concatenate(self._held) if self._held else np.zeros(0, dtype=np.int16)
        self._held, self._held_samples = [], 0
        decoder = self.decoder
        if len(held) >= 1600:
            decoder.start_utt()
            decoder.process_raw(held.tobytes(), True, True)  # features only: batch mean
            decoder.end_utt()
            decoder.set_cmn(decoder.get_cmn())
        else:
            decoder.set_cmn(CMN_INIT)
        decoder.start_utt()
        self._open = True
        if len(held):
            self._search(held)

    def partial(self) -> str:
        if not self._open:
            return ""
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    def finish(self) -> Hypothesis:
        if self._extender is not None:
            self._feed(self._extender.flush())
        if not self._open:
            self._start()
        if len(self._carry):
            self.decoder.process_raw(self._carry.tobytes(), False, False)
            self._carry = self._carry[:0]
        self.decoder.end_utt()
        self._open = False
        hyp = self.decoder.hyp()
        if hyp is None or not hyp.hypstr:
            return Hypothesis("")
        if self.free:
            return Hypothesis(hyp.hypstr, _lattice_confidence(self.decoder, hyp))
        segments = [
            (seg.word, seg.start_frame, seg.end_frame, seg.ascore) for seg in self.decoder.seg()
        ]
        audio = np.concatenate(self._audio) if self._audio else np.zeros(0, np.int16)
        sure = confidence(badness(segments)) * (1.0 - _unexplained(audio, segments))
        alternatives: tuple[str, ...] = ()
        if sure < ALTERNATIVES_BELOW and self._rival is not None:
            alternative = self._second_best(hyp.hypstr, segments, audio)
            alternatives = (alternative,) if alternative else ()
        self._audio = []
        return Hypothesis(hyp.hypstr, sure, alternatives)

    def _second_best(
        self, text: str, segments: list[tuple[str, int, int, float]], audio: np.ndarray
    ) -> str:
        """The grammar's best answer without the one heard, searched again over the audio.

        Digits: only the least certain word is searched again (its frames plus a margin)
        against the digits of other values; other grammars: the whole utterance against the
        other items. A few hundred ms of audio: ~10 ms, and only for doubtful results.
        """
        assert self._rival is not None
        words = [w for w in segments if not _filler(w[0])]
        if not words or not len(audio):
            return ""
        if self.kind == "digits":
            worst = max(words, key=_word_badness)
            search = self._rival(_base(worst[0]), False)
            margin = 10 * FRAME_SAMPLES
            first = max(0, worst[1] * FRAME_SAMPLES - margin)
            span = audio[first : (worst[2] + 1) * FRAME_SAMPLES + margin]
        else:
            worst = None
            search = self._rival(text, True)
            span = audio
        if search is None:
            return ""
        decoder = self.decoder
        decoder.activate_search(search)
        try:
            decoder.start_utt()
            for at in range(0, len(span), FEED_SAMPLES):
                decoder.process_raw(span[at : at + FEED_SAMPLES].tobytes(), False, False)
            decoder.end_utt()
            hyp = decoder.hyp()
        finally:
            decoder.activate_search(self.search)
        other = hyp.hypstr if hyp is not None else ""
        if not other or worst is None:
            return other
        replaced = [other if w is worst else _base(w[0]) for w in words]
        return " ".join(replaced)

    def close(self) -> None:
        if self._open:
            self.decoder.end_utt()
            self._open = False


def _filler(word: str) -> bool:
    return word.startswith(("<", "[", "(", "+"))


def _base(word: str) -> str:
    """``zero(2)`` -> ``zero`` (the dictionary marks alternate pronunciations)."""
    return word.split("(", 1)[0]


def _word_badness(seg: tuple[str, int, int, float]) -> float:
    frames = seg[2] - seg[1] + 1
    return -math.log(max(seg[3], 1e-300)) / max(frames, 1) * 1000


def _unexplained(audio: np.ndarray, segments: list[tuple[str, int, int, float]]) -> float:
    """A penalty in [0, 1] for speech the grammar explained as silence or noise.

    A grammar path may cover "hello, how are you" with one well-fitting "no" and let the
    silence model absorb the rest; the per-frame scores then look fine. So: of the frames
    within 20 dB of the loudest, the share under filler segments; up to 15% is normal
    (word edges, breaths), 50% or more means the answer explains too little to trust.
    """
    n = len(audio) // FRAME_SAMPLES
    if n == 0:
        return 0.0
    frames = audio[: n * FRAME_SAMPLES].astype(np.float64).reshape(n, FRAME_SAMPLES)
    level = 10 * np.log10((frames**2).mean(axis=1) + 1.0)
    loud = level > level.max() - 20.0
    covered = np.zeros(n, dtype=bool)
    for word, start, end, _ in segments:
        if not _filler(word) and start >= 0:
            covered[start : end + 1] = True
    share = float((loud & ~covered[:n]).sum()) / max(int(loud.sum()), 1)
    return float(np.clip((share - 0.15) / 0.35, 0.0, 1.0))


def badness(segments: list[tuple[str, int, int, float]]) -> float:
    """How far the worst word of the best path is from the best-scoring senones, per frame.

    The search scores every frame relative to its best senone, so a word's acoustic score
    is its log-likelihood ratio against an unconstrained "anything" model: near zero when
    the grammar's word is what the model hears best, strongly negative when the grammar
    forced a word onto sound that fits something else (or no speech at all). This is the
    garbage-model posterior of the literature at no extra search cost.
    """
    return max((_word_badness(s) for s in segments if not _filler(s[0])), default=0.0)


def confidence(bad: float) -> float:
    """`badness` -> a probability-like confidence (logistic fitted on bench/asr_tune.py)."""
    return 1.0 / (1.0 + math.exp((bad - CONF_CENTER) / CONF_SCALE))


def _lattice_confidence(decoder: Any, hyp: Any) -> float:
    return min(1.0, math.exp(max(-700.0, decoder.logmath.log_to_ln(hyp.prob))))


def _rival_search(
    pooled: _Decoder, grammar: Grammar, language: str, heard: str, whole: bool
) -> str | None:
    """A search (compiled once per decoder) for one item of ``grammar`` whose value differs
    from that of ``heard``: a whole phrase when ``whole``, else a single digit word."""
    decoder = pooled.decoder
    if grammar.name == "digits" and not whole:
        table = digit_words(language)
        value = table.get(heard)
        items = [p for p in grammar.phrase_list(language) if table.get(p) != value]
    else:
        value = grammar.interpret(heard, language)
        phrases = grammar.phrase_list(language)
        items = [p for p in phrases if grammar.interpret(p, language) != value]
    items = [p for p in items if all(decoder.lookup_word(w) is not None for w in p.split())]
    if not items:
        return None
    name = f"{grammar.key()}~{value if whole else heard}"
    if name not in pooled.searches:
        text = f"#JSGF V1.0;\ngrammar r;\npublic <utt> = {' | '.join(items)};\n"
        decoder.add_jsgf_string(name, text)
        pooled.searches.add(name)
    return name


class SphinxEngine(Engine):
    """English through pocketsphinx; one decoder per concurrent stream, pooled."""

    name = "pocketsphinx"

    def __init__(
        self,
        front_end: dict[str, str] | None = None,
        *,
        bandwidth: Model | bool | None = True,
        **options: Any,
    ) -> None:
        self.front_end = NARROWBAND if front_end is None else front_end
        #: the 4-8 kHz band predictor (None: feed the upsampled telephone band as it is)
        self.bandwidth = default_model() if bandwidth is True else bandwidth or None
        #: digit strings: their own decoder options and band level (see DIGITS_DECODER)
        self.digits_bandwidth = (
            default_model(*DIGITS_BANDWIDTH) if bandwidth is True else self.bandwidth
        )
        self.options = {**DECODER, **options}
        self.digits_options = {**DECODER, **DIGITS_DECODER, **options}
        self.free_options = {**FREE_DECODER, **options}
        self._pools = {
            kind: Pool(lambda o=opts: self._new_decoder(o))  # type: ignore[misc]
            for kind, opts in (
                ("grammar", self.options),
                ("digits", self.digits_options),
                ("free", self.free_options),
            )
        }

    def languages(self) -> tuple[str, ...]:
        return ("en",)

    def _new_decoder(self, options: dict[str, Any]) -> Any:
        # the front end's frequency warping keeps its parameters in C statics: decoders
        # created by two worker threads at once crash the process
        with _MODEL_DIR_LOCK:
            return self._create_decoder(options)

    def _create_decoder(self, options: dict[str, Any]) -> Any:
        config = pocketsphinx.Config(
            hmm=str(model_dir(self.front_end)), lm=None, logfn=LOGFN, **options
        )
        return _Decoder(pocketsphinx.Decoder(config))

    @staticmethod
    def _kind(grammar: Grammar) -> str:
        return grammar.name if grammar.name in ("digits", "free") else "grammar"

    def acquire(self, grammar: Grammar, language: str) -> Recognizer:
        kind = self._kind(grammar)
        pooled: Any = self._pools[kind].get()
        decoder, search = pooled.decoder, search_key(grammar)
        if search not in pooled.searches:
            if grammar.name == "free":
                decoder.add_lm_file(search, str(MODEL / "en-us.lm.bin"))
            else:
                known = {
                    w
                    for p in grammar.phrase_list(language)
                    for w in p.split()
                    if decoder.lookup_word(w) is not None
                }
                decoder.add_jsgf_string(search, jsgf(grammar, language, known))
            pooled.searches.add(search)
        bandwidth = self.digits_bandwidth if kind == "digits" else self.bandwidth
        rival = None
        if grammar.name != "free":

            def rival(excluded: str, whole: bool) -> str | None:
                return _rival_search(pooled, grammar, language, excluded, whole)

        return SphinxRecognizer(pooled, search, bandwidth, kind, rival)

    def release(self, recognizer: Recognizer) -> None:
        assert isinstance(recognizer, SphinxRecognizer)
        recognizer.close()
        self._pools[recognizer.kind].put(recognizer.pooled)

    def warm_up(self) -> None:
        """Pre-create PREWARM decoders (~125 ms each) with the common grammars compiled."""
        held = [self.acquire(Grammar.digits(), "en") for _ in range(PREWARM)]
        for recognizer in held:
            self.release(recognizer)
        held = [self.acquire(Grammar.yesno(), "en") for _ in range(PREWARM)]
        for recognizer in held:
            self.release(recognizer)
