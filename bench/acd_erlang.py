"""The ACD against queueing theory: the real router on a simulated clock versus Erlang C.

An M/M/c queue: Poisson arrivals, exponential handle times (mean 180 s), ``c`` agents, one
FIFO queue (longest-idle strategy, no wrap-up, agents answer at once, nobody abandons).
The simulation is a discrete-event loop around the real `routing.acd.Acd`: every arrival is
`enqueue` + `route`, every offer is answered at the moment it is made, every hang-up is
`end_call` + `route`.  The measured service level and ASA are the router's own queue figures
(`Acd.queue_figures`), counted after a warm-up; Erlang C gives

    C = P(wait > 0),  SL(T) = 1 - C * exp(-(c - A) * T / h),  ASA = C * h / (c - A)

with offered load A = lambda * h Erlangs and occupancy A / c.

    .venv/bin/python bench/acd_erlang.py                  # c = 10 and 50, occupancy 80-95 %
    .venv/bin/python bench/acd_erlang.py --calls 400000 --agents 20 --repeat 3

Columns: agents, occupancy, calls counted, measured SL vs Erlang C SL (answered within
T = 20 s), the difference in percentage points, measured ASA vs Erlang C ASA (s), and the
router's wall time per call (us).  Goal: SL within 2 points.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import time
from typing import Any

from routing.acd import Acd
from routing.events import OfferMade, RouterEvent
from routing.metrics import QueueCounters
from routing.model import QueueConfig

HANDLE = 180.0
SL_T = 20.0


def erlang_c(agents: int, load: float) -> float:
    """P(wait > 0) for ``load`` Erlangs on ``agents`` servers (Erlang B recursion)."""
    b = 1.0
    for k in range(1, agents + 1):
        b = load * b / (k + load * b)
    return agents * b / (agents - load * (1 - b))


def erlang_figures(agents: int, load: float) -> tuple[float, float]:
    """(service level within SL_T, ASA) of an M/M/c queue."""
    c = erlang_c(agents, load)
    sl = 1 - c * math.exp(-(agents - load) * SL_T / HANDLE)
    return sl, c * HANDLE / (agents - load)


def simulate(agents: int, occupancy: float, calls: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    rate = occupancy * agents / HANDLE
    acd = Acd()
    acd.set_queue(
        QueueConfig("q", strategy="longest_idle", ring_timeout=1e9, wrap_up=0.0, sl_seconds=SL_T)
    )
    for i in range(agents):
        acd.sign_in(f"a{i}", {}, ("en",), 0.0, ready=True)
    acd.route(0.0)
    warmup = calls // 10
    events: list[tuple[float, int, str, str]] = [(rng.expovariate(rate), 0, "arrive", "")]
    arrived, seq, counted_from = 0, 1, 0.0
    started = time.perf_counter()
    while events:
        now, _, kind, who = heapq.heappop(events)
        if kind == "arrive":
            if arrived == warmup:  # from here on the router's figures count
                acd.counters["q"] = QueueCounters(sl_seconds=SL_T)
                counted_from = now
            acd.enqueue(f"c{arrived}", "q", now=now)
            arrived += 1
            if arrived < calls:
                heapq.heappush(events, (now + rng.expovariate(rate), seq, "arrive", ""))
                seq += 1
        else:
            acd.end_call(who, now)
        for event in acd.route(now):
            seq = _answer(acd, event, now, events, rng, seq)
    elapsed = time.perf_counter() - started
    figures = acd.queue_figures(now)["q"]
    return {
        "sl": figures["service_level"],
        "asa": figures["asa"],
        "n": figures["answered"],
        "us_per_call": elapsed / calls * 1e6,
        "span_h": (now - counted_from) / 3600,
    }


def _answer(
    acd: Acd, event: RouterEvent, now: float, events: list[Any], rng: random.Random, seq: int
) -> int:
    if isinstance(event, OfferMade):
        acd.answer(event.offer.offer_id, now)
        hangup = now + rng.expovariate(1 / HANDLE)
        heapq.heappush(events, (hangup, seq, "hangup", event.offer.username))
        seq += 1
    return seq


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", default="10,50")
    parser.add_argument("--occupancy", default="0.80,0.85,0.90,0.95")
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=1, help="seeds per row (averaged)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(
        f"M/M/c, handle time {HANDLE:.0f} s, SL within {SL_T:.0f} s, {args.calls} calls per run"
        f" (first 10 % warm-up), {args.repeat} run(s) per row\n"
    )
    print(
        f"{'agents':>6}{'occ':>6}{'counted':>9}{'SL meas':>9}{'SL ErlC':>9}{'diff pt':>9}"
        f"{'ASA meas':>10}{'ASA ErlC':>10}{'us/call':>9}"
    )
    for agents in map(int, args.agents.split(",")):
        for occupancy in map(float, args.occupancy.split(",")):
            runs = [
                simulate(agents, occupancy, args.calls, args.seed + r) for r in range(args.repeat)
            ]
            sl = sum(r["sl"] for r in runs) / len(runs)
            asa = sum(r["asa"] for r in runs) / len(runs)
            counted = sum(r["n"] for r in runs)
            us = sum(r["us_per_call"] for r in runs) / len(runs)
            sl_theory, asa_theory = erlang_figures(agents, occupancy * agents)
            print(
                f"{agents:>6}{occupancy:>6.0%}{counted:>9}{sl:>9.2%}{sl_theory:>9.2%}"
                f"{(sl - sl_theory) * 100:>+9.2f}{asa:>10.1f}{asa_theory:>10.1f}{us:>9.1f}"
            )


if __name__ == "__main__":
    main()
