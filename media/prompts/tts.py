"""Text-to-speech prompts: pyttsx3 with its espeak-ng driver, rendered once, cached on disk.

:meth:`PromptCache.speech` returns the 8 kHz prompt for a text.  The cache key hashes
the engine (pyttsx3 and espeak-ng versions), the voice, the rate and the text, so an
upgrade of either engine re-renders instead of serving stale audio.  Lookups go
memory, then disk, then render; concurrent requests for the same prompt share one
lookup.  Rendering happens in a dedicated worker process
(:mod:`media.prompts._tts_worker`), never on the event loop: pyttsx3's espeak driver
is process-global and polls in its own loop.  The worker is started on the first
miss, talks JSON lines over its stdin/stdout, renders one request at a time, and is
killed and restarted if a render hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

from media.prompts.audio import Prompt, PromptError, load_wav

LANGUAGE_VOICES: dict[str, str] = {
    "en": "gmw/en-us",  # espeak's own "en" is British; callers here expect American
    "pl": "zlw/pl",
    "ko": "ko",
}
"""Language code -> espeak-ng voice; other codes are looked up among espeak's languages."""

DEFAULT_RATE_WPM = 175  # espeak-ng's default (pyttsx3 would otherwise force 200)
MIN_RATE_WPM, MAX_RATE_WPM = 80, 450  # espeak-ng's accepted speaking rates

_CACHE_FORMAT = "hotline-prompt-v1 8000Hz mono s16"  # bump when stored audio changes
_WORKER_MODULE = "media.prompts._tts_worker"


class VoiceNotFoundError(PromptError):
    """espeak-ng has no voice for the requested language or voice name."""


