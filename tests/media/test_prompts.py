"""Prompts: real espeak-ng rendering through pyttsx3, WAV conversion, tones."""

from __future__ import annotations

import asyncio
import subprocess
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from media.prompts.audio import (
    SAMPLE_RATE,
    Prompt,
    PromptError,
    decode_wav,
    encode_wav,
    load_wav,
    load_wav_async,
)
from media.prompts.tones import RINGBACK, beep, music_on_hold, ringback, silence
from media.prompts.tts import PromptCache, VoiceNotFoundError, cache_key

needs_espeak = pytest.mark.peer  # make test installs it; never skipped
needs_sox = pytest.mark.peer  # make test installs it; never skipped


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if len(pcm) else 0.0


def peak_hz(pcm: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    return float(np.fft.rfftfreq(len(pcm), 1 / rate)[np.argmax(spectrum)])


def tone(hz: float, seconds: float, rate: int, level: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return level * np.sin(2 * np.pi * hz * t)


# -- text to speech ------------------------------------------------------------------


@pytest.fixture
async def cache(tmp_path: Path) -> AsyncIterator[PromptCache]:
    async with PromptCache(tmp_path / "tts") as prompts:
        yield prompts


@needs_espeak
async def test_speech_is_8k_mono_speech_rendered_once(cache: PromptCache) -> None:
    prompt = await cache.speech("Welcome to the shop")
    assert prompt.pcm.dtype == np.int16 and prompt.pcm.ndim == 1
    assert (prompt.kind, prompt.source) == ("speech", "Welcome to the shop")
    assert 500 <= prompt.duration_ms <= 5000
    assert rms(prompt.pcm) > 1000  # silence would be ~0; speech is loud
    assert cache.renders == 1

    again = await cache.speech("Welcome to the shop")
    assert again is prompt and cache.renders == 1

    stored = list(cache.directory.glob("*.wav"))
    assert len(stored) == 1  # and no leftover temporary files
    assert not [p for p in cache.directory.iterdir() if p.name.startswith(".")]
    with wave.open(str(stored[0])) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)


@needs_espeak
async def test_disk_cache_survives_a_new_cache_object(cache: PromptCache) -> None:
    first = await cache.speech("Your order has shipped")
    async with PromptCache(cache.directory) as fresh:
        second = await fresh.speech("Your order has shipped")
        assert fresh.renders == 0
    assert np.array_equal(first.pcm, second.pcm)


@needs_espeak
async def test_concurrent_identical_requests_render_once(cache: PromptCache) -> None:
    prompts = await asyncio.gather(*(cache.speech("Please hold") for _ in range(5)))
    assert cache.renders == 1
    assert all(p is prompts[0] for p in prompts)


@needs_espeak
async def test_event_loop_stays_responsive_during_render(cache: PromptCache) -> None:
    """A cold render (worker start-up included) runs while the event loop goes on.

    Behaviour, not timing: the ticker keeps ticking through the render (it would
    tick once if rendering blocked the loop). Lag figures belong in bench/.
    """
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            expected = loop.time() + 0.005
            await asyncio.sleep(0.005)
            lags.append(loop.time() - expected)

    ticking = asyncio.create_task(ticker())
    await cache.speech(
        "Thank you for calling. All of our agents are busy helping other "
        "customers. Please stay on the line and we will be with you shortly."
    )
    stop.set()
    await ticking
    assert cache.renders == 1 and len(lags) > 5


@needs_espeak
@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("pl", "Dzień dobry, witamy w sklepie. Proszę czekać."),
        ("ko", "안녕하세요, 잠시만 기다려 주세요."),
    ],
)
async def test_other_languages_render(cache: PromptCache, language: str, text: str) -> None:
    prompt = await cache.speech(text, language=language)
    assert 800 <= prompt.duration_ms <= 8000
    assert rms(prompt.pcm) > 1000


@needs_espeak
async def test_voice_and_language_spellings_share_one_voice(cache: PromptCache) -> None:
    by_language = await cache.speech("Goodbye", language="pl")
    by_voice = await cache.speech("Goodbye", voice="zlw/pl")
    assert by_voice is by_language and cache.renders == 1


