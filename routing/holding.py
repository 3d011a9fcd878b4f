"""What a waiting caller hears: music on hold, position and estimated-wait announcements,
and the voicemail taken when the maximum wait runs out."""

from __future__ import annotations

import asyncio
import contextlib
import math
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from media.call import Call
from media.prompts.audio import Prompt
from media.prompts.player import Player
from media.prompts.tones import beep, music_on_hold

MUSIC_SECONDS = 32.0  # sixteen bars; rendered once per process
VOICEMAIL_MAX_SECONDS = 60.0

_music: np.ndarray | None = None
_music_lock = asyncio.Lock()


async def hold_music() -> np.ndarray:
    """The music-on-hold loop, rendered once off the event loop (~150 ms of numpy)."""
    global _music
    async with _music_lock:
        if _music is None:
            _music = await asyncio.to_thread(music_on_hold, MUSIC_SECONDS)
    return _music


def music_player(pcm: np.ndarray) -> Player:
    """A looping player for ``call.background``."""
    return Player(pcm, loop=True)


def announcement(position: int, wait_seconds: float, language: str = "en") -> str:
    """What the caller is told: place in line and a rounded estimate."""
    minutes = max(1, math.ceil(wait_seconds / 60))
    if language == "pl":
        return f"Jesteś {position}. w kolejce. Szacowany czas oczekiwania: około {minutes} min."
    place = "next" if position == 1 else f"number {position}"
    unit = "minute" if minutes == 1 else "minutes"
    return f"You are {place} in the queue. The estimated wait is about {minutes} {unit}."


async def announce_loop(
    call: Call,
    every: float,
    text: Callable[[], str | None],
    *,
    language: str = "en",
    first_after: float = 0.0,
) -> None:
    """Say ``text()`` now-ish and every ``every`` seconds; None skips a turn (ringing)."""
    await asyncio.sleep(first_after)
    while not call.ended.is_set():
        message = text()
        if message is not None:
            await call.say(message, language=language)
        await asyncio.sleep(every)


async def take_voicemail(call: Call, folder: Path, language: str = "en") -> Path | None:
    """Prompt, beep, record the caller until hang-up or the limit; the WAV's path."""
    prompt = (
        "Sorry, no agent is free. Please leave a message after the tone."
        if language != "pl"
        else "Przepraszamy, wszyscy konsultanci są zajęci. Zostaw wiadomość po sygnale."
    )
    if not await call.say(prompt, language=language):
        return None
    await call.play(Prompt(beep(300), "beep 300 ms", "tone"))
    frames: list[np.ndarray] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(VOICEMAIL_MAX_SECONDS):
            async for frame in call.audio_frames():
                frames.append(frame)
    if not frames:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_safe(call.call_id)}.wav"
    await asyncio.to_thread(_write_wav, path, np.concatenate(frames))
    return path


def _write_wav(path: Path, pcm: np.ndarray) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(pcm.astype("<i2").tobytes())


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:120]
