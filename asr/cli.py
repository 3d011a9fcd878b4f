"""``hotline asr transcribe FILE.wav``: a WAV through the live-call pipeline, frame by frame."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from .audio import aiter_frames, read_wav
from .grammar import Grammar
from .service import SpeechService
from .vad import Endpointing


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``asr transcribe`` on the ``hotline`` command."""
    asr = commands.add_parser("asr", help="speech recognition tools")
    tools = asr.add_subparsers(dest="asr_command", required=True, metavar="TOOL")
    t = tools.add_parser("transcribe", help="recognise a WAV file (any rate) as a caller would")
    t.add_argument("wav", type=Path, metavar="FILE.wav")
    t.add_argument(
        "--grammar",
        default="free",
        help='digits, yesno, free, or phrases "phrase one|phrase two" [free]',
    )
    t.add_argument("--engine", choices=("pocketsphinx", "vosk"), default=None)
    t.add_argument("--language", default="en", help="en, ko, ... [en]")
    t.add_argument("--vosk-model", type=Path, default=None, help="English vosk model directory")
    t.add_argument("--end-silence", type=float, default=0.8, help="seconds [0.8]")


def run(args: argparse.Namespace, vosk_model: Path | None = None) -> int:
    """Run the tool; prints the transcript, value and confidence. Exit 1 when nothing matched."""
    return asyncio.run(_transcribe(args, args.vosk_model or vosk_model))


async def _transcribe(args: argparse.Namespace, vosk_model: Path | None) -> int:
    grammar = Grammar.parse(args.grammar)
    speech = SpeechService(vosk_model=vosk_model)
    await speech.start()
    try:
        heard = await speech.recognize(
            aiter_frames(read_wav(args.wav)),
            grammar,
            language=args.language,
            engine=args.engine,
            endpointing=Endpointing(no_input_timeout=60, end_silence=args.end_silence),
            max_backlog=None,  # a file arrives faster than real time: let the decoder catch up
        )
    finally:
        await speech.stop()
    print(f"transcript: {heard.text}")
    print(f"value:      {heard.value}")
    print(f"confidence: {heard.confidence:.2f}")
    print(f"outcome:    {heard.outcome} ({heard.engine}, grammar {heard.grammar})")
    if heard.alternatives:
        print("alternatives: " + " | ".join(heard.alternatives))
    return 0 if heard.outcome == "match" else 1
