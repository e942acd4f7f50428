"""Compare two systems' mentions on the same notes (cTAKES XMI against ours, or any two corpora).

Neither side is gold. In each note the mentions are aligned in three rounds, each one-to-one over what the
previous rounds left:

1. **same**: the same span and the same class;
2. **overlap**: overlapping spans, the same class;
3. **other class**: the same span, another class.

Everything else is **only in A** or **only in B**. Polarity and CUIs are compared on the same and overlap pairs.
Agreement scores (P/R/F1 with A as the reference) come from :func:`ctakes_llm.evaluation.metrics.score_corpus`.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.corpora.load import CorpusFormat, load_corpus
from ctakes_llm.errors import ConfigError
from ctakes_llm.evaluation.evaluate import Pairing, paired_documents
from ctakes_llm.evaluation.metrics import NEGATED, POLARITY, Scores, match_mentions, score_corpus
from ctakes_llm.ner.mention import Mention, MentionClass


class Status(enum.Enum):
    """How a mention of one system relates to the other system's mentions."""

    SAME = "same"
    OVERLAP = "overlap"
    OTHER_CLASS = "other_class"
    ONLY_A = "only_a"
    ONLY_B = "only_b"


@dataclass(frozen=True)
class CompareConfig:
    """How to read and compare two systems' outputs.

    Attributes:
        a_name: what to call system A in tables and the report (``cTAKES``).
        b_name: what to call system B (``ctakes-llm``).
        a_format: corpus format of A (``auto``, ``xmi``, ``brat``, ``jsonl``, ...).
        b_format: corpus format of B.
        a_label_map: label map for A when it is BRAT/PubTator with labels other than class labels.
        b_label_map: the same for B.
        classes: compare only these classes (after merging); None: all five.
        merge: class merges applied to both sides before aligning.
        typesystem: type system for XMI (bundled name or descriptor path).
        ignore_unpaired: drop notes found on one side only (logged) instead of raising.
    """

    a_name: str = "A"
    b_name: str = "B"
    a_format: str = CorpusFormat.AUTO.value
    b_format: str = CorpusFormat.AUTO.value
    a_label_map: str | Path | None = None
    b_label_map: str | Path | None = None
    classes: tuple[MentionClass, ...] | None = None
    merge: Mapping[MentionClass, MentionClass] = field(default_factory=dict)
    typesystem: str | Path = "4.0.0"
    ignore_unpaired: bool = False

    def __post_init__(self) -> None:
        if not self.a_name.strip() or not self.b_name.strip() or self.a_name == self.b_name:
            raise ConfigError(
                f"[E620] system names must be non-empty and differ, got {self.a_name!r} and {self.b_name!r}"
            )
        known = {f.value for f in CorpusFormat}
        for name in ("a_format", "b_format"):
            if getattr(self, name) not in known:
                raise ConfigError(
                    f"[E621] {name}={getattr(self, name)!r} is not a corpus format; use one of {sorted(known)}"
                )
        if self.classes is not None and (merged := sorted(c.label for c in self.classes if c in self.merge)):
            raise ConfigError(f"[E622] classes {merged} are merged into others; list the class they merge into")
        object.__setattr__(self, "merge", MappingProxyType(dict(self.merge)))
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(self.classes))


@dataclass(frozen=True, slots=True)
class AlignedMention:
    """One row of a note's alignment: a mention of A, of B, or a pair.

    Attributes:
        a: A's mention, or None for a mention only in B.
        b: B's mention, or None for a mention only in A.
        status: how they relate.
        polarity_differs: for pairs, one side negated and the other not.
        cui_differs: for pairs where both sides have CUIs, they share none; None when either has no CUI.
    """

    a: Mention | None
    b: Mention | None
    status: Status
    polarity_differs: bool = False
    cui_differs: bool | None = None

    @property
    def begin(self) -> int:
        """Where the row starts in the text."""
        return min(m.begin for m in (self.a, self.b) if m is not None)

    @property
    def disagrees(self) -> bool:
        """Anything but a same-span, same-class pair with the same polarity and compatible CUIs."""
        return self.status is not Status.SAME or self.polarity_differs or bool(self.cui_differs)