@needs_espeak
async def test_missing_voice_is_a_clear_error(cache: PromptCache) -> None:
    with pytest.raises(VoiceNotFoundError, match="language 'xx-nowhere'"):
        await cache.speech("Hello", language="xx-nowhere")
    with pytest.raises(VoiceNotFoundError, match="voice 'no-such-voice'"):
        await cache.speech("Hello", voice="no-such-voice")
    # The worker survives a refused request.
    assert (await cache.speech("Hello")).duration_ms > 200


@needs_espeak
async def test_rate_changes_speed_and_does_not_stick(cache: PromptCache) -> None:
    normal = await cache.speech("one two three four five six")
    slow = await cache.speech("one two three four five six", rate_wpm=100)
    fast = await cache.speech("seven eight nine ten", rate_wpm=400)
    normal_again = await cache.speech("seven eight nine ten")
    assert slow.duration_ms > 1.3 * normal.duration_ms
    assert normal_again.duration_ms > 1.3 * fast.duration_ms
    assert cache.renders == 4
    assert await cache.speech("seven eight nine ten", rate_wpm=175) is normal_again


@needs_espeak
async def test_a_render_does_not_depend_on_the_previous_one(tmp_path: Path) -> None:
    """Voice and rate are set afresh each time: the same request sounds the same.

    espeak-ng itself varies by a few samples between identical renders, hence the
    tolerance; a leaked rate (400 wpm) or voice would be far outside it.
    """
    async with PromptCache(tmp_path / "a") as first, PromptCache(tmp_path / "b") as second:
        alone = await first.speech("Press one for orders")
        await second.speech("Naciśnij jeden", language="pl", rate_wpm=400)
        after_other = await second.speech("Press one for orders")
        polish = await second.speech("Press one for orders", language="pl")
    assert after_other.duration_ms == pytest.approx(alone.duration_ms, abs=5)
    assert abs(rms(after_other.pcm) - rms(alone.pcm)) < 0.02 * rms(alone.pcm)
    assert abs(polish.duration_ms - alone.duration_ms) > 50


@needs_espeak
async def test_hung_render_times_out_and_worker_restarts(cache: PromptCache) -> None:
    cache.render_timeout = 0.001  # shorter than the worker's start-up
    with pytest.raises(PromptError, match="did not answer"):
        await cache.speech("Too slow")
    cache.render_timeout = 30
    assert (await cache.speech("Too slow")).duration_ms > 200


