"""pocketsphinx: the zero-setup English engine (the wheel ships a 16 kHz US-English model).

Grammars compile to JSGF, one named search per grammar added lazily to each pooled
decoder; free speech uses the bundled trigram LM. Telephone audio is upsampled 8 -> 16 kHz
by the recognizer base (soxr). The front end comes from a derived copy of the model
directory whose ``feat.params`` carries our narrow-band settings: pocketsphinx reads
``feat.params`` after the config, so options given in the config alone are overridden.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pocketsphinx

from ..bandwidth import BandwidthExtender, Model, default_model
from ..grammar import Grammar
from ..heard import Hypothesis
from .base import Engine, Pool, Recognizer

log = logging.getLogger(__name__)

MODEL = Path(pocketsphinx.get_model_path()) / "en-us"
#: front-end overrides for narrow-band (300-3400 Hz) telephone speech; see bench/asr_accuracy
NARROWBAND: dict[str, str] = {}
#: decoders created at start-up (more are made on demand and kept)
PREWARM = 4
#: seconds of audio (pre-roll + speech) whose cepstral mean normalises the utterance
CMN_PROBE_S = 1.0
#: the mean used when an utterance is too short to measure one
CMN_INIT = "40,3,-1,0,0,0,0,0,0,0,0,0,0"
#: decoder options. The lattice pass (bestpath, and nbest which builds the same lattice)
#: costs ~0.7 s at the end of a 4 s digit string, more than the whole streaming search.
#: Grammars use the streaming search only; free speech keeps the passes (its trigram LM
#: gains from them, WER 28% vs 44%, and it has no latency goal).
DECODER: dict[str, Any] = {"bestpath": False, "fwdflat": False}
FREE_DECODER: dict[str, Any] = {}


def model_dir(front_end: dict[str, str]) -> Path:
    """The bundled model with ``front_end`` merged into its feat.params (a symlinked copy)."""
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
            (target / item.name).symlink_to(item)
    (target / "feat.params").write_text("".join(f"{k} {v}\n" for k, v in params.items()))
    return target


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
    items = " | ".join(phrases) or "<VOID>"
    rule = "<item>+" if grammar.name == "digits" else "<item>"
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

    def __init__(self, pooled: _Decoder, search: str, bandwidth: Model | None) -> None:
        super().__init__(16000)
        self.pooled = pooled
        self.decoder = decoder = pooled.decoder
        decoder.activate_search(search)
        self.free = search == "free"
        self._extender = BandwidthExtender(bandwidth) if bandwidth is not None else None
        self._held: list[np.ndarray] = []
        self._held_samples = 0
        self._open = False  # the utterance (with its measured CMN) is being searched

    def decode(self, pcm: np.ndarray) -> None:
        if self._extender is not None:
            pcm = self._extender.process(pcm)
        self._feed(pcm)

    def _feed(self, pcm: np.ndarray) -> None:
        if self._open:
            if len(pcm):
                self.decoder.process_raw(pcm.tobytes(), False, False)
            return
        self._held.append(pcm)
        self._held_samples += len(pcm)
        if self._held_samples >= CMN_PROBE_S * 16000:
            self._start()

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
            decoder.process_raw(held.tobytes(), False, False)

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
        self.decoder.end_utt()
        self._open = False
        hyp = self.decoder.hyp()
        if hyp is None or not hyp.hypstr:
            return Hypothesis("")
        confidence = min(1.0, math.exp(max(-700.0, self.decoder.logmath.log_to_ln(hyp.prob))))
        # No alternatives: pocketsphinx builds them from a lattice pass that would triple
        # the end-of-speech latency (see DECODER).
        return Hypothesis(hyp.hypstr, confidence)

    def close(self) -> None:
        if self._open:
            self.decoder.end_utt()
            self._open = False


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
        self.options = {**DECODER, **options}
        self.free_options = {**FREE_DECODER, **options}
        self._pool = Pool(lambda: self._new_decoder(self.options))
        self._free_pool = Pool(lambda: self._new_decoder(self.free_options))

    def languages(self) -> tuple[str, ...]:
        return ("en",)

    def _new_decoder(self, options: dict[str, Any]) -> Any:
        config = pocketsphinx.Config(
            hmm=str(model_dir(self.front_end)), lm=None, logfn=os.devnull, **options
        )
        return _Decoder(pocketsphinx.Decoder(config))

    def acquire(self, grammar: Grammar, language: str) -> Recognizer:
        pool = self._free_pool if grammar.name == "free" else self._pool
        pooled: Any = pool.get()
        decoder, search = pooled.decoder, grammar.key()
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
        return SphinxRecognizer(pooled, search, self.bandwidth)

    def release(self, recognizer: Recognizer) -> None:
        assert isinstance(recognizer, SphinxRecognizer)
        recognizer.close()
        pool = self._free_pool if recognizer.free else self._pool
        pool.put(recognizer.pooled)

    def warm_up(self) -> None:
        """Pre-create PREWARM decoders (~125 ms each) with the common grammars compiled."""
        held = [self.acquire(Grammar.digits(), "en") for _ in range(PREWARM)]
        for recognizer in held:
            self.release(recognizer)
        held = [self.acquire(Grammar.yesno(), "en") for _ in range(PREWARM)]
        for recognizer in held:
            self.release(recognizer)
