"""Speech recognition for calls: VAD endpointing and barge-in, streaming ASR with grammars.

from asr import Grammar, Heard, SpeechService
heard = await speech.listen(call, Grammar.digits(min_len=4, max_len=8))
if heard.outcome == "match": ...  heard.value == "1234"
"""

from .grammar import Grammar
from .heard import Heard
from .service import SpeechService
from .vad import Endpointing

__all__ = ["Endpointing", "Grammar", "Heard", "SpeechService"]
