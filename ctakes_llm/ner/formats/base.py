"""What every prompt/output format shares: the request and parse values, the format protocol and lenient JSON.

A format turns a chunk of note text into one or more chat requests, turns gold mentions into the answer a model
should give (training targets), and parses what a model answered into :class:`~ctakes_llm.ner.grounding.Proposal`
strings plus a count of what it could not parse. Parsers never raise on model output and never produce offsets:
grounding computes those.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ctakes_llm.ner.entity_types import EntityType
from ctakes_llm.ner.grounding import Proposal
from ctakes_llm.ner.mention import Mention, MentionClass

SYSTEM_PROMPT = "You are a clinical named entity recognition system. You copy mentions exactly as written in the text."
_CODE_FENCE = re.compile(r"^\s*```[A-Za-z]*\s*\n?|\n?\s*```\s*$")
_STRING_LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message (``role`` is ``system``, ``user`` or ``assistant``)."""

    role: str
    content: str


@dataclass(frozen=True, slots=True)
class Request:
    """One generation request for a chunk.

    Attributes:
        messages: the conversation; the model answers as the assistant after the last message.
        cls: the one class this request asks about (per-type formats such as UniversalNER), else None.
        json_schema: a JSON schema of a valid answer, for servers that constrain output; None for free text.
    """

    messages: tuple[Message, ...]
    cls: MentionClass | None = None
    json_schema: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ParseResult:
    """What a parser made of one answer: the proposed mentions and how many parts it could not parse."""

    proposals: list[Proposal]
    failures: int


class PromptFormat(Protocol):
    """A prompt and output format; instances are built with the entity types they ask about."""

    name: str
    types: tuple[EntityType, ...]

    def requests(self, text: str) -> list[Request]:
        """The requests that ask a model for the mentions in ``text``."""
        ...

    def target(self, text: str, request: Request, mentions: Sequence[Mention]) -> str:
        """The answer a perfect model gives to ``request`` when ``mentions`` (offsets into ``text``) are gold."""
        ...

    def parse(self, output: str, request: Request, text: str) -> ParseResult:
        """Parse a model's answer to ``request`` about ``text``; never raises on bad output."""
        ...


def training_pairs(fmt: PromptFormat, text: str, mentions: Sequence[Mention]) -> list[tuple[Request, str]]:
    """Each request of ``fmt`` for ``text`` with its gold answer: instruction-tuning data for one chunk."""
    return [(request, fmt.target(text, request, mentions)) for request in fmt.requests(text)]


def ordered(mentions: Sequence[Mention], cls: MentionClass | None = None) -> list[Mention]:
    """Mentions (of one class, when given) in text order."""
    return sorted(
        (mention for mention in mentions if cls is None or mention.cls is cls),
        key=lambda mention: (mention.begin, mention.end, mention.cls.value),
    )


def type_list(types: Sequence[EntityType]) -> str:
    """One line per entity type: ``- Label (name): definition``."""
    return "\n".join(f"- {t.cls.label} ({t.name}): {t.definition}" for t in types)


def instruction_messages(types: Sequence[EntityType], answer_spec: str, text: str) -> tuple[Message, ...]:
    """The system + user messages of the multi-type instruction formats."""
    user = (
        f"Find every mention of these entity types in the text:\n{type_list(types)}\n\n{answer_spec}\n"
        "Copy each mention exactly as it is written in the text, once per occurrence, in text order.\n\n"
        f"Text:\n{text}"
    )
    return (Message("system", SYSTEM_PROMPT), Message("user", user))


def strip_code_fence(output: str) -> str:
    """Remove a Markdown code fence a chat model may wrap its answer in."""
    return _CODE_FENCE.sub("", output).strip()


def load_json_prefix(output: str, opener: str) -> tuple[Any, bool]:
    """Parse the JSON value that starts at the first ``opener`` (``[`` or ``{``) in ``output``.

    Returns:
        ``(value, True)`` when a complete value parses (trailing text is ignored), else ``(None, False)``.
    """
    start = output.find(opener)
    if start == -1:
        return None, False
    try:
        value, _ = json.JSONDecoder().raw_decode(output[start:])
    except ValueError:
        return None, False
    return value, True


def salvage_strings(fragment: str) -> tuple[list[str], int]:
    """Every complete JSON string literal in ``fragment`` (what is left of half-written or truncated JSON).

    Returns:
        The decoded strings, and how many literals had invalid escapes.
    """
    strings: list[str] = []
    failures = 0
    for match in _STRING_LITERAL.finditer(fragment):
        try:
            strings.append(json.loads(f'"{match.group(1)}"'))
        except ValueError:
            failures += 1
    return strings, failures


class AllTypesFormat:
    """A format that asks for every entity type in one request; subclasses set ``name`` and ``answer_spec``."""

    name: str
    answer_spec: str

    def __init__(self, types: Sequence[EntityType]) -> None:
        self.types = tuple(types)

    def requests(self, text: str) -> list[Request]:
        """One request for every type."""
        return [Request(instruction_messages(self.types, self.answer_spec, text))]
