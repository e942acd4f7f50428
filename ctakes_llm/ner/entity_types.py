"""Short, user-editable descriptions of the five mention classes, as prompts show them to a model.

The shipped ``entity_types.json`` gives each class a natural-language ``name`` (what UniversalNER-style questions
ask about: "What describes disease or disorder in the text?") and a one-line ``definition`` (what instruction
prompts list). Users edit a copy and load it with :func:`load_entity_types`; the labels must stay the five cTAKES
class labels (``DiseaseDisorder``, ``SignSymptom``, ``Procedure``, ``Medication``, ``AnatomicalSite``), and a file
may list a subset to ask only about those classes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from ctakes_llm.errors import ConfigError
from ctakes_llm.ner.mention import MentionClass


@dataclass(frozen=True, slots=True)
class EntityType:
    """One mention class as prompts describe it.

    Attributes:
        cls: the mention class.
        name: a short natural-language name ("disease or disorder").
        definition: a one-line definition with examples.
    """

    cls: MentionClass
    name: str
    definition: str


def load_entity_types(path: str | Path | None = None) -> tuple[EntityType, ...]:
    """Read entity type descriptions, from ``path`` or the shipped ``entity_types.json``.

    Args:
        path: a JSON file shaped like the shipped one (``{"types": [{"label", "name", "definition"}, ...]}``).

    Returns:
        The types in file order.

    Raises:
        ConfigError: the file cannot be read or parsed, names an unknown label, repeats one, or lacks a field.
    """
    where = str(path) if path is not None else "the shipped ctakes_llm/ner/entity_types.json"
    try:
        raw = Path(path).read_text(encoding="utf-8") if path is not None else _shipped_text()
        entries = json.loads(raw)["types"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(
            f"[E308] cannot read entity types from {where}: {err}. Give a JSON file with a 'types' list "
            "shaped like the shipped entity_types.json."
        ) from err
    types: list[EntityType] = []
    for entry in entries:
        try:
            cls = MentionClass.from_label(str(entry["label"]))
            name, definition = str(entry["name"]).strip(), str(entry["definition"]).strip()
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(
                f"[E309] bad entity type {entry!r} in {where}: {err}. Each entry needs 'label' (one of the five "
                "cTAKES class labels), 'name' and 'definition'."
            ) from err
        if any(known.cls is cls for known in types):
            raise ConfigError(f"[E310] entity type {cls.label} appears twice in {where}; keep one entry per label.")
        if not name:
            raise ConfigError(f"[E311] entity type {cls.label} in {where} has an empty name; give it a short name.")
        types.append(EntityType(cls, name, definition))
    if not types:
        raise ConfigError(f"[E312] {where} lists no entity types; list at least one of the five classes.")
    return tuple(types)


def class_for(label: str, types: tuple[EntityType, ...]) -> MentionClass | None:
    """Map a label a model wrote (a class label, enum name, cTAKES class name or a type's name) to a class.

    Returns:
        The class, or None when ``label`` names none of ``types``.
    """
    key = label.strip().strip("\"'").strip()
    for entity_type in types:
        if key.casefold() == entity_type.name.casefold():
            return entity_type.cls
    try:
        cls = MentionClass.from_label(key)
    except ValueError:
        return None
    return cls if any(entity_type.cls is cls for entity_type in types) else None


def _shipped_text() -> str:
    return (files("ctakes_llm.ner") / "entity_types.json").read_text(encoding="utf-8")
