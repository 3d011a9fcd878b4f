"""SIP call rate: SIPp's built-in ``uac`` against ``hotline serve``, at rising rates.

For each rate, SIPp places ``rate * seconds`` calls (INVITE, 100, 180, 200, ACK,
BYE, 200) against one server process with its embedded PostgreSQL writing a
call record per call.  The same load then runs against SIPp's own ``uas`` (the
peer's figure on this machine, the ceiling of what SIPp can drive here).

    .venv/bin/python bench/sip_cps.py                      # default ladder, 20 s steps
    .venv/bin/python bench/sip_cps.py --rates 300 --seconds 60

Prints one table: rate, calls ok/failed, INVITE->200 p50/p99 (ms) and CPU of
the answering process, for hotline and for sipp uas.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOTLINE = ROOT / ".venv" / "bin" / "hotline"
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Step:
    target: str
    rate: int
    ok: int
    failed: int
    p50_ms: float
    p99_ms: float
    cpu_pct: float


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@contextlib.contextmanager
def hotline_server(sip_port: int, http_port: int, data_dir: Path) -> Iterator[int]:
    args = [
        str(HOTLINE),
        "serve",
        "--sip-host",
        "127.0.0.1",
        "--sip-port",
        str(sip_port),
        "--http-host",
        "127.0.0.1",
        "--http-port",
        str(http_port),
        "--data-dir",
        str(data_dir),
        "--log-level",
        "WARNING",
    ]
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "server.log").open("w")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz").status == 200:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError("hotline did not become healthy")
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()


@contextlib.contextmanager
def sipp_uas(port: int, workdir: Path) -> Iterator[int]:
    proc = subprocess.Popen(
        ["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(port), "-nostdin"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    try:
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def run_uac(
    target_port: int, rate: int, seconds: int, workdir: Path, local_port: int
) -> tuple[int, int, list[float]]:
    calls = rate * seconds
    for f in workdir.glob("uac_*"):
        f.unlink()
    cmd = [
        "timeout",
        str(seconds + 60),
        "sipp",
        "-sn",
        "uac",
        f"127.0.0.1:{target_port}",
        "-i",
        "127.0.0.1",
        "-p",
        str(local_port),
        "-r",
        str(rate),
        "-m",
        str(calls),
        "-l",
        str(max(1000, rate * 5)),
        "-nostdin",
        "-recv_timeout",
        "10s",
        "-trace_stat",
        "-stf",
        "uac_stat.csv",
        "-fd",
        "1",
        "-trace_rtt",
        "-rtt_freq",
        "1",
        "-trace_err",
    ]
    subprocess.run(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = list(csv.reader((workdir / "uac_stat.csv").open(), delimiter=";"))
    last = dict(zip(rows[0], rows[-1], strict=False))
    ok, failed = int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])
    rtts: list[float] = []
    for path in workdir.glob("uac_*_rtt.csv"):
        for row in list(csv.reader(path.open(), delimiter=";"))[1:]:
            with contextlib.suppress(ValueError, IndexError):
                rtts.append(float(row[1]))  # Date_ms;response_time_ms;rtd_no
    return ok, failed, rtts


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(
    target: str, pid: int, port: int, rate: int, seconds: int, workdir: Path, local_port: int
) -> Step:
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    ok, failed, rtts = run_uac(port, rate, seconds, workdir, local_port)
    cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0) * 100
    return Step(target, rate, ok, failed, percentile(rtts, 0.5), percentile(rtts, 0.99), cpu)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="100,200,300,400,500", help="comma-separated calls/s")
    parser.add_argument("--seconds", type=int, default=20, help="duration of each step")
    parser.add_argument("--port", type=int, default=25060)
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    steps: list[Step] = []
    with tempfile.TemporaryDirectory(prefix="hotline-cps-") as tmp:
        work = Path(tmp)
        with hotline_server(args.port, args.port + 1, work / "data") as pid:
            for rate in rates:
                steps.append(
                    measure("hotline", pid, args.port, rate, args.seconds, work, args.port + 10)
                )
                print_step(steps[-1], flush=True)
        with sipp_uas(args.port + 20, work) as pid:
            for rate in rates:
                steps.append(
                    measure(
                        "sipp uas", pid, args.port + 20, rate, args.seconds, work, args.port + 30
                    )
                )
                print_step(steps[-1], flush=True)
    print()
    header = ("target", "rate", "ok", "failed", "p50 ms", "p99 ms", "cpu %")
    print("{:<10} {:>6} {:>7} {:>7} {:>8} {:>8} {:>6}".format(*header))
    for s in steps:
        row = (s.target, s.rate, s.ok, s.failed, s.p50_ms, s.p99_ms, s.cpu_pct)
        print("{:<10} {:>6} {:>7} {:>7} {:>8.2f} {:>8.2f} {:>6.1f}".format(*row))
    for target in ("hotline", "sipp uas"):
        clean = [
            s.rate
            for s in steps
            if s.target == target and s.failed == 0 and s.ok == s.rate * args.seconds
        ]
        print(f"{target}: highest rate with 0 failed calls: {max(clean, default=0)} calls/s")


def print_step(step: Step, flush: bool = False) -> None:
    print(
        f"  {step.target} @ {step.rate}/s: ok={step.ok} failed={step.failed} "
        f"p50={step.p50_ms:.2f}ms p99={step.p99_ms:.2f}ms cpu={step.cpu_pct:.0f}%",
        file=sys.stderr,
        flush=flush,
    )


if __name__ == "__main__":
    main()