@dataclass(frozen=True)
class DocumentComparison:
    """One note's comparison.

    Attributes:
        doc_id: A's id of the note.
        b_id: B's id of the note.
        text: the note text (A's; B's offsets were moved onto it when only line ends differed).
        a: A's mentions.
        b: B's mentions.
        rows: the alignment, in text order.
    """

    doc_id: str
    b_id: str
    text: str
    a: tuple[Mention, ...]
    b: tuple[Mention, ...]
    rows: tuple[AlignedMention, ...]

    def count(self, status: Status) -> int:
        """Rows with ``status``."""
        return sum(row.status is status for row in self.rows)


@dataclass(frozen=True, slots=True)
class ClassCounts:
    """Counts for one class: A's and B's mentions and how they align.

    ``same``, ``overlap``, ``other_class`` and ``only_a`` count A's mentions of the class; ``only_b`` counts B's.
    """

    a: int = 0
    b: int = 0
    same: int = 0
    overlap: int = 0
    other_class: int = 0
    only_a: int = 0
    only_b: int = 0

    def to_dict(self) -> dict[str, int]:
        """The counts as plain JSON values."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ComparisonResult:
    """Everything :func:`compare` found.

    Attributes:
        a_name: system A's name.
        b_name: system B's name.
        a_path: where A was read from ("" for in-memory documents).
        b_path: where B was read from.
        documents: per-note comparisons, in A's id order.
        per_class: counts per class (classes seen on either side, enum order).
        confusion: (A's class, B's class) -> number of same-span pairs with those classes (diagonal included).
        polarity_pairs: same/overlap pairs compared for polarity.
        polarity_agree: of those, pairs with the same polarity.
        cui_pairs: same/overlap pairs where both sides have CUIs.
        cui_agree: of those, pairs sharing a CUI.
        agreement: B scored against A as the reference (strict/lenient P/R/F1 per class).
        pairing: how note ids paired, with the notes found on one side only.
    """

    a_name: str
    b_name: str
    a_path: str
    b_path: str
    documents: tuple[DocumentComparison, ...]
    per_class: Mapping[MentionClass, ClassCounts]
    confusion: Mapping[tuple[MentionClass, MentionClass], int]
    polarity_pairs: int
    polarity_agree: int
    cui_pairs: int
    cui_agree: int
    agreement: Scores
    pairing: Pairing

    def totals(self) -> ClassCounts:
        """Counts summed over classes."""
        return ClassCounts(
            *(sum(getattr(c, f.name) for c in self.per_class.values()) for f in dataclasses.fields(ClassCounts))
        )

    def to_dict(self) -> dict[str, Any]:
        """Summary as plain JSON values (no note texts)."""
        return {
            "a": {"name": self.a_name, "path": self.a_path},
            "b": {"name": self.b_name, "path": self.b_path},
            "n_documents": len(self.documents),
            "per_class": {cls.label: counts.to_dict() for cls, counts in self.per_class.items()},
            "total": self.totals().to_dict(),
            "confusion": [
                {"a": a.label, "b": b.label, "count": n} for (a, b), n in sorted(self.confusion.items(), key=_pair_key)
            ],
            "polarity": {
                "pairs": self.polarity_pairs,
                "agree": self.polarity_agree,
                "agreement": _ratio(self.polarity_agree, self.polarity_pairs),
            },
            "cui": {
                "pairs": self.cui_pairs,
                "agree": self.cui_agree,
                "agreement": _ratio(self.cui_agree, self.cui_pairs),
            },
            "agreement": self.agreement.to_dict(),
            "documents": [
                {
                    "id": doc.doc_id,
                    "b_id": doc.b_id,
                    "a": len(doc.a),
                    "b": len(doc.b),
                    **{status.value: doc.count(status) for status in Status},
                }
                for doc in self.documents
            ],
            "unpaired": {"a": self.pairing.only_a, "b": self.pairing.only_b},
        }

    def format_table(self) -> str:
        """A plain-text summary for the terminal."""
        header = (
            f"{'class':<18}{self.a_name[:8]:>9}{self.b_name[:8]:>9}{'same':>7}{'overlap':>9}{'other':>7}"
            f"{'only A':>8}{'only B':>8}{'F1':>7}"
        )
        lines = [f"{self.a_name} (A) vs {self.b_name} (B) on {len(self.documents)} notes", header, "-" * len(header)]
        rows = [(cls.label, counts, self.agreement.lenient.get(cls)) for cls, counts in self.per_class.items()]
        rows.append(("total", self.totals(), self.agreement.micro("lenient")))
        for name, c, f1 in rows:
            f1_text = f"{f1.f1:>7.3f}" if f1 is not None else f"{'-':>7}"
            lines.append(
                f"{name:<18}{c.a:>9}{c.b:>9}{c.same:>7}{c.overlap:>9}{c.other_class:>7}{c.only_a:>8}{c.only_b:>8}{f1_text}"
            )
        lines.append("")
        lines.append("F1: lenient agreement (overlap and same class) with A as the reference")
        lines.append(
            f"polarity agreement: {_ratio(self.polarity_agree, self.polarity_pairs):.3f} "
            f"({self.polarity_agree}/{self.polarity_pairs} pairs); CUI agreement: "
            f"{_ratio(self.cui_agree, self.cui_pairs):.3f} ({self.cui_agree}/{self.cui_pairs} pairs with CUIs on "
            "both sides)"
        )
        if self.pairing.only_a or self.pairing.only_b:
            lines.append(f"unpaired notes: {len(self.pairing.only_a)} only in A, {len(self.pairing.only_b)} only in B")
        return "\n".join(lines)


def compare(a_path: str | Path, b_path: str | Path, config: CompareConfig | None = None) -> ComparisonResult:
    """Read two systems' outputs on the same notes and compare them note by note.

    Args:
        a_path: system A's output (an XMI folder, or any corpus format).
        b_path: system B's output.
        config: names, formats and class options.

    Returns:
        The comparison; :func:`ctakes_llm.evaluation.report_html.write_html_report` renders it.

    Raises:
        CorpusError: an output cannot be read.
        InputError: notes do not pair by id (unless ``ignore_unpaired``) or paired texts differ.
    """
    config = config or CompareConfig()
    a = load_corpus(a_path, config.a_format, config.a_label_map, typesystem=config.typesystem)
    b = load_corpus(b_path, config.b_format, config.b_label_map, typesystem=config.typesystem)
    return compare_documents(a, b, config, paths=(str(a_path), str(b_path)))


def compare_documents(
    a: Sequence[GoldDocument],
    b: Sequence[GoldDocument],
    config: CompareConfig | None = None,
    *,
    paths: tuple[str, str] = ("", ""),
) -> ComparisonResult:
    """Compare in-memory documents of two systems (see :func:`compare`)."""
    config = config or CompareConfig()
    aligned, pairing = paired_documents(
        a, b, ignore_unpaired=config.ignore_unpaired, names=(config.a_name, config.b_name)
    )
    keep = set(config.classes) if config.classes is not None else set(MentionClass) - set(config.merge)
    documents = []
    for doc_a, doc_b in aligned:
        mentions_a = _prepared(doc_a.mentions, config.merge, keep)
        mentions_b = _prepared(doc_b.mentions, config.merge, keep)
        rows = align_mentions(mentions_a, mentions_b)
        documents.append(DocumentComparison(doc_a.doc_id, doc_b.doc_id, doc_a.text, mentions_a, mentions_b, rows))
    agreement = score_corpus(
        {doc.doc_id: doc.a for doc in documents}, {doc.doc_id: doc.b for doc in documents}, bootstrap=0
    )
    return _summarize(config, paths, documents, agreement, pairing)


def align_mentions(a: Sequence[Mention], b: Sequence[Mention]) -> tuple[AlignedMention, ...]:
    """Align one note's mentions of A and B in the three rounds of the module docstring; rows in text order."""
    rows: list[AlignedMention] = []
    rest_a, rest_b = list(range(len(a))), list(range(len(b)))
    for status, overlap, same_class in (
        (Status.SAME, False, True),
        (Status.OVERLAP, True, True),
        (Status.OTHER_CLASS, False, False),
    ):
        pairs = match_mentions([a[i] for i in rest_a], [b[j] for j in rest_b], overlap=overlap, same_class=same_class)
        matched_a, matched_b = set(), set()
        for i, j in pairs:
            ma, mb = a[rest_a[i]], b[rest_b[j]]
            rows.append(_pair_row(ma, mb, status))
            matched_a.add(rest_a[i])
            matched_b.add(rest_b[j])
        rest_a = [i for i in rest_a if i not in matched_a]
        rest_b = [j for j in rest_b if j not in matched_b]
    rows.extend(AlignedMention(a[i], None, Status.ONLY_A) for i in rest_a)
    rows.extend(AlignedMention(None, b[j], Status.ONLY_B) for j in rest_b)
    rows.sort(key=lambda row: (row.begin, row.status.value))
    return tuple(rows)


