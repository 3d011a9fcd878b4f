"""First-contact resolution (FCR), for reports.

A contact is first-contact resolved when it was marked resolved and the same customer
(or, for a caller who is not a customer, the same number) had no other contact about the
same thing (its topic, else its queue) within ``window`` (7 days) before or after it:
not a repeat of an earlier call, and not followed by one. Until the window after a
contact has passed the answer may still change, so it is undecided (None).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

WINDOW = timedelta(days=7)

# $1 now, $2 window; the caller adds its own WHERE on `i`.
_FCR = """
SELECT i.id, i.resolved,
  CASE
    WHEN NOT i.resolved THEN false
    WHEN EXISTS (
      SELECT 1 FROM crm_interactions o
      WHERE o.id <> i.id
        AND (o.customer_id = i.customer_id OR (i.customer_id IS NULL AND o.phone = i.phone))
        AND coalesce(o.topic, o.queue) IS NOT DISTINCT FROM coalesce(i.topic, i.queue)
        AND o.started_at BETWEEN i.started_at - $2::interval AND i.started_at + $2::interval
    ) THEN false
    WHEN i.started_at + $2::interval > $1 THEN NULL
    ELSE true
  END AS fcr
FROM crm_interactions i
"""


@dataclass(frozen=True, slots=True)
class FcrFigures:
    """FCR over a period: ``rate`` is first-contact resolved / decided contacts."""

    contacts: int
    resolved: int
    first_contact_resolved: int
    undecided: int  # resolved, but the window after them is still open

    @property
    def rate(self) -> float | None:
        """Share of decided contacts that were first-contact resolved (None: none decided)."""
        decided = self.contacts - self.undecided
        return None if decided == 0 else self.first_contact_resolved / decided


async def fcr_figures(
    pool: Any,
    since: datetime,
    until: datetime,
    now: datetime,
    *,
    queue: str | None = None,
    window: timedelta = WINDOW,
) -> FcrFigures:
    """FCR of the contacts started in [``since``, ``until``), optionally of one queue."""
    row = await pool.fetchrow(
        f"SELECT count(*) AS contacts, count(*) FILTER (WHERE resolved) AS resolved,"
        f" count(*) FILTER (WHERE fcr) AS fcr, count(*) FILTER (WHERE fcr IS NULL) AS undecided"
        f" FROM ({_FCR} WHERE i.started_at >= $3 AND i.started_at < $4"
        f" AND ($5::text IS NULL OR i.queue = $5)) AS f",
        now,
        window,
        since,
        until,
        queue,
    )
    return FcrFigures(row["contacts"], row["resolved"], row["fcr"], row["undecided"])


async def first_contact_resolved(
    pool: Any, interaction_id: int, now: datetime, *, window: timedelta = WINDOW
) -> bool | None:
    """Whether one contact was first-contact resolved; None while undecided or unknown."""
    row = await pool.fetchrow(f"{_FCR} WHERE i.id = $3", now, window, interaction_id)
    return None if row is None else row["fcr"]
