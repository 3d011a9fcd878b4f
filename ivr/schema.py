"""Flow documents: the nodes a supervisor draws, as pydantic v2 models.

A flow is ``{"name", "start", "language", "variables", "nodes": [...]}``; each node has an
``id``, a ``kind`` (the discriminator) and the edges it can take (``next``, ``fallback``,
...). Every field has a default so the editor can add a node with nothing but its kind;
what makes a flow *usable* (edges that exist, menus with a fallback, ...) is the job of
`ivr.validate`, which reports all problems at once instead of the first one.

`flow_json_schema()` is the JSON Schema the editor builds its forms from.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, field_validator

LANGUAGES = ("en", "pl", "ko")
DTMF_KEYS = "0123456789*#"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
_SPAN = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")

Language = Literal["en", "pl", "ko"]


class Model(BaseModel):
    """Strict base: unknown fields are errors, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid")


def _variable_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{value!r} is not a variable name (letters, digits, _ and dots)")
    return value


#: a variable name: ``order_number``, ``crm.name`` (dots group related values)
VarName = Annotated[str, AfterValidator(_variable_name)]


class Prompt(Model):
    """What the caller hears: TTS ``text`` (with ``{variable}`` placeholders) or a WAV ``file``.

    ``translations`` override ``text`` per caller language (after a ``language`` node);
    ``language`` pins a prompt to one language whatever the caller chose (the "po polsku,
    naciśnij 2" of a language menu); ``voice`` is an espeak-ng voice overriding the default.
    """

    text: str = ""
    file: str = ""
    translations: dict[str, str] = Field(default_factory=dict)
    language: Language | None = None
    voice: str | None = None

    def text_for(self, language: str) -> str:
        """The text to speak in ``language``."""
        return self.translations.get(language) or self.text


def spoken(text: str = "") -> Any:
    """A default-factory for a prompt field saying ``text``."""
    return Field(default_factory=lambda: Prompt(text=text))


class NodeBase(Model):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    label: str = ""

    def edges(self) -> list[tuple[str, str]]:
        """(field, target id) for every outgoing edge that is set."""
        return []

    def prompts(self) -> list[tuple[str, Prompt]]:
        """(field, prompt) for every prompt of this node that is used."""
        return []


def _edges(node: BaseModel, *fields: str) -> list[tuple[str, str]]:
    found = []
    for name in fields:
        target = getattr(node, name)
        if target:
            found.append((name, target))
    return found


def _prompts(node: BaseModel, *fields: str) -> list[tuple[str, Prompt]]:
    return [(name, p) for name in fields if (p := getattr(node, name)) is not None]


# -- prompts and routing --------------------------------------------------------------------


class SayNode(NodeBase):
    """Play one prompt; the flow ends (hang-up) when ``next`` is empty."""

    kind: Literal["say"] = "say"
    prompt: Prompt = spoken()
    barge_in: bool = True
    next: str | None = None

    def edges(self) -> list[tuple[str, str]]:
        return _edges(self, "next")

    def prompts(self) -> list[tuple[str, Prompt]]:
        return _prompts(self, "prompt")


class MenuOption(Model):
    """One choice: a DTMF key and/or spoken phrases (synonyms)."""

    digit: str | None = None
    phrases: list[str] = Field(default_factory=list)
    next: str = ""

    @field_validator("digit")
    @classmethod
    def _one_key(cls, value: str | None) -> str | None:
        if value is not None and (len(value) != 1 or value not in DTMF_KEYS):
            raise ValueError(f"digit must be one DTMF key of {DTMF_KEYS}, got {value!r}")
        return value


class MenuNode(NodeBase):
    """Ask, then go where the caller's key or phrase says; ``fallback`` after the last retry."""

    kind: Literal["menu"] = "menu"
    prompt: Prompt = spoken()
    options: list[MenuOption] = Field(default_factory=list)
    timeout: float = Field(default=5.0, gt=0, le=60)
    retries: int = Field(default=2, ge=0, le=10)
    speech: bool = True
    no_input_prompt: Prompt = spoken("Sorry, I did not hear anything.")
    no_match_prompt: Prompt = spoken("Sorry, that is not one of the choices.")
    fallback: str | None = None

    def edges(self) -> list[tuple[str, str]]:
        found = [(f"options.{i}.next", o.next) for i, o in enumerate(self.options) if o.next]
        return found + _edges(self, "fallback")

    def prompts(self) -> list[tuple[str, Prompt]]:
        return _prompts(self, "prompt", "no_input_prompt", "no_match_prompt")


