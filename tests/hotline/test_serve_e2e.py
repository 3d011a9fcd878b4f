"""End to end: ``hotline serve`` as a real process with its embedded PostgreSQL."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.peer


def hotline_command() -> list[str]:
    script = Path(sys.executable).with_name("hotline")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "hotline"]


def free_port(*kinds: socket.SocketKind) -> int:
    """A port free for every socket kind in ``kinds`` on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kinds[0]) as first:
            first.bind(("127.0.0.1", 0))
            port: int = first.getsockname()[1]
            try:
                for kind in kinds[1:]:
                    with socket.socket(socket.AF_INET, kind) as other:
                        other.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def get_health(port: int) -> tuple[int, dict[str, object]] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)
    except OSError:
        return None


def test_serve_until_sigterm(tmp_path: Path) -> None:
    http_port = free_port(socket.SOCK_STREAM)
    sip_port = free_port(socket.SOCK_STREAM, socket.SOCK_DGRAM)
    data_dir = tmp_path / "var"
    command = [
        *hotline_command(), "serve", "--sip-host", "127.0.0.1", "--sip-port", str(sip_port),
        "--http-host", "127.0.0.1", "--http-port", str(http_port), "--rtp-ports", "41000-41099",
        "--data-dir", str(data_dir), "--demo",
    ]  # fmt: skip
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr)
    try:
        health = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            health = get_health(http_port)
            if health is not None and health[0] == 200:
                break
            time.sleep(0.1)
        assert health is not None and health[0] == 200, (health, err.read_text())
        assert health[1]["database"] == "ok"
        sip = health[1]["sip"]
        if isinstance(sip, dict) and sip.get("enabled") and shutil.which("sipp"):
            place_one_call(sip_port, tmp_path)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0, err.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert f"web http://127.0.0.1:{http_port}/" in out.read_text()
    assert "Hotline is up" in out.read_text()
    # The embedded PostgreSQL was stopped, not left behind.
    assert not (data_dir / "pg" / "postmaster.pid").exists(), err.read_text()


def place_one_call(sip_port: int, workdir: Path) -> None:
    """One SIPp call (INVITE, ACK, BYE) through the server; SIPp exits 0 iff it succeeded."""
    result = subprocess.run(
        ["sipp", "-sn", "uac", f"127.0.0.1:{sip_port}", "-i", "127.0.0.1",
         "-p", str(free_port(socket.SOCK_DGRAM)), "-m", "1", "-nostdin",
         "-recv_timeout", "5s", "-trace_err"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:]


def test_bad_option_exits_2() -> None:
    result = subprocess.run(
        [*hotline_command(), "serve", "--rtp-ports", "nope"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--rtp-ports" in result.stderr


@pytest.mark.skipif(shutil.which("true") is None, reason="needs a POSIX userland")
def test_busy_port_exits_1_with_message(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*hotline_command(), "serve", "--http-host", "127.0.0.1", "--http-port", str(port),
             "--sip-host", "127.0.0.1", "--sip-port", str(free_port(socket.SOCK_DGRAM)),
             "--data-dir", str(tmp_path / "var")],
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "hotline: error: OSError" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "var" / "pg" / "postmaster.pid").exists()
