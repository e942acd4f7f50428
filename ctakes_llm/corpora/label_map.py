"""Editable mappings from a gold corpus's entity labels to the five cTAKES classes.

A mapping is a small JSON file (bundled ones live in ``corpora/mappings/``)::

    {"corpus": "bc5cdr",
     "labels": {"Chemical": "Medication", "Disease": "DiseaseDisorder"},
     "annotated_classes": ["Medication", "DiseaseDisorder", "SignSymptom"],
     "alternatives": {"DiseaseDisorder": ["DiseaseDisorder", "SignSymptom"]},
     "unknown_labels": []}

``labels`` maps corpus labels to cTAKES classes; labels not listed are ignored. ``annotated_classes`` are the
classes the corpus annotates exhaustively: training must not read the absence of any other class as evidence.
``alternatives`` lists, for a mapped class, every class such a gold span may truly be (a corpus label that is
coarser than the cTAKES classes). ``unknown_labels`` are corpus labels whose spans may hold mentions the corpus left
unannotated (MACCROBAT's ``History``: "history of coronary artery disease" carries no Disease_disorder in 312 of its
473 History and Family_history spans), so training learns neither a label nor its absence there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ctakes_llm.errors import CorpusError
from ctakes_llm.ner.mention import MentionClass

MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"


@dataclass(frozen=True)
class LabelMap:
    """A corpus's label mapping.

    Attributes:
        corpus: Short corpus name (``maccrobat``).
        labels: Corpus label to cTAKES class; other labels are dropped.
        annotated_classes: Classes the corpus annotates.
        alternatives: For a mapped class, the classes a gold span of it may truly be (itself included).
        unknown_labels: Corpus labels whose spans may hold unannotated mentions of any class.
    """

    corpus: str
    labels: Mapping[str, MentionClass]
    annotated_classes: frozenset[MentionClass]
    alternatives: Mapping[MentionClass, frozenset[MentionClass]] = field(default_factory=dict)
    unknown_labels: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))
        object.__setattr__(self, "alternatives", MappingProxyType(dict(self.alternatives)))
        missing = set(self.labels.values()) - self.annotated_classes
        if missing:
            names = ", ".join(sorted(cls.label for cls in missing))
            raise CorpusError(
                f"[E200] label map {self.corpus!r} maps labels to {names} but does not list them in "
                "annotated_classes; add them there"
            )

    def map(self, label: str) -> MentionClass | None:
        """The cTAKES class of a corpus label, or None when the label is outside the five classes."""
        return self.labels.get(label)

    def classes_for(self, cls: MentionClass) -> frozenset[MentionClass]:
        """Every class a gold span mapped to ``cls`` may truly be."""
        return self.alternatives.get(cls, frozenset({cls}))


#: Labels that are cTAKES class labels (``DiseaseDisorder``, ...), every class annotated: what our own BRAT and JSON
#: Lines outputs carry, so a corpus an annotate run wrote reads with it.
CTAKES_LABEL_MAP = LabelMap(
    corpus="ctakes", labels={cls.label: cls for cls in MentionClass}, annotated_classes=frozenset(MentionClass)
)


def load_label_map(name_or_path: str | Path) -> LabelMap:
    """Load a bundled mapping by corpus name (``maccrobat``, ``ncbi_disease``, ``bc5cdr``) or a JSON file path.

    Raises:
        CorpusError: the file is missing, is not valid JSON, or names an unknown class.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = MAPPINGS_DIR / f"{name_or_path}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        bundled = ", ".join(sorted(p.stem for p in MAPPINGS_DIR.glob("*.json")))
        raise CorpusError(f"[E201] label map {path} not found; give a JSON file path or one of: {bundled}") from None
    except json.JSONDecodeError as exc:
        raise CorpusError(f"[E202] label map {path} is not valid JSON ({exc}); fix the file") from exc
    try:
        return LabelMap(
            corpus=str(raw.get("corpus", path.stem)),
            labels={label: MentionClass.from_label(cls) for label, cls in raw["labels"].items()},
            annotated_classes=frozenset(MentionClass.from_label(cls) for cls in raw["annotated_classes"]),
            alternatives={
                MentionClass.from_label(cls): frozenset(MentionClass.from_label(alt) for alt in alts)
                for cls, alts in raw.get("alternatives", {}).items()
            },
            unknown_labels=frozenset(str(label) for label in raw.get("unknown_labels", [])),
        )
    except (KeyError, ValueError, AttributeError) as exc:
        raise CorpusError(
            f"[E203] label map {path} is malformed ({exc}); it needs 'labels' and 'annotated_classes' "
            "with cTAKES class labels such as 'DiseaseDisorder'"
        ) from exc
