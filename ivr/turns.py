"""When a question has gone unanswered: the no-input rule of one input turn, sans I/O.

A live question plays its prompts, then waits for a key or speech. The rules a caller
relies on:

- the no-input timer starts when the last prompt ends (a long prompt never eats the
  caller's time to answer), and it is the flow's configured ``timeout``;
- while a recognizer listens, its endpointer owns the turn: it runs the same timeout
  from the end of the prompt, and once the caller started speaking it waits for the end
  of the utterance however late that is. The IVR's own timer must never cancel a turn in
  progress, so while a recognizer listens the timer only fires ``grace`` seconds later,
  as a safety net for a recognizer that never answers;
- when the recognizer gives up without an answer (no engine for the language, a failed
  worker), the plain timer rules again (and may already have run out).

`ivr.live.LiveCall.ask` feeds it the events and sleeps until `deadline`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the longest a recognizer may own a turn past the no-input timeout: the endpointer's
#: longest utterance (15 s), its end silence and a slow final decode
LISTEN_GRACE = 20.0


@dataclass
class NoInputTimer:
    """The no-input deadline of one question (times on the call clock, seconds)."""

    timeout: float
    listening: bool = False
    grace: float = LISTEN_GRACE
    prompt_end: float | None = None

    def prompt_ended(self, now: float) -> None:
        """The prompts finished (played out or interrupted): the timer starts."""
        if self.prompt_end is None:
            self.prompt_end = now

    def recognizer_done(self) -> None:
        """The recognizer stopped listening without an answer for the flow."""
        self.listening = False

    def deadline(self) -> float | None:
        """When the question counts as unanswered; None while a prompt still plays."""
        if self.prompt_end is None:
            return None
        return self.prompt_end + self.timeout + (self.grace if self.listening else 0.0)

    def expired(self, now: float) -> bool:
        deadline = self.deadline()
        return deadline is not None and now >= deadline