class CollectNode(NodeBase):
    """Read digits (or speech with a grammar) into ``variable``; optionally confirm it back."""

    kind: Literal["collect"] = "collect"
    prompt: Prompt = spoken()
    variable: VarName = "input"
    mode: Literal["digits", "speech"] = "digits"
    grammar: Literal["digits", "yesno", "free"] = "digits"
    speech: bool = True  # digits mode: also accept the number spoken
    min_length: int = Field(default=1, ge=1, le=32)
    max_length: int = Field(default=16, ge=1, le=32)
    terminator: str = "#"
    pattern: str | None = None
    timeout: float = Field(default=5.0, gt=0, le=60)
    inter_digit_timeout: float = Field(default=3.0, gt=0, le=30)
    retries: int = Field(default=2, ge=0, le=10)
    confirm: bool = False
    confirm_prompt: Prompt = spoken(
        "You entered {value}. Press 1 if that is right, or 2 to enter it again."
    )
    no_input_prompt: Prompt = spoken("Sorry, I did not hear anything.")
    invalid_prompt: Prompt = spoken("Sorry, that does not look right.")
    next: str | None = None
    fallback: str | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern is not a regular expression: {exc}") from None
        return value

    @field_validator("terminator")
    @classmethod
    def _terminator(cls, value: str) -> str:
        if value and (len(value) != 1 or value not in DTMF_KEYS):
            raise ValueError("terminator must be one DTMF key or empty")
        return value

    def edges(self) -> list[tuple[str, str]]:
        return _edges(self, "next", "fallback")

    def prompts(self) -> list[tuple[str, Prompt]]:
        found = _prompts(self, "prompt", "no_input_prompt", "invalid_prompt")
        return [*found, ("confirm_prompt", self.confirm_prompt)] if self.confirm else found


class LookupNode(NodeBase):
    """CRM self-service under a time budget; the result lands in ``store_as.*`` variables.

    ``order_by_number`` reads the order number from ``order_variable``; ``latest_order``
    uses the caller's customer record. ``speak`` reads the order status to the caller.
    A CRM slower than ``one_moment_after`` seconds gets a short "one moment"; after
    ``budget`` seconds the flow goes on at ``failure`` (``next`` when unset is never used:
    a failure without an edge ends the call politely).
    """

    kind: Literal["lookup"] = "lookup"
    action: Literal["order_by_number", "latest_order", "customer"] = "order_by_number"
    order_variable: VarName = "order_number"
    store_as: VarName = "order"
    speak: bool = True
    budget: float = Field(default=2.0, gt=0, le=10)
    one_moment_after: float = Field(default=1.0, gt=0, le=10)
    one_moment_prompt: Prompt = spoken("One moment please.")
    not_found_prompt: Prompt = spoken("Sorry, I could not find that.")
    failure_prompt: Prompt = spoken("Sorry, I cannot look that up right now.")
    next: str | None = None
    not_found: str | None = None
    failure: str | None = None

    def edges(self) -> list[tuple[str, str]]:
        return _edges(self, "next", "not_found", "failure")

    def prompts(self) -> list[tuple[str, Prompt]]:
        return _prompts(self, "one_moment_prompt", "not_found_prompt", "failure_prompt")


# -- conditions -------------------------------------------------------------------------


class VipCondition(Model):
    kind: Literal["vip"] = "vip"
    equals: bool = True


class LanguageCondition(Model):
    kind: Literal["language"] = "language"
    equals: Language = "en"


class VariableCondition(Model):
    kind: Literal["variable"] = "variable"
    name: VarName = "input"
    op: Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "matches", "set", "unset"] = "eq"
    value: Any = None


class CrmFlagCondition(Model):
    """True when the caller's CRM record has ``flag`` (truthy, or equal to ``equals``)."""

    kind: Literal["crm_flag"] = "crm_flag"
    flag: str = "vip"
    equals: Any = None


