"""UMLS TUI → cTAKES semantic group → mention class."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ctakes_llm.knowledge.tui_groups import mention_class, semantic_group, semantic_type, semantic_types
from ctakes_llm.ner.mention import MentionClass


@pytest.mark.parametrize(
    ("tui", "group", "cls"),
    [
        ("T047", "DISORDER", MentionClass.DISEASE_DISORDER),
        ("T184", "FINDING", MentionClass.SIGN_SYMPTOM),
        ("T201", "CLINICAL_ATTRIBUTE", MentionClass.SIGN_SYMPTOM),
        ("T061", "PROCEDURE", MentionClass.PROCEDURE),
        ("T023", "ANATOMY", MentionClass.ANATOMICAL_SITE),
        ("T121", "DRUG", MentionClass.MEDICATION),
        ("T034", "LAB", None),
        ("T074", "DEVICE", None),
        ("T001", "ENTITY", None),
    ],
)
def test_tui_maps_to_ctakes_group_and_class(tui: str, group: str, cls: MentionClass | None) -> None:
    assert semantic_group(tui) == group
    assert mention_class(tui) is cls


def test_unknown_tui_has_no_group_or_class() -> None:
    assert semantic_group("T999") is None and mention_class("T999") is None and semantic_type("") is None


def test_tui_lookup_ignores_case_and_space() -> None:
    assert mention_class(" t047 ") is MentionClass.DISEASE_DISORDER


def test_shipped_table_equals_the_shared_reference(shared_dir: Path) -> None:
    with (shared_dir / "ctakes" / "semantic_tui_groups.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(semantic_types()) == len(rows) == 136
    for row in rows:
        shipped = semantic_types()[row["tui"]]
        assert (shipped.name, shipped.group) == (row["semantic_type_name"], row["ctakes_semantic_group"])
        expected = row["ctakes_mention_class"]
        assert (shipped.mention_class.label + "Mention" if shipped.mention_class else None) == (
            expected if expected.removesuffix("Mention") in {c.label for c in MentionClass} else None
        )
