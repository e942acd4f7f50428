"""Retrieval hints for prompts: the knowledge-index terms found in a chunk, with their semantic type and definition.

Zero-shot clinical NER improves when the prompt names the semantic types of candidate terms from a medical
knowledge base. :class:`HintProvider` finds every index term in the chunk with the dictionary matcher (whole tokens,
case-insensitive, longest match), and :class:`RagFormat` puts one line per term, ``term: semantic type /
definition``, at the top of the first user message of each request of any prompt format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ctakes_llm.errors import ConfigError
from ctakes_llm.knowledge.bsv import DictionaryEntry
from ctakes_llm.knowledge.dictionary_matcher import DictionaryMatcher
from ctakes_llm.knowledge.index import KnowledgeIndex
from ctakes_llm.ner.formats.base import Message, ParseResult, PromptFormat, Request
from ctakes_llm.ner.mention import Mention

if TYPE_CHECKING:
    from ctakes_llm.ner.entity_types import EntityType

HINTS_HEADER = (
    "Hints from a medical knowledge base: terms found in the text with their semantic type and definition "
    "(they may be incomplete or wrong; the entity type definitions decide):"
)


@dataclass(frozen=True)
class RagConfig:
    """What goes into the hints.

    Attributes:
        max_hints: Most hint lines per chunk (first occurrences in text order).
        min_term_chars: Shorter matched terms give no hint (abbreviations like "am" match everywhere).
        max_definition_chars: Definitions are cut to this length; 0 leaves definitions out.
    """

    max_hints: int = 15
    min_term_chars: int = 3
    max_definition_chars: int = 160

    def __post_init__(self) -> None:
        if self.max_hints < 1:
            raise ConfigError(f"[E590] RagConfig.max_hints={self.max_hints} must be >= 1")
        if self.min_term_chars < 1 or self.max_definition_chars < 0:
            raise ConfigError("[E591] RagConfig needs min_term_chars >= 1 and max_definition_chars >= 0")


@dataclass(frozen=True, slots=True)
class Hint:
    """One candidate term of a chunk and what the index knows about it."""

    term: str
    key: str
    semantic_types: tuple[str, ...]
    definition: str | None

    def render(self) -> str:
        """``- term: semantic type / definition`` (parts the index lacks are left out)."""
        parts = [" or ".join(self.semantic_types) or "unknown type"]
        if self.definition:
            parts.append(self.definition)
        return f"- {self.term}: {' / '.join(parts)}"


class HintProvider:
    """Finds the index's terms in texts and describes them.

    Args:
        index: An open knowledge index; its terms are loaded into a dictionary matcher once.
        config: Hint options.
    """

    def __init__(self, index: KnowledgeIndex, config: RagConfig | None = None) -> None:
        self.index = index
        self.config = config or RagConfig()
        entries = (
            DictionaryEntry(cui=key, tui=None, text=text)
            for text, key in index.iter_terms()
            if len(text) >= self.config.min_term_chars
        )
        self.matcher = DictionaryMatcher(entries)

    def hints(self, text: str) -> list[Hint]:
        """Hints for the distinct terms of ``text``, in text order, at most ``max_hints``."""
        found: list[Hint] = []
        seen: set[str] = set()
        for match in self.matcher.find(text):
            term = text[match.begin : match.end]
            if term.lower() in seen:
                continue
            seen.add(term.lower())
            hint = self._describe(term, [entry.cui for entry in match.entries])
            if hint is not None:
                found.append(hint)
            if len(found) >= self.config.max_hints:
                break
        return found

    def block(self, text: str) -> str:
        """The hint paragraph for ``text``, or "" when no term is found."""
        hints = self.hints(text)
        return "\n".join([HINTS_HEADER, *(hint.render() for hint in hints)]) if hints else ""

    def _describe(self, term: str, keys: Sequence[str]) -> Hint | None:
        types: dict[str, None] = {}
        definition: str | None = None
        first_key: str | None = None
        for key in dict.fromkeys(keys):
            info = self.index.describe(key)
            if info is None:
                continue
            first_key = first_key or key
            types.update((name, None) for _, name in info.semantic_types if name)
            if definition is None and info.definition and self.config.max_definition_chars:
                definition = _clip(info.definition, self.config.max_definition_chars)
        if first_key is None:
            return None
        return Hint(term, first_key, tuple(types), definition)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class RagFormat:
    """A prompt format whose requests start with knowledge-base hints for the chunk.

    Args:
        base: The format to wrap (answers are parsed by it unchanged).
        provider: Finds and describes candidate terms.
    """

    def __init__(self, base: PromptFormat, provider: HintProvider) -> None:
        self.base = base
        self.provider = provider
        self.name = f"{base.name}+rag"
        self.types: tuple[EntityType, ...] = base.types

    def requests(self, text: str) -> list[Request]:
        """The base requests with the hint paragraph at the top of their first user message."""
        block = self.provider.block(text) if text.strip() else ""
        return [with_hints(request, block) for request in self.base.requests(text)]

    def target(self, text: str, request: Request, mentions: Sequence[Mention]) -> str:
        """The base format's target."""
        return self.base.target(text, request, mentions)

    def parse(self, output: str, request: Request, text: str) -> ParseResult:
        """The base format's parse."""
        return self.base.parse(output, request, text)


def with_hints(request: Request, block: str) -> Request:
    """``request`` with ``block`` put before the content of its first user message (unchanged when empty)."""
    if not block:
        return request
    messages = list(request.messages)
    for position, message in enumerate(messages):
        if message.role == "user":
            messages[position] = Message("user", f"{block}\n\n{message.content}")
            break
    return replace(request, messages=tuple(messages))