class BusinessHoursCondition(Model):
    """Open now? ``weekly`` maps mon..sun to spans like ``"08:00-18:00"`` in ``timezone``."""

    kind: Literal["business_hours"] = "business_hours"
    timezone: str = "UTC"
    weekly: dict[str, list[str]] = Field(
        default_factory=lambda: {d: ["09:00-17:00"] for d in WEEKDAYS[:5]}
    )
    holidays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("weekly")
    @classmethod
    def _spans(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"{day!r} is not one of {', '.join(WEEKDAYS)}")
            for span in spans:
                parse_span(span)
        return value


def parse_span(span: str) -> tuple[time, time]:
    """``"08:00-18:00"`` -> (08:00, 18:00); ``24:00`` is allowed as an end."""
    match = _SPAN.match(span)
    if match is None:
        raise ValueError(f"span {span!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"span {span!r} has an impossible time")
    end = time.max if h2 == 24 else time(h2, m2)
    start = time(h1, m1)
    if end <= start:
        raise ValueError(f"span {span!r} ends before it starts")
    return start, end


Condition = Annotated[
    VipCondition
    | LanguageCondition
    | VariableCondition
    | CrmFlagCondition
    | BusinessHoursCondition,
    Field(discriminator="kind"),
]


class BranchRule(Model):
    when: Condition = Field(default_factory=VipCondition)
    next: str = ""


class BranchNode(NodeBase):
    """The first rule whose condition holds picks the next node; else ``otherwise``."""

    kind: Literal["branch"] = "branch"
    rules: list[BranchRule] = Field(default_factory=list)
    otherwise: str | None = None

    def edges(self) -> list[tuple[str, str]]:
        found = [(f"rules.{i}.next", r.next) for i, r in enumerate(self.rules) if r.next]
        return found + _edges(self, "otherwise")


class SetNode(NodeBase):
    """Set variables; string values may use ``{variable}`` placeholders."""

    kind: Literal["set"] = "set"
    values: dict[VarName, str | int | float | bool] = Field(default_factory=dict)
    next: str | None = None

    def edges(self) -> list[tuple[str, str]]:
        return _edges(self, "next")


class AnnounceNode(NodeBase):
    """A supervisor-managed notice (by ``notice`` name) or an inline prompt, played only
    when ``when`` holds (e.g. callers in a region); skipped silently when the notice is off."""

    kind: Literal["announce"] = "announce"
    notice: str = ""
    prompt: Prompt | None = None
    when: Condition | None = None
    next: str | None = None

    def edges(self) -> list[tuple[str, str]]:
        return _edges(self, "next")

    def prompts(self) -> list[tuple[str, Prompt]]:
        return [] if self.notice else [("prompt", self.prompt or Prompt())]


class LanguageNode(NodeBase):
    """Switch prompts and speech recognition to ``language`` (and optionally a voice)."""

    kind: Literal["language"] = "language"
    language: Language = "en"
    voice: str | None = None
    next: str | None = None

    def edges(self) -> list[tuple[str, str]]:
        return _edges(self, "next")


# -- hand-offs and endings ------------------------------------------------------------------


class QueueNode(NodeBase):
    """Hand the caller to the ACD. ``next`` runs after the agent conversation (a survey);
    ``no_agents`` when no agent could take the call (else: voicemail or callback offer)."""

    kind: Literal["queue"] = "queue"
    queue: str = "default"
    skills: dict[str, int] = Field(default_factory=dict)
    priority: int = Field(default=0, ge=0, le=100)
    vip_boost: int = Field(default=10, ge=0, le=100)
    prompt: Prompt | None = None
    busy_prompt: Prompt = spoken("All our agents are busy.")
    next: str | None = None
    no_agents: str | None = None

    def edges(self) -> list[tuple[str, str]]:
        return _edges(self, "next", "no_agents")

    def prompts(self) -> list[tuple[str, Prompt]]:
        return _prompts(self, "prompt", "busy_prompt")


class TransferNode(NodeBase):
    """Send the caller to an external SIP URI; ``next`` if the transfer cannot be made."""

    kind: Literal["transfer"] = "transfer"
    target: str = Field(default="sip:operator@example.com", pattern=r"^(sips?|tel):\S+$")
    prompt: Prompt = spoken("Transferring your call.")
    next: str | None = None

    def edges(self) -> list[tuple[str, str]]:
        return _edges(self, "next")

    def prompts(self) -> list[tuple[str, Prompt]]:
        return _prompts(self, "prompt")


class VoicemailNode(NodeBase):
    """Record the caller (a WAV) until ``#``, silence or ``max_seconds``."""

    kind: Literal["voicemail"] = "voicemail"
    prompt: Prompt = spoken("Please leave your message after the tone. Press pound when done.")
    max_seconds: float = Field(default=60.0, gt=0, le=600)
    end_key: str = "#"
    thanks_prompt: Prompt = spoken("Thank you, we received your message.")
    next: str | None = None

    def edges(self) -> list[tuple[str, str]]:
        return _edges(self, "next")

    def prompts(self) -> list[tuple[str, Prompt]]:
        return _prompts(self, "prompt", "thanks_prompt")


class CallbackNode(NodeBase):
    """Leave a number to be called back on: the caller's own (press 1) or one keyed in."""

    kind: Literal["callback"] = "callback"
    prompt: Prompt = spoken(
        "To be called back on the number you are calling from, press 1. "
        "To give another number, key it in now followed by pound."
    )
    variable: VarName = "callback_number"
    min_length: int = Field(default=6, ge=1, le=20)
    max_length: int = Field(default=15, ge=1, le=20)
    timeout: float = Field(default=8.0, gt=0, le=60)
    retries: int = Field(default=1, ge=0, le=10)
    thanks_prompt: Prompt = spoken("Thank you, we will call you back.")
    next: str | None = None

    def edges(self) -> list[tuple[str, str]]:
        return _edges(self, "next")

    def prompts(self) -> list[tuple[str, Prompt]]:
        return _prompts(self, "prompt", "thanks_prompt")


class SurveyNode(NodeBase):
    """Post-call CSAT: a score 1-5 by key or by voice, stored as a ``survey`` event."""

    kind: Literal["survey"] = "survey"
    prompt: Prompt = spoken(
        "How satisfied were you with this call? Press or say a number from 1 to 5."
    )
    timeout: float = Field(default=6.0, gt=0, le=60)
    retries: int = Field(default=1, ge=0, le=10)
    speech: bool = True
    thanks_prompt: Prompt = spoken("Thank you for your feedback.")
    next: str | None = None

    def edges(self) -> list[tuple[str, str]]:
        return _edges(self, "next")

    def prompts(self) -> list[tuple[str, Prompt]]:
        return _prompts(self, "prompt", "thanks_prompt")


class HangupNode(NodeBase):
    """Say goodbye (optional) and end the call."""

    kind: Literal["hangup"] = "hangup"
    prompt: Prompt | None = None

    def prompts(self) -> list[tuple[str, Prompt]]:
        return _prompts(self, "prompt")


Node = Annotated[
    SayNode
    | MenuNode
    | CollectNode
    | LookupNode
    | BranchNode
    | SetNode
    | AnnounceNode
    | LanguageNode
    | QueueNode
    | TransferNode
    | VoicemailNode
    | CallbackNode
    | SurveyNode
    | HangupNode,
    Field(discriminator="kind"),
]
NODE_ADAPTER: TypeAdapter[Any] = TypeAdapter(Node)
NODE_KINDS = (
    "say", "menu", "collect", "lookup", "branch", "set", "announce",
    "language", "queue", "transfer", "voicemail", "callback", "survey", "hangup",
)  # fmt: skip
#: nodes that wait for the caller: a loop through one of them cannot spin
INPUT_KINDS = frozenset({"menu", "collect", "voicemail", "callback", "survey"})


class FlowDoc(Model):
    """A whole flow document."""

    name: str = "Untitled flow"
    start: str = ""
    language: Language = "en"
    variables: dict[VarName, str | int | float | bool] = Field(default_factory=dict)
    nodes: list[Node] = Field(default_factory=list)

    def node_map(self) -> dict[str, Any]:
        """Nodes by id (the first of duplicates; the validator reports the others)."""
        found: dict[str, Any] = {}
        for node in self.nodes:
            found.setdefault(node.id, node)
        return found


def parse_flow(doc: Any) -> FlowDoc:
    """The typed flow; raises pydantic's ValidationError. Use `ivr.validate` for a report."""
    return FlowDoc.model_validate(doc)


def flow_json_schema() -> dict[str, Any]:
    """The JSON Schema of a flow document (the editor's forms come from it)."""
    return FlowDoc.model_json_schema()


def node_json_schema() -> dict[str, Any]:
    """The JSON Schema of one node (a ``oneOf`` over the kinds, discriminated by ``kind``)."""
    return NODE_ADAPTER.json_schema()