class PromptCache:
    """Speech prompts rendered once per (engine, voice, rate, text) and kept as WAVs.

    ``renders`` counts texts actually sent to the TTS engine (hits do not count).
    Close with :meth:`aclose` (or ``async with``) to stop the worker process; if
    forgotten, the worker exits by itself when this process does.
    """

    def __init__(
        self, directory: Path, *, render_timeout: float = 30.0, memory_entries: int = 256
    ) -> None:
        self.directory = Path(directory)
        self.render_timeout = render_timeout
        self.renders = 0
        self._memory_entries = memory_entries
        self._memory: OrderedDict[str, Prompt] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[Prompt]] = {}
        self._engine: str | None = None
        self._worker = _TtsWorker()

    async def speech(
        self,
        text: str,
        *,
        language: str = "en",
        voice: str | None = None,
        rate_wpm: int | None = None,
    ) -> Prompt:
        """The prompt speaking ``text``; renders off the loop on the first request only.

        ``voice`` (an espeak voice id or name, e.g. ``"gmw/en-gb-x-rp"``) overrides
        ``language``.  Raises :class:`VoiceNotFoundError` when espeak-ng lacks the
        voice and :class:`PromptError` when rendering fails.
        """
        if not text.strip():
            raise ValueError("cannot speak an empty text")
        rate = DEFAULT_RATE_WPM if rate_wpm is None else rate_wpm
        if not MIN_RATE_WPM <= rate <= MAX_RATE_WPM:
            raise ValueError(f"rate_wpm must be {MIN_RATE_WPM}..{MAX_RATE_WPM}, got {rate_wpm}")
        spec = (voice or LANGUAGE_VOICES.get(language.lower(), language)).lower()
        key = cache_key(await self._engine_identity(), spec, rate, text)
        hit = self._memory.get(key)
        if hit is not None:
            self._memory.move_to_end(key)
            return hit
        task = self._inflight.get(key)
        if task is None:
            wanted = f"voice {voice!r}" if voice else f"language {language!r}"
            task = asyncio.ensure_future(self._fetch(key, text, spec, rate, wanted))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._settled(key, done))
        # Shielded: a caller that hangs up mid-render must not cancel it for the others.
        return await asyncio.shield(task)

    def path_for(self, key: str) -> Path:
        """Where the WAV for a :func:`cache_key` lives."""
        return self.directory / f"{key}.wav"

    async def aclose(self) -> None:
        """Stop the worker process and abandon renders still in flight."""
        for task in list(self._inflight.values()):
            task.cancel()
        await self._worker.close()

    async def __aenter__(self) -> PromptCache:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _engine_identity(self) -> str:
        if self._engine is None:
            self._engine = await asyncio.to_thread(engine_identity)
        return self._engine

    async def _fetch(self, key: str, text: str, spec: str, rate: int, wanted: str) -> Prompt:
        """Disk, else render; the result is remembered in memory either way."""
        path = self.path_for(key)
        prompt = await asyncio.to_thread(_read_cached, path)
        if prompt is None:
            await self._render(text, spec, rate, path, wanted)
            prompt = await asyncio.to_thread(load_wav, path)
        prompt = dataclasses.replace(prompt, source=text, kind="speech")
        self._remember(key, prompt)
        return prompt

    async def _render(self, text: str, spec: str, rate: int, path: Path, wanted: str) -> None:
        self.renders += 1
        reply = await self._worker.request(
            {"text": text, "voice": spec, "rate": rate, "path": str(path)}, self.render_timeout
        )
        if reply.get("ok"):
            return
        if reply.get("error") == "voice":
            raise VoiceNotFoundError(f"espeak-ng has no voice for {wanted}: {reply['message']}")
        raise PromptError(f"TTS render of {text[:60]!r} failed: {reply.get('message')}")

    def _remember(self, key: str, prompt: Prompt) -> None:
        self._memory[key] = prompt
        self._memory.move_to_end(key)
        while len(self._memory) > self._memory_entries:
            self._memory.popitem(last=False)

    def _settled(self, key: str, task: asyncio.Task[Prompt]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here so an unawaited failure is not logged twice


def cache_key(engine: str, voice: str, rate_wpm: int, text: str) -> str:
    """Hex digest naming one rendering; JSON framing keeps the fields unambiguous."""
    material = json.dumps([_CACHE_FORMAT, engine, voice, rate_wpm, text], ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:40]


def engine_identity() -> str:
    """``"pyttsx3 <version> espeak-ng <version>"`` (blocking: loads the espeak library)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        from pyttsx3.drivers import _espeak

        espeak = _espeak.Info().decode("ascii", "replace")
        return f"pyttsx3 {version('pyttsx3')} espeak-ng {espeak}"
    except (ImportError, RuntimeError, OSError, PackageNotFoundError) as exc:
        raise PromptError(
            f"pyttsx3 with espeak-ng is not usable: {exc} (install the espeak-ng package)"
        ) from exc


def _read_cached(path: Path) -> Prompt | None:
    """The cached prompt, or None if absent; an unreadable entry counts as absent."""
    if not path.exists():
        return None
    try:
        return load_wav(path)
    except PromptError:
        return None  # re-rendering overwrites it atomically


class _TtsWorker:
    """Client side of the worker process: one request at a time, restart on trouble."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def request(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request and wait for its reply, killing the worker if it hangs."""
        async with self._lock:
            try:
                async with asyncio.timeout(timeout):
                    reply = await self._exchange(request)
                if reply.get("error") == "render":
                    await self._kill()  # pyttsx3's state after a failure is unknown: start afresh
                return reply
            except TimeoutError:
                await self._kill()
                raise PromptError(
                    f"TTS worker did not answer within {timeout} s; restarted"
                ) from None
            except BaseException:
                # Cancelled or broken mid-exchange: a late reply would be read as the
                # answer to the next request, so this worker cannot be reused.
                await self._kill()
                raise

    async def _exchange(self, request: dict[str, Any]) -> dict[str, Any]:
        process = await self._ensure_started()
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write((json.dumps(request) + "\n").encode("ascii"))
        await process.stdin.drain()
        line = await process.stdout.readline()
        if not line:
            status = await process.wait()
            self._process = None
            raise PromptError(f"TTS worker exited with status {status}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def _ensure_started(self) -> asyncio.subprocess.Process:
        if self._process is None or self._process.returncode is not None:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                _WORKER_MODULE,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        return self._process

    async def close(self) -> None:
        """End of input asks the worker to exit; kill it if it does not."""
        async with self._lock:
            process, self._process = self._process, None
            if process is None or process.returncode is not None:
                return
            assert process.stdin is not None
            process.stdin.close()
            try:
                async with asyncio.timeout(5):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()

    async def _kill(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
