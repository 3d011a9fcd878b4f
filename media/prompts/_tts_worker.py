"""The TTS worker process: pyttsx3 + espeak-ng, one render at a time.

Run as ``python -m media.prompts._tts_worker`` by :class:`media.prompts.tts.PromptCache`.
It lives in its own process because pyttsx3's espeak driver keeps process-global
state (espeak can be initialised once per process, one synth callback) and spins its
own polling loop in ``runAndWait()``: neither thread-safe nor event-loop friendly.

Protocol, one JSON object per line: the parent writes
``{"text", "voice", "rate", "path"}`` to stdin; the worker renders, resamples to
8 kHz, atomically installs the WAV at ``path`` and answers on stdout with
``{"ok": true, "samples": n}`` or ``{"ok": false, "error": "voice"|"render",
"message": ...}``.  End of stdin ends the worker.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from media.prompts.audio import decode_wav, encode_wav

_RENDER_WAIT_S = 20.0  # below the parent's default timeout, so a stuck render is reported


class VoiceNotFound(LookupError):
    """espeak-ng has no voice matching the request."""


class Renderer:
    """A pyttsx3 espeak engine, configured afresh for every render."""

    def __init__(self) -> None:
        # Imported here so that a broken install becomes an error reply, not a crash.
        import pyttsx3
        from pyttsx3.drivers import _espeak

        self._engine = pyttsx3.init("espeak")
        self._espeak = _espeak
        self._voices: list[Any] = list(self._engine.getProperty("voices"))

    def render(self, text: str, voice: str, rate: int, path: Path) -> int:
        """Render ``text`` into an 8 kHz WAV at ``path``; returns its sample count."""
        voice_id = resolve_voice(voice, self._voices)
        # pyttsx3 runs espeak in asynchronous mode: a rate change is queued, and each
        # runAndWait() cancels espeak if it is still finishing the previous message,
        # which restores the parameters saved when that message started.  Measured
        # here, the rate then applied to the wrong render (or not at all) about half
        # the time.  Draining espeak's queue before and after setting voice and rate
        # makes every render use exactly its own.
        self._espeak.Synchronize()
        self._engine.setProperty("voice", voice_id)
        self._engine.setProperty("rate", rate)
        self._espeak.Synchronize()
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = path.with_name(f".{path.name}.{os.getpid()}.raw.wav")
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            self._save(text, raw)
            prompt = decode_wav(raw.read_bytes(), str(raw))  # 22.05 kHz -> 8 kHz
            with open(tmp, "wb") as out:
                out.write(encode_wav(prompt.pcm))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)  # readers see the old state or the whole file
        finally:
            raw.unlink(missing_ok=True)
            tmp.unlink(missing_ok=True)
        return len(prompt.pcm)

    def _save(self, text: str, raw: Path) -> None:
        """``save_to_file`` + ``runAndWait``, then wait until the file is really written.

        In pyttsx3 2.99 the espeak driver's ``runAndWait`` returns as soon as the
        synthesis is queued (the queued end-of-loop command runs before synthesis
        starts); the WAV is written later, from espeak's callback thread, just before
        pyttsx3 announces "finished-utterance".  So that announcement is the signal.
        """
        finished = threading.Event()
        token = self._engine.connect("finished-utterance", lambda **_: finished.set())
        try:
            self._engine.save_to_file(text, str(raw))
            self._engine.runAndWait()
            if not finished.wait(_RENDER_WAIT_S):
                raise RuntimeError(f"espeak-ng did not finish within {_RENDER_WAIT_S} s")
        finally:
            self._engine.disconnect(token)
        if not raw.exists():
            raise RuntimeError("pyttsx3 finished without writing the audio file")


def resolve_voice(spec: str, voices: list[Any]) -> str:
    """The espeak voice id for ``spec``: an id, a name, a language, or an id's last part."""
    wanted = spec.lower()
    matchers = (
        lambda v: v.id.lower() == wanted,
        lambda v: (v.name or "").lower() == wanted,
        lambda v: wanted in [lang.lower() for lang in (v.languages or [])],
        lambda v: v.id.lower().rsplit("/", 1)[-1] == wanted,
    )
    for matches in matchers:
        for voice in voices:
            if matches(voice):
                return str(voice.id)
    raise VoiceNotFound(f"espeak-ng has no voice {spec!r} (list them with `espeak-ng --voices`)")


def serve(requests: TextIO, replies: TextIO) -> None:
    """Answer render requests until ``requests`` ends."""
    renderer: Renderer | None = None
    for line in requests:
        request = json.loads(line)
        reply: dict[str, Any]
        try:
            renderer = renderer or Renderer()
            samples = renderer.render(
                request["text"], request["voice"], request["rate"], Path(request["path"])
            )
            reply = {"ok": True, "samples": samples}
        except VoiceNotFound as exc:
            reply = {"ok": False, "error": "voice", "message": str(exc)}
        except Exception as exc:  # the worker's edge: report, stay alive for the next one
            reply = {"ok": False, "error": "render", "message": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main() -> None:
    """Keep the protocol on a private copy of stdout; pyttsx3 prints chatter to fd 1."""
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    serve(sys.stdin, replies)


if __name__ == "__main__":
    main()
