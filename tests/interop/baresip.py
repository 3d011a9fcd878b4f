"""baresip 1.0 as a scripted caller (TESTING.md §2): WAV in, WAV recording, RFC 4733 DTMF.

baresip runs as a subprocess with its own config folder; it is driven over its
``ctrl_tcp`` module (netstring-framed JSON commands and events).  ``aufile``
is its microphone (an 8 kHz mono S16 WAV), the ``sndfile`` filter records
what it hears as ``<rec>/dump-*-dec.wav``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CONFIG = """\
sip_listen      127.0.0.1:{sip_port}
net_interface   127.0.0.1
rtp_ports       {rtp_low}-{rtp_high}
audio_source    aufile,{source}
audio_player    aubridge,null
audio_alert     aubridge,null
module_path     /usr/lib/baresip/modules
module          g711.so
module          aufile.so
module          aubridge.so
module          sndfile.so
snd_path        {recordings}
module_tmp      account.so
module_app      menu.so
module          ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{ctrl_port}
"""


@dataclass
class BaresipCall:
    """What one scripted call saw: baresip's events and its recording."""

    events: list[dict[str, Any]] = field(default_factory=list)
    log: str = ""
    recording: np.ndarray | None = None

    def types(self) -> list[str]:
        return [e.get("type", "") for e in self.events]


class Baresip:
    """One baresip process; ``await call(uri, script)`` places a call and plays ``script``."""

    def __init__(self, workdir: Path, source_wav: Path, ports: tuple[int, int, int]) -> None:
        if shutil.which("baresip") is None:
            raise RuntimeError("baresip is not installed: `make test` installs baresip-core")
        self.workdir = workdir
        self.sip_port, self.ctrl_port, rtp_low = ports
        self.recordings = workdir / "rec"
        self.recordings.mkdir(parents=True, exist_ok=True)
        config_dir = workdir / "cfg"
        config_dir.mkdir(exist_ok=True)
        (config_dir / "config").write_text(
            CONFIG.format(
                sip_port=self.sip_port,
                rtp_low=rtp_low,
                rtp_high=rtp_low + 20,
                source=source_wav,
                recordings=self.recordings,
                ctrl_port=self.ctrl_port,
            )
        )
        (config_dir / "accounts").write_text(
            "<sip:4930555123@127.0.0.1>;regint=0;audio_codecs=PCMU\n"
        )
        self.config_dir = config_dir
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.result = BaresipCall()

    async def __aenter__(self) -> Baresip:
        self.proc = await asyncio.create_subprocess_exec(
            "baresip",
            "-f",
            str(self.config_dir),
            "-t",
            "60",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(100):
            try:
                self._reader, self._writer = await asyncio.open_connection(
                    "127.0.0.1", self.ctrl_port
                )
                break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            raise RuntimeError("baresip's ctrl_tcp did not come up")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            await self._send("quit")
            self._writer.close()
        if self.proc is not None:
            try:
                out, _ = await asyncio.wait_for(self.proc.communicate(), 10)
            except TimeoutError:
                self.proc.kill()
                out, _ = await self.proc.communicate()
            self.result.log = out.decode(errors="replace")
        self.result.recording = self._read_recording()

    async def _send(self, command: str, params: str = "") -> None:
        assert self._writer is not None
        body = {"command": command, "token": command}
        if params:
            body["params"] = params
        data = json.dumps(body).encode()
        self._writer.write(b"%d:%s," % (len(data), data))
        await self._writer.drain()

    async def _event(self, timeout: float) -> dict[str, Any] | None:
        assert self._reader is not None
        try:
            length = await asyncio.wait_for(self._reader.readuntil(b":"), timeout)
            data = await self._reader.readexactly(int(length[:-1]) + 1)
        except (TimeoutError, asyncio.IncompleteReadError):
            return None
        message: dict[str, Any] = json.loads(data[:-1])
        self.result.events.append(message)
        return message

    async def wait_for(self, event_type: str, timeout: float) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            message = await self._event(left)
            if message is not None and message.get("type") == event_type:
                return True
        return False

    async def dial(self, uri: str) -> bool:
        await self._send("dial", uri)
        return await self.wait_for("CALL_ESTABLISHED", 10)

    async def press(self, digit: str) -> None:
        await self._send("sndcode", digit)

    async def hangup(self) -> None:
        await self._send("hangup")

    async def speak(self, source_wav: Path) -> None:
        """Switch the microphone to ``source_wav`` (8 kHz mono S16) from its start, at once.

        baresip hangs up when its microphone file ends: pad the file with silence.
        """
        await self._send("ausrc", f"aufile,{source_wav}")

    def heard(self) -> np.ndarray:
        """What the caller has heard so far (the recording grows while the call runs)."""
        files = sorted(self.recordings.glob("dump-*-dec.wav"))
        if not files:
            return np.zeros(0, dtype=np.int16)
        data = files[-1].read_bytes()
        start = data.find(b"data")
        if start < 0:
            return np.zeros(0, dtype=np.int16)
        body = data[start + 8 :]
        return np.frombuffer(body[: len(body) // 2 * 2], dtype=np.int16)

    def _read_recording(self) -> np.ndarray | None:
        files = sorted(self.recordings.glob("dump-*-dec.wav"))
        if not files:
            return None
        with wave.open(str(files[-1])) as w:
            return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
