"""The demo caller experience until the IVR flows land: greet, echo digits, bye on #."""

from __future__ import annotations

from media.call import Call, Hangup
from media.dtmf.events import DtmfDigit

GREETING = (
    "Welcome to the Hotline demo. Press any key on your phone and I will repeat it. "
    "Press the pound key to hang up."
)
GOODBYE = "Thank you for calling. Goodbye."
DIGIT_WORDS = {
    "0": "zero",
    "1": "one",
    "2": "two",
    "3": "three",
    "4": "four",
    "5": "five",
    "6": "six",
    "7": "seven",
    "8": "eight",
    "9": "nine",
    "*": "star",
    "#": "pound",
    "A": "A",
    "B": "B",
    "C": "C",
    "D": "D",
}
PROMPTS = [GREETING, GOODBYE, *(f"You pressed {word}." for word in DIGIT_WORDS.values())]


async def echo_digits(call: Call) -> None:
    """Say the greeting, then "You pressed <digit>" per key; hang up on ``#``."""
    await call.say(GREETING, barge_in=True)
    async for event in call.events():
        if isinstance(event, Hangup):
            return
        if isinstance(event, DtmfDigit):
            if event.digit == "#":
                await call.say(GOODBYE)
                await call.hangup()
                return
            await call.say(
                f"You pressed {DIGIT_WORDS.get(event.digit, event.digit)}.", barge_in=True
            )