@needs_espeak
async def test_failed_render_is_reported_and_the_worker_replaced(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    async with PromptCache(tmp_path / "a-file" / "tts") as prompts:
        with pytest.raises(PromptError, match="render of 'Hello' failed"):
            await prompts.speech("Hello")
        prompts.directory = tmp_path / "tts"
        assert (await prompts.speech("Hello")).duration_ms > 200


async def test_speech_rejects_misuse(tmp_path: Path) -> None:
    async with PromptCache(tmp_path) as prompts:
        with pytest.raises(ValueError, match="empty"):
            await prompts.speech("   ")
        with pytest.raises(ValueError, match="rate_wpm"):
            await prompts.speech("Hi", rate_wpm=1000)


def test_cache_key_separates_every_field() -> None:
    base = cache_key("e1", "gmw/en-us", 175, "hi")
    others = {
        cache_key("e2", "gmw/en-us", 175, "hi"),
        cache_key("e1", "zlw/pl", 175, "hi"),
        cache_key("e1", "gmw/en-us", 120, "hi"),
        cache_key("e1", "gmw/en-us", 175, "ho"),
    }
    assert base not in others and len(others) == 4


# -- WAV files -----------------------------------------------------------------------


def write_wav(path: Path, samples: np.ndarray, rate: int, width: int = 2) -> Path:
    """``samples``: float in [-1, 1], shape (n,) or (n, channels)."""
    frames = samples.reshape(len(samples), -1)
    if width == 1:
        raw = np.clip(np.rint(frames * 127 + 128), 0, 255).astype(np.uint8).tobytes()
    else:
        raw = np.rint(frames * 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(frames.shape[1])
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(raw)
    return path


@pytest.mark.parametrize(
    ("rate", "channels", "width"),
    [
        (8000, 1, 2),
        (16000, 2, 2),
        (22050, 1, 1),
        (44100, 1, 2),
        (48000, 2, 2),
    ],
)
def test_wav_of_any_layout_becomes_8k_mono(
    tmp_path: Path, rate: int, channels: int, width: int
) -> None:
    signal = tone(1000, 1.0, rate)
    samples = np.stack([signal] * channels, axis=1) if channels > 1 else signal
    prompt = load_wav(write_wav(tmp_path / "in.wav", samples, rate, width))
    assert prompt.kind == "file" and prompt.source.endswith("in.wav")
    assert abs(len(prompt.pcm) - SAMPLE_RATE) <= 2
    assert abs(peak_hz(prompt.pcm) - 1000) < 3
    assert rms(prompt.pcm) == pytest.approx(0.5 / np.sqrt(2) * 32767, rel=0.05)


def test_stereo_channels_are_mixed_not_dropped(tmp_path: Path) -> None:
    left, right = tone(700, 1.0, 16000), tone(1300, 1.0, 16000)
    prompt = load_wav(write_wav(tmp_path / "lr.wav", np.stack([left, right], 1), 16000))
    spectrum = np.abs(np.fft.rfft(prompt.pcm.astype(np.float64)))
    freqs = np.fft.rfftfreq(len(prompt.pcm), 1 / SAMPLE_RATE)
    strongest = sorted(freqs[np.argsort(spectrum)[-2:]])
    assert strongest == pytest.approx([700, 1300], abs=2)


@needs_sox
@pytest.mark.parametrize(
    "encoding", [["-b", "24"], ["-e", "floating-point", "-b", "32"], ["-b", "16", "-c", "4"]]
)
def test_sox_extensible_and_float_files(tmp_path: Path, encoding: list[str]) -> None:
    path = tmp_path / "sox.wav"
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "48000",
            *encoding,
            str(path),
            "synth",
            "0.5",
            "sine",
            "440",
            "vol",
            "0.5",
        ],
        check=True,
    )
    prompt = load_wav(path)
    assert abs(len(prompt.pcm) - 4000) <= 2
    assert abs(peak_hz(prompt.pcm) - 440) < 4


@needs_sox
@pytest.mark.parametrize("encoding", ["u-law", "a-law"])
def test_g711_wav_files(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "g711.wav"
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-e",
            encoding,
            str(path),
            "synth",
            "0.5",
            "sine",
            "440",
            "vol",
            "0.5",
        ],
        check=True,
    )
    prompt = load_wav(path)
    assert len(prompt.pcm) == 4000 and abs(peak_hz(prompt.pcm) - 440) < 4
    assert rms(prompt.pcm) == pytest.approx(0.5 / np.sqrt(2) * 32767, rel=0.05)


@needs_sox
def test_unsupported_encoding_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "adpcm.wav"
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-e", "ima-adpcm", str(path), "synth", "0.1", "sine", "440"],
        check=True,
    )
    with pytest.raises(PromptError, match=r"adpcm.wav.*IMA ADPCM"):
        load_wav(path)


def test_bad_files_raise_prompt_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match=r"missing.wav"):
        load_wav(tmp_path / "missing.wav")
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"ID3\x04 definitely an mp3")
    with pytest.raises(PromptError, match=r"garbage.wav.*not a WAV"):
        load_wav(garbage)
    header_only = tmp_path / "header.wav"
    header_only.write_bytes(encode_wav(np.zeros(10, np.int16))[:30])
    with pytest.raises(PromptError, match=r"header.wav"):
        load_wav(header_only)


def test_truncated_data_chunk_keeps_what_is_there() -> None:
    data = encode_wav(np.arange(100, dtype=np.int16))[:-51]  # cut mid-sample
    assert np.array_equal(decode_wav(data).pcm, np.arange(74, dtype=np.int16))


def test_encode_decode_round_trip() -> None:
    pcm = np.array([-32768, -1, 0, 1, 32767], dtype=np.int16)
    assert np.array_equal(decode_wav(encode_wav(pcm)).pcm, pcm)


async def test_load_wav_async_and_an_asterisk_sound(tmp_path: Path) -> None:
    prompt = await load_wav_async(write_wav(tmp_path / "a.wav", tone(500, 0.2, 16000), 16000))
    assert len(prompt.pcm) == 1600
    asterisk = Path("/usr/share/asterisk/sounds/en/hello-world.wav")
    if asterisk.exists():
        hello = await load_wav_async(asterisk)
        assert hello.duration_ms > 500 and rms(hello.pcm) > 300


