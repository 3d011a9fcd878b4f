"""The endpointer on synthetic and real audio, frame-clocked (no sleeping, no wall clock)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from asr.audio import frames, join, read_wav, silence
from asr.vad import Endpointer, Endpointing, NoInput, SpeechEnded, SpeechStarted

DIGITS = Path("/usr/share/asterisk/sounds/en/digits")


def line_noise(seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    """White hiss at ``dbfs`` RMS (what an analogue trunk or comfort noise sounds like)."""
    rng = np.random.default_rng(seed)
    rms = 32768 * 10 ** (dbfs / 20)
    return rng.normal(0, rms, round(seconds * 8000)).astype(np.int16)


def run(pcm: np.ndarray, config: Endpointing | None = None, playing: bool = False) -> list:
    ep = Endpointer(config)
    events = []
    for frame in frames(pcm):
        events += ep.feed(frame, playing)
    return events + ep.end_of_input()


def first_loud(pcm: np.ndarray, threshold: int = 1000) -> float:
    return float(np.argmax(np.abs(pcm) > threshold)) / 8000


def test_onset_and_end_of_utterance_on_real_speech() -> None:
    speech = join([read_wav(DIGITS / f"{d}.wav") for d in "1234"], gap=0.3)
    pcm = np.concatenate([silence(1.0), speech, silence(2.0)])
    events = run(pcm, Endpointing(end_silence=0.8))
    started, ended = events[0], events[1]
    assert isinstance(started, SpeechStarted) and isinstance(ended, SpeechEnded)
    onset = started.frame * 0.02
    assert abs(onset - first_loud(pcm)) <= 0.1
    # the pauses between digits do not end the utterance; 0.8 s after the last one does
    speech_end = 1.0 + len(speech) / 8000
    assert ended.reason == "silence"
    assert 0.6 <= ended.frame * 0.02 - speech_end <= 1.0


def test_line_noise_and_comfort_noise_are_not_speech() -> None:
    for dbfs in (-60.0, -45.0, -35.0):
        events = run(line_noise(6.0, dbfs), Endpointing(no_input_timeout=5.0))
        assert [type(e) for e in events] == [NoInput], dbfs
        assert events[0].frame == 249  # the 250th 20 ms frame: 5 s


def test_speech_over_line_noise_is_found() -> None:
    speech = read_wav(DIGITS / "7.wav")
    noise = line_noise(4.0, -45.0)
    pcm = noise.copy()
    pcm[8000 : 8000 + len(speech)] += speech
    events = run(pcm)
    assert isinstance(events[0], SpeechStarted)
    assert abs(events[0].frame * 0.02 - (1.0 + first_loud(speech))) <= 0.1


def test_no_input_timer_pauses_while_a_prompt_plays() -> None:
    ep = Endpointer(Endpointing(no_input_timeout=1.0))
    quiet = silence(0.02)
    for _ in range(100):
        assert ep.feed(quiet, playing=True) == []
    events = []
    for _ in range(50):
        events += ep.feed(quiet, playing=False)
    assert events == [NoInput(149)]


def test_max_utterance_cuts_a_long_talker() -> None:
    talk = np.concatenate([read_wav(DIGITS / f"{d}.wav") for d in "0123456789"])
    events = run(np.concatenate([silence(0.5), talk]), Endpointing(max_utterance=3.0))
    ended = events[1]
    assert isinstance(ended, SpeechEnded) and ended.reason == "max_utterance"
    assert ended.frame - events[0].frame == 150


def test_a_click_is_not_an_onset() -> None:
    pcm = silence(2.0)
    pcm[8000:8040] = 20000  # 5 ms click: one voiced frame at most
    assert [type(e) for e in run(pcm, Endpointing(no_input_timeout=1.5))] == [NoInput]
