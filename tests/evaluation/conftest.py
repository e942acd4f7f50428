"""Fixtures for comparison tests: real cTAKES XMI and an "other system" made from it with cassis."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cassis.typesystem import FeatureStructure

from ctakes_llm.cas.ctakes_types import CLASS_BY_MENTION_TYPE, F_POLARITY, MENTION_TYPE_BY_CLASS, PROCEDURE_MENTION
from ctakes_llm.cas.xmi import read_xmi, write_xmi
from ctakes_llm.ner.mention import MentionClass

RELABEL = {MentionClass.DISEASE_DISORDER: MentionClass.SIGN_SYMPTOM}  # every other class becomes DiseaseDisorder


@dataclass
class Plan:
    """What the fixture changed, per class of the original (A) mention."""

    dropped: Counter[MentionClass] = field(default_factory=Counter)
    relabelled: Counter[MentionClass] = field(default_factory=Counter)
    relabelled_to: Counter[MentionClass] = field(default_factory=Counter)
    negated: Counter[MentionClass] = field(default_factory=Counter)
    added: int = 0
    total: int = 0


def _isolated(mentions: list[FeatureStructure]) -> list[FeatureStructure]:
    """Mentions whose span overlaps no other mention of the note (so their alignment is unambiguous)."""
    return [
        fs
        for fs in mentions
        if fs.begin < fs.end and not any(o is not fs and o.begin < fs.end and fs.begin < o.end for o in mentions)
    ]


def _free_word(text: str, mentions: list[FeatureStructure]) -> tuple[int, int] | None:
    position = 0
    for word in text.split():
        begin = text.index(word, position)
        position = begin + len(word)
        end = begin + len(word)
        if word.isalpha() and len(word) >= 5 and not any(o.begin < end and begin < o.end for o in mentions):
            return begin, end
    return None


@pytest.fixture(scope="session")
def ctakes_xmi_dir(shared_dir: Path) -> Path:
    return shared_dir / "ctakes" / "ctakes-run-output" / "xmi"


@pytest.fixture(scope="session")
def modified_copy(ctakes_xmi_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Plan]:
    """cTAKES's XMI with, among the mentions that overlap no other: every 4th dropped, the next relabelled, the
    next negated (when it was not); plus one new Procedure on a free word in every other note."""
    out = tmp_path_factory.mktemp("other_system")
    plan = Plan()
    for note_index, path in enumerate(sorted(ctakes_xmi_dir.glob("*.xmi"))):
        cas = read_xmi(path)
        mentions = [fs for name in MENTION_TYPE_BY_CLASS.values() for fs in cas.select(name)]
        plan.total += sum(fs.begin < fs.end for fs in mentions)
        isolated = sorted(_isolated(mentions), key=lambda fs: (fs.begin, fs.end))
        for i, fs in enumerate(isolated):
            cls = CLASS_BY_MENTION_TYPE[fs.type.name]
            if i % 4 == 0:
                cas.remove(fs)
                plan.dropped[cls] += 1
            elif i % 4 == 1:
                target = RELABEL.get(cls, MentionClass.DISEASE_DISORDER)
                new_type = cas.typesystem.get_type(MENTION_TYPE_BY_CLASS[target])
                copy = new_type(begin=fs.begin, end=fs.end, typeID=target.value, polarity=fs.polarity)
                copy.ontologyConceptArr = fs.ontologyConceptArr
                cas.remove(fs)
                cas.add(copy)
                plan.relabelled[cls] += 1
                plan.relabelled_to[target] += 1
            elif i % 4 == 2 and fs.get(F_POLARITY) != -1:
                fs.set(F_POLARITY, -1)
                plan.negated[cls] += 1
        if note_index % 2 == 0 and (span := _free_word(cas.sofa_string, mentions)) is not None:
            cas.add(cas.typesystem.get_type(PROCEDURE_MENTION)(begin=span[0], end=span[1], typeID=5))
            plan.added += 1
        shutil.copy(path, out / f"{path.name}.orig")  # a file the XMI reader must ignore
        write_xmi(cas, out / path.name)
    return out, plan