def test_prompt_is_read_only_and_validated() -> None:
    pcm = np.zeros(10, np.int16)
    prompt = Prompt(pcm=pcm, source="x", kind="tone")
    with pytest.raises(ValueError):
        prompt.pcm[0] = 1
    pcm[0] = 5  # the caller's own array stays writable
    with pytest.raises(ValueError, match="int16"):
        Prompt(pcm=np.zeros(10), source="x", kind="tone")


# -- tones ---------------------------------------------------------------------------


def test_beep_and_silence() -> None:
    assert len(beep()) == 1600 and abs(peak_hz(beep()) - 1000) < 5
    assert abs(peak_hz(beep(ms=500, hz=1400)) - 1400) < 3
    assert len(silence(20)) == 160 and not silence(20).any()


def on_off(pcm: np.ndarray, step_s: float = 0.1) -> str:
    """The cadence as a string, one character per 100 ms: '#' tone, '.' silence."""
    step = round(step_s * SAMPLE_RATE)
    return "".join("#" if rms(pcm[i : i + step]) > 300 else "." for i in range(0, len(pcm), step))


def test_us_ringback_cadence_and_frequencies() -> None:
    pcm = ringback(12)
    assert len(pcm) == 12 * SAMPLE_RATE
    assert on_off(pcm) == ("#" * 20 + "." * 40) * 2
    spectrum = np.abs(np.fft.rfft(pcm[: 2 * SAMPLE_RATE].astype(np.float64)))
    freqs = np.fft.rfftfreq(2 * SAMPLE_RATE, 1 / SAMPLE_RATE)
    assert sorted(freqs[np.argsort(spectrum)[-2:]]) == pytest.approx([440, 480], abs=1)


def test_eu_and_uk_ringback() -> None:
    eu = ringback(10, country="eu")
    assert on_off(eu) == ("#" * 10 + "." * 40) * 2
    assert abs(peak_hz(eu[:SAMPLE_RATE]) - 425) < 3
    uk = ringback(3, country="UK")
    assert on_off(uk) == "####..####" + "." * 20
    with pytest.raises(ValueError, match="known: eu"):
        ringback(1, country="atlantis")
    assert set(RINGBACK) >= {"us", "eu", "pl"}


def test_music_on_hold_is_pleasant_and_loops_cleanly() -> None:
    music = music_on_hold(30)
    assert len(music) == 30 * SAMPLE_RATE and music.dtype == np.int16
    assert rms(music) > 1500 and np.max(np.abs(music)) < 0.5 * 32767  # audible, no clipping
    # The loop joint is no rougher than the music itself.
    steps = np.abs(np.diff(music.astype(np.int32)))
    joint = abs(int(music[0]) - int(music[-1]))
    assert joint <= np.percentile(steps, 50) + 1 and abs(int(music[0])) < 50
    # Energy sits inside the telephone band.
    spectrum = np.abs(np.fft.rfft(music.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(music), 1 / SAMPLE_RATE)
    assert spectrum[(freqs > 150) & (freqs < 3400)].sum() > 0.99 * spectrum.sum()
    # Not a drone: the harmony changes from bar to bar.
    bars = music.reshape(-1, 2 * SAMPLE_RATE)
    assert len({round(peak_hz(bar)) for bar in bars[:4]}) >= 3


def test_music_on_hold_lengths_are_whole_bars() -> None:
    assert len(music_on_hold(0.2)) == 2 * SAMPLE_RATE
    assert len(music_on_hold(5)) in (4 * SAMPLE_RATE, 6 * SAMPLE_RATE)
    assert np.array_equal(music_on_hold(4), music_on_hold(4))


# -- measured, not asserted (run with -s to see) ---------------------------------------


@needs_espeak
async def test_report_timings(cache: PromptCache) -> None:
    await cache.speech("Warm up")
    started = time.perf_counter()
    await cache.speech("Your call is important to us")
    rendered = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(100):
        await cache.speech("Your call is important to us")
    hit = (time.perf_counter() - started) / 100
    print(f"\nwarm render {rendered * 1e3:.1f} ms, memory hit {hit * 1e6:.1f} us")
