"""Garbage-collector pauses and event-loop stalls of the SIP server under call load.

RFC 3261 keeps every transaction 32 s after it ends (Timer J, Accepted, Timer
D/K), so at a few hundred calls/s the process holds ten thousand calls' worth
of state, and every generation-2 collection walks all of it with the event loop
stopped.  This benchmark shows how long those stalls are.

For each rate a fresh worker process starts :class:`hotline.app.Hotline` in
process (uvloop, embedded PostgreSQL), applies the GC tuning ``hotline serve``
applies (``hotline.app.tune_gc``; ``--no-gc-tuning`` skips it), and runs
SIPp's built-in ``uac`` scenario against it for ``--seconds`` (past the 32 s
the RFC retains transactions, so the heap reaches its steady state).  It
records every collection's pause (``gc.callbacks``), the lag of a 10 ms
``asyncio.sleep`` loop, and SIPp's INVITE->200 response times
(``-trace_rtt -rtt_freq 1``).

    .venv/bin/python bench/sip_gc.py                        # 100, 200, 300 calls/s, 40 s each
    .venv/bin/python bench/sip_gc.py --rates 300 --seconds 60 --repeat 3
    .venv/bin/python bench/sip_gc.py --threshold 700,10,10  # try other gc thresholds

Columns: calls ok/failed; gen-2 collections and all collections; time spent
collecting (ms per second of load); max pause over all collections, wall and
"(cpu)" (the loop thread's CPU time: on a shared machine the wall time also
counts waiting for a CPU), p99 pause, max gen-2 pause (ms); event-loop lag
p99/max and "(cpu)" (of the worst lag, the part the loop thread spent on the
CPU: what our own code can have caused) (ms);
GC-tracked objects when SIPp finishes (``gc.get_objects()``, frozen ones not
counted) and the frozen count; SIPp INVITE->200 p50/p99 (ms); CPU of the
server process (its PostgreSQL excluded).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import gc
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

WATCHDOG_PERIOD = 0.010  # s: the sleep whose overshoot is the event-loop lag


@dataclass
class Result:
    rate: int
    ok: int
    failed: int
    gen2: int
    collections: int
    gc_ms_per_s: float
    gc_max_ms: float
    gc_max_cpu_ms: float
    gc_p99_ms: float
    gen2_max_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    lag_max_cpu_ms: float
    objects: int
    frozen: int
    rtt_p50_ms: float
    rtt_p99_ms: float
    cpu_pct: float
    tuning: str


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the worker: one server process, one rate --------------------------------------


class GcPauses:
    """Every collection's generation, wall time and CPU time (ms), through ``gc.callbacks``.

    On a shared machine the wall time includes waiting for a CPU; the thread's
    CPU time is what the collection itself cost.
    """

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float, float]] = []
        self._started = (0.0, 0.0)

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = (time.perf_counter(), time.thread_time())
        else:
            wall, cpu = self._started
            self.pauses.append(
                (info["generation"], ms_since(wall, time.perf_counter()),
                 ms_since(cpu, time.thread_time()))
            )  # fmt: skip


def ms_since(start: float, end: float) -> float:
    return (end - start) * 1e3


async def watch_lag(samples: list[tuple[float, float]]) -> None:
    """Append how late each ``WATCHDOG_PERIOD`` sleep wakes up, forever: (lag, cpu) in ms.

    ``cpu`` is the smaller of the lag and the CPU time the loop's thread used
    meanwhile: the part of the lag our own code can have caused (the rest is
    waiting for a CPU other processes hold).
    """
    while True:
        wall, cpu = time.perf_counter(), time.thread_time()
        await asyncio.sleep(WATCHDOG_PERIOD)
        lag = ms_since(wall, time.perf_counter()) - WATCHDOG_PERIOD * 1e3
        samples.append((lag, min(lag, ms_since(cpu, time.thread_time()))))


async def run_sipp(
    port: int, rate: int, seconds: int, workdir: Path
) -> tuple[int, int, list[float]]:
    """SIPp ``uac`` at ``rate`` calls/s for ``seconds``: (ok, failed, INVITE->200 times ms)."""
    for old in workdir.glob("uac_*"):
        old.unlink()
    args = [
        "sipp", "-sn", "uac", f"127.0.0.1:{port}", "-i", "127.0.0.1", "-p", str(port + 10),
        "-r", str(rate), "-m", str(rate * seconds), "-l", str(max(1000, rate * 5)),
        "-nostdin", "-recv_timeout", "10s", "-timeout", f"{seconds + 60}s",
        "-trace_stat", "-stf", "uac_stat.csv", "-fd", "1",
        "-trace_rtt", "-rtt_freq", "1",
    ]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    await proc.wait()
    rows = list(csv.reader((workdir / "uac_stat.csv").open(), delimiter=";"))
    last = dict(zip(rows[0], rows[-1], strict=False))
    rtts: list[float] = []
    for path in workdir.glob("uac_*_rtt.csv"):
        for row in list(csv.reader(path.open(), delimiter=";"))[1:]:
            with contextlib.suppress(ValueError, IndexError):
                rtts.append(float(row[1]))  # Date_ms;response_time_ms;rtd_no
    return int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"]), rtts


def apply_tuning(enabled: bool, threshold: tuple[int, ...] | None) -> str:
    """What ``hotline serve`` does to the collector after start-up, or an override."""
    from hotline import app

    tune = getattr(app, "tune_gc", None)  # absent in trees older than the tuning
    if enabled and tune is not None:
        tune()
    if threshold is not None:
        gc.set_threshold(*threshold)
    freeze = "freeze " if gc.get_freeze_count() else ""
    return freeze + ",".join(str(t) for t in gc.get_threshold())


async def worker(args: argparse.Namespace) -> Result:
    from hotline.app import Hotline
    from hotline.config import Config

    workdir = Path(args.workdir)
    config = Config(
        sip_host="127.0.0.1", sip_port=args.port, http_host="127.0.0.1",
        http_port=args.port + 1, data_dir=workdir / "data", log_level="WARNING",
    )  # fmt: skip
    pauses, lag = GcPauses(), list[tuple[float, float]]()
    async with Hotline(config):
        tuning = apply_tuning(not args.no_gc_tuning, args.threshold)
        gc.callbacks.append(pauses)
        watchdog = asyncio.create_task(watch_lag(lag))
        cpu0, wall0 = time.process_time(), time.monotonic()
        ok, failed, rtts = await run_sipp(args.port, args.rate, args.seconds, workdir)
        wall = time.monotonic() - wall0
        cpu = (time.process_time() - cpu0) / wall * 100
        watchdog.cancel()
        gc.callbacks.remove(pauses)
        objects, frozen = len(gc.get_objects()), gc.get_freeze_count()
    durations = [ms for _, ms, _ in pauses.pauses]
    gen2 = [ms for generation, ms, _ in pauses.pauses if generation == 2]
    lags = [ms for ms, _ in lag]
    return Result(
        args.rate, ok, failed, len(gen2), len(durations), sum(durations) / wall,
        max(durations, default=0.0), max((c for _, _, c in pauses.pauses), default=0.0),
        percentile(durations, 0.99), max(gen2, default=0.0), percentile(lags, 0.99),
        max(lags, default=0.0), max((c for _, c in lag), default=0.0), objects, frozen,
        percentile(rtts, 0.5), percentile(rtts, 0.99), cpu, tuning,
    )  # fmt: skip


# -- the driver: one worker per rate, then the table ---------------------------------


def run_worker(args: argparse.Namespace, rate: int, workdir: Path) -> Result:
    cmd = [
        sys.executable, str(Path(__file__).resolve()), "--worker", "--rate", str(rate),
        "--seconds", str(args.seconds), "--port", str(args.port), "--workdir", str(workdir),
    ]  # fmt: skip
    if args.no_gc_tuning:
        cmd.append("--no-gc-tuning")
    if args.threshold is not None:
        cmd += ["--threshold", ",".join(map(str, args.threshold))]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"worker at {rate} calls/s failed ({done.returncode})")
    return Result(**json.loads(done.stdout.strip().splitlines()[-1]))


HEADER = (
    "rate", "ok", "failed", "gen2", "gcs", "gc ms/s", "gc max", "(cpu)", "gc p99", "gen2 max",
    "lag p99", "lag max", "(cpu)", "objects", "frozen", "200 p50", "200 p99", "cpu %",
)  # fmt: skip


def row(r: Result) -> tuple[object, ...]:
    times = (
        r.gc_ms_per_s, r.gc_max_ms, r.gc_max_cpu_ms, r.gc_p99_ms, r.gen2_max_ms, r.lag_p99_ms,
        r.lag_max_ms, r.lag_max_cpu_ms,
    )  # fmt: skip
    return (
        r.rate, r.ok, r.failed, r.gen2, r.collections, *(f"{t:.1f}" for t in times), r.objects,
        r.frozen, f"{r.rtt_p50_ms:.1f}", f"{r.rtt_p99_ms:.1f}", f"{r.cpu_pct:.0f}",
    )  # fmt: skip


def print_table(results: list[Result]) -> None:
    print(f"gc tuning: {results[0].tuning if results else '?'}; times in ms")
    lines = [HEADER, *(tuple(str(cell) for cell in row(r)) for r in results)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    for line in lines:
        print(" ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="100,200,300", help="comma-separated calls/s")
    parser.add_argument("--seconds", type=int, default=40, help="duration of each step")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each rate")
    parser.add_argument("--port", type=int, default=28160, help="SIP port (HTTP +1, SIPp +10)")
    parser.add_argument("--no-gc-tuning", action="store_true", help="skip hotline.app.tune_gc")
    parser.add_argument(
        "--threshold",
        type=lambda text: tuple(int(t) for t in text.split(",")),
        help="gc.set_threshold values applied after the tuning, e.g. 700,10,10",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.worker:
        import uvloop

        print(json.dumps(asdict(uvloop.run(worker(args)))))
        return
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="hotline-gc-") as tmp:
        for rate in [int(r) for r in args.rates.split(",")]:
            for _ in range(args.repeat):
                results.append(run_worker(args, rate, Path(tmp)))
                r = results[-1]
                print(
                    f"  {rate}/s: gen2={r.gen2} gen2 max={r.gen2_max_ms:.1f}ms "
                    f"lag max={r.lag_max_ms:.1f}ms 200 p99={r.rtt_p99_ms:.1f}ms",
                    file=sys.stderr,
                    flush=True,
                )
    print_table(results)


if __name__ == "__main__":
    main()
