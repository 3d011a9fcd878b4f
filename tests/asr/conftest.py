"""Speech fixtures: a started SpeechService and speech made by espeak-ng."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from asr import SpeechService
from asr.audio import read_wav, through_g711

SOUNDS = Path("/usr/share/asterisk/sounds/en")


@pytest.fixture
async def speech() -> AsyncIterator[SpeechService]:
    service = SpeechService(workers=2)
    await service.start()
    yield service
    await service.stop()


def espeak(text: str, voice: str = "en-us", rate: int = 150) -> np.ndarray:
    """espeak-ng speech at 8 kHz after a G.711 mu-law hop, as a caller on PCMU sounds."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(wav), text], check=True
        )
        return through_g711(read_wav(wav))
