"""Prompt and output formats for generative backends, one module each, chosen by name with :func:`get_format`.

``universal_ner`` follows UniversalNER (one question per type, a JSON list back); ``multi_term``,
``multi_span``, ``multi_brat``, ``multi_tag`` and ``multi_bio`` follow the multi-type formats of the
lightweight-LLM biomedical NER study (Epron et al., LREC 2026). Each renders requests (inference), targets
(training data) and parses answers tolerantly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ctakes_llm.errors import ConfigError
from ctakes_llm.ner.entity_types import EntityType, load_entity_types
from ctakes_llm.ner.formats.base import Message, ParseResult, PromptFormat, Request, training_pairs
from ctakes_llm.ner.formats.multi_bio import MultiBioFormat
from ctakes_llm.ner.formats.multi_brat import MultiBratFormat
from ctakes_llm.ner.formats.multi_span import MultiSpanFormat
from ctakes_llm.ner.formats.multi_tag import MultiTagFormat
from ctakes_llm.ner.formats.multi_term import MultiTermFormat
from ctakes_llm.ner.formats.universal_ner import UniversalNerFormat

#: Format name -> class; each is built with the entity types it asks about.
FORMATS: dict[str, Callable[[Sequence[EntityType]], PromptFormat]] = {
    "universal_ner": UniversalNerFormat,
    "multi_term": MultiTermFormat,
    "multi_span": MultiSpanFormat,
    "multi_brat": MultiBratFormat,
    "multi_tag": MultiTagFormat,
    "multi_bio": MultiBioFormat,
}


def get_format(name: str, types: Sequence[EntityType] | None = None) -> PromptFormat:
    """Build the prompt format called ``name``.

    Args:
        name: a key of :data:`FORMATS`.
        types: the entity types to ask about; by default the shipped ones.

    Raises:
        ConfigError: ``name`` is not a known format.
    """
    if name not in FORMATS:
        known = ", ".join(FORMATS)
        raise ConfigError(f"[E314] unknown prompt format {name!r}; choose one of: {known}")
    return FORMATS[name](load_entity_types() if types is None else types)


__all__ = ["FORMATS", "Message", "ParseResult", "PromptFormat", "Request", "get_format", "training_pairs"]