def is_negated(mention: Mention) -> bool:
    """Whether a mention's polarity is negated (cTAKES polarity -1)."""
    return mention.attributes.get(POLARITY) == NEGATED


def _pair_row(a: Mention, b: Mention, status: Status) -> AlignedMention:
    cuis_a = {c.cui for c in a.concepts if c.cui}
    cuis_b = {c.cui for c in b.concepts if c.cui}
    cui_differs = None if not cuis_a or not cuis_b else not (cuis_a & cuis_b)
    polarity_differs = status is not Status.OTHER_CLASS and is_negated(a) != is_negated(b)
    return AlignedMention(a, b, status, polarity_differs, cui_differs)


def _prepared(
    mentions: Iterable[Mention], merge: Mapping[MentionClass, MentionClass], keep: set[MentionClass]
) -> tuple[Mention, ...]:
    out = []
    for mention in mentions:
        cls = merge.get(mention.cls, mention.cls)
        if cls in keep:
            out.append(mention if cls is mention.cls else dataclasses.replace(mention, cls=cls))
    return tuple(out)


def _summarize(
    config: CompareConfig,
    paths: tuple[str, str],
    documents: list[DocumentComparison],
    agreement: Scores,
    pairing: Pairing,
) -> ComparisonResult:
    counts: dict[MentionClass, Counter[str]] = {}
    confusion: Counter[tuple[MentionClass, MentionClass]] = Counter()
    polarity_pairs = polarity_agree = cui_pairs = cui_agree = 0
    for doc in documents:
        for mention in doc.a:
            counts.setdefault(mention.cls, Counter())["a"] += 1
        for mention in doc.b:
            counts.setdefault(mention.cls, Counter())["b"] += 1
        for row in doc.rows:
            if row.a is not None:
                counts[row.a.cls][row.status.value] += 1
                if row.b is not None and row.status is not Status.OVERLAP:
                    confusion[(row.a.cls, row.b.cls)] += 1
            elif row.b is not None:
                counts[row.b.cls][Status.ONLY_B.value] += 1
            if row.status in (Status.SAME, Status.OVERLAP):
                polarity_pairs += 1
                polarity_agree += not row.polarity_differs
                if row.cui_differs is not None:
                    cui_pairs += 1
                    cui_agree += not row.cui_differs
    per_class = {
        cls: ClassCounts(**{f.name: counts[cls][f.name] for f in dataclasses.fields(ClassCounts)})
        for cls in MentionClass
        if cls in counts
    }
    return ComparisonResult(
        a_name=config.a_name,
        b_name=config.b_name,
        a_path=paths[0],
        b_path=paths[1],
        documents=tuple(documents),
        per_class=per_class,
        confusion=dict(confusion),
        polarity_pairs=polarity_pairs,
        polarity_agree=polarity_agree,
        cui_pairs=cui_pairs,
        cui_agree=cui_agree,
        agreement=agreement,
        pairing=pairing,
    )


def _pair_key(item: tuple[tuple[MentionClass, MentionClass], int]) -> tuple[int, int]:
    (a, b), _ = item
    return a.value, b.value


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0
