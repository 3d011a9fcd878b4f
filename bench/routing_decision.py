"""Routing decision time of the ACD core with 1,000 agents and 5,000 waiting calls.

One `routing.acd.Acd` holds 1,000 agents (random skills of five, levels 1-5, one or two of
three languages) and 5,000 callers waiting in ten queues (each queue needs one or two skills
at some minimum level; 20 % of callers add a ``vip`` level).  Two decisions are timed, each
including the whole `route` call that makes (or declines) the offer:

- **agent freed**: a busy agent becomes ready and `route` picks the best waiting call it can
  serve among the 5,000 (then, untimed, the call is answered and a new caller refills the
  line, so 5,000 always wait);
- **call arrives**: a caller arrives while 200 agents are available (none of them fits the
  5,000 who wait: those need skill level 5) and `route` picks one of them by the queue's
  strategy.

    .venv/bin/python bench/routing_decision.py                 # every strategy, 3,000 samples
    .venv/bin/python bench/routing_decision.py --samples 10000 --strategies longest_idle

Columns: p50, p99 and max in milliseconds, and the offers made.  Goal: p99 <= 5 ms.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable

import numpy as np

from routing import strategies
from routing.acd import Acd
from routing.events import OfferMade, RouterEvent
from routing.model import QueueConfig

SKILLS = ("orders", "returns", "billing", "tech", "sales")
LANGUAGES = ("en", "pl", "ko")
AGENTS = 1000
WAITING = 5000
AVAILABLE = 200


def build(strategy: str, rng: random.Random) -> tuple[Acd, list[QueueConfig]]:
    acd = Acd()
    queues = []
    for i in range(10):
        needs = rng.sample(SKILLS, rng.choice((1, 2)))
        queue = QueueConfig(
            f"q{i}", {s: rng.randint(1, 3) for s in needs}, strategy=strategy, wrap_up=30
        )
        acd.set_queue(queue)
        queues.append(queue)
    now = 0.0
    for i in range(AGENTS):
        skills = {s: rng.randint(1, 4) for s in rng.sample(SKILLS, rng.randint(2, 5))}
        if rng.random() < 0.3:
            skills["vip"] = rng.randint(1, 5)
        languages = rng.sample(LANGUAGES, rng.choice((1, 2)))
        acd.sign_in(f"agent{i}", skills, languages, now)  # not ready
    return acd, queues


def new_call(
    acd: Acd,
    queues: list[QueueConfig],
    rng: random.Random,
    n: int,
    now: float,
    level: int | None = None,
) -> None:
    queue = rng.choice(queues)
    extra = {"vip": rng.randint(1, 3)} if rng.random() < 0.2 else {}
    if level is not None:
        extra = {s: level for s in queue.skills}
    acd.enqueue(
        f"c{n}",
        queue.name,
        now=now,
        skills=extra,
        priority=int(rng.random() < 0.1),
        language=rng.choices(LANGUAGES, (6, 3, 1))[0],
    )


def timed(fn: Callable[[], list[RouterEvent]]) -> tuple[float, list[RouterEvent]]:
    start = time.perf_counter_ns()
    events = fn()
    return (time.perf_counter_ns() - start) / 1e6, events


def agent_freed(strategy: str, samples: int, seed: int) -> tuple[list[float], int]:
    rng = random.Random(seed)
    acd, queues = build(strategy, rng)
    now = 1.0
    for n in range(WAITING):
        new_call(acd, queues, rng, n, now)
    acd.route(now)
    times, offers, n = [], 0, WAITING
    names = list(acd.agents)
    for _ in range(samples):
        now += 0.01
        name = rng.choice(names)
        ms, events = timed(lambda: (acd.set_ready(name, now), acd.route(now))[1])  # noqa: B023
        times.append(ms)
        for event in events:
            if isinstance(event, OfferMade):
                offers += 1
                acd.answer(event.offer.offer_id, now)
                acd.set_not_ready(event.offer.username, "bench", now)
                acd.end_call(event.offer.username, now)
                acd.wrap_up_done(event.offer.username, now)
                new_call(acd, queues, rng, n, now)
                n += 1
        acd.set_not_ready(name, "bench", now) if acd.agents[
            name
        ].state.value == "available" else None
        acd.route(now)
    assert len(acd.calls) == WAITING
    return times, offers


def call_arrives(strategy: str, samples: int, seed: int) -> tuple[list[float], int]:
    rng = random.Random(seed)
    acd, queues = build(strategy, rng)
    now = 1.0
    for n in range(WAITING):
        new_call(acd, queues, rng, n, now, level=5)  # nobody below level 5 may take these
    for agent in list(acd.agents.values()):
        if agent.username in {f"agent{i}" for i in range(AVAILABLE)}:
            agent.skills = {s: min(level, 4) for s, level in agent.skills.items()}
            acd.set_ready(agent.username, now)
    acd.route(now)
    assert len(acd.calls) == WAITING
    times, offers, n = [], 0, WAITING
    for _ in range(samples):
        now += 0.01
        new_call(acd, queues, rng, n, now, level=1)
        n += 1
        ms, events = timed(lambda: acd.route(now))  # noqa: B023
        times.append(ms)
        for event in events:
            if isinstance(event, OfferMade):
                offers += 1
                acd.answer(event.offer.offer_id, now)
                acd.end_call(event.offer.username, now)
                acd.wrap_up_done(event.offer.username, now)
        acd.route(now)
        for call_id in list(acd.calls)[WAITING:]:  # callers nobody could take: drop them
            acd.abandon(call_id, now)
    return times, offers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--strategies", default=",".join(strategies.names()))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    gc.freeze()  # the collector's pauses are the server's business, not the router's
    print(f"{AGENTS} agents, {WAITING} waiting calls, {args.samples} decisions per row\n")
    print(f"{'scenario':<14}{'strategy':<16}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'offers':>8}")
    for scenario, run in (("agent freed", agent_freed), ("call arrives", call_arrives)):
        for strategy in args.strategies.split(","):
            times, offers = run(strategy, args.samples, args.seed)
            p50, p99 = np.percentile(times, [50, 99])
            print(
                f"{scenario:<14}{strategy:<16}{p50:>9.3f}{p99:>9.3f}{max(times):>9.3f}{offers:>8}"
            )


if __name__ == "__main__":
    main()
