"""Prompts: TTS rendered once and cached, WAV files, tones, and the sans-IO player.

Everything here produces or plays :class:`~media.prompts.audio.Prompt` objects: mono
int16 PCM at 8 kHz.
"""

from __future__ import annotations

from media.prompts.audio import SAMPLE_RATE, Prompt, PromptError, load_wav, load_wav_async
from media.prompts.player import FrameClock, PlaybackEnded, Player, PlayQueue
from media.prompts.tones import beep, music_on_hold, ringback, silence
from media.prompts.tts import PromptCache, VoiceNotFoundError

__all__ = [
    "SAMPLE_RATE",
    "FrameClock",
    "PlayQueue",
    "PlaybackEnded",
    "Player",
    "Prompt",
    "PromptCache",
    "PromptError",
    "VoiceNotFoundError",
    "beep",
    "load_wav",
    "load_wav_async",
    "music_on_hold",
    "ringback",
    "silence",
]
