"""Score predictions against gold: read both corpora, pair their documents, align their texts, and score.

``evaluate(gold_path, pred_path, config)`` is what ``ctakes-llm evaluate`` calls; :func:`score_documents` does the
same for documents already in memory (a benchmark holding ``GoldDocument`` values).

Documents pair by id: the same id first, then the same id once ``.xmi``/``.txt``/``.ann``/``.json`` suffixes are
dropped and ``/`` is read as ``__`` (``small/note.txt`` and ``note.txt.xmi``), then a unique id that ends with the
other (cTAKES's ``examples__small__note`` and our ``small/note``). The texts of a pair must be equal, or equal
once CRLF line ends are read as LF (offsets on both sides are then moved onto the LF text); a U+FFFD on one side
matches any character on the other (a non-UTF-8 note that one system decoded with replacement characters).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.corpora.label_map import LabelMap, load_label_map
from ctakes_llm.corpora.load import CorpusFormat, load_corpus
from ctakes_llm.errors import ConfigError, InputError
from ctakes_llm.evaluation.metrics import Scores, score_corpus
from ctakes_llm.ner.mention import Mention, MentionClass

logger = logging.getLogger(__name__)

_ID_SUFFIXES = (".xmi", ".json", ".txt", ".ann", ".xml")


@dataclass(frozen=True)
class EvaluateConfig:
    """How to read and score a gold corpus against predictions.

    Attributes:
        gold_format: ``auto``, ``brat``, ``pubtator``, ``anafora``, ``xmi`` or ``jsonl``.
        pred_format: the same for the predictions (usually ``xmi``, ``brat`` or ``jsonl`` from a run).
        label_map: the gold corpus's label map (a bundled name such as ``maccrobat`` or a JSON path); None: class
            labels for BRAT/PubTator, the bundled map for Anafora.
        pred_label_map: the same for the predictions (None: cTAKES class labels, as our writers write).
        classes: score only these classes; None: the classes the gold label map annotates when
            ``restrict_to_annotated``, else every class seen.
        merge: class merges applied to both sides (``{SIGN_SYMPTOM: DISEASE_DISORDER}``).
        restrict_to_annotated: with a gold label map and no ``classes``, score only its annotated classes.
        merge_alternatives: add the merges a label map's ``alternatives`` imply (BC5CDR's Disease may be a
            DiseaseDisorder or a SignSymptom: SignSymptom is merged into DiseaseDisorder).
        bootstrap: resamples for confidence intervals (0: none).
        seed: seed of the resampling.
        confidence: level of the intervals.
        typesystem: type system for XMI (bundled name or descriptor path).
        text_dir: folder of note texts for Anafora gold kept apart from its texts.
        doc_ids: score only these gold documents (for example a split's ids); None: all.
        ignore_unpaired: drop documents found on one side only (logged) instead of raising.
    """

    gold_format: str = CorpusFormat.AUTO.value
    pred_format: str = CorpusFormat.AUTO.value
    label_map: str | Path | None = None
    pred_label_map: str | Path | None = None
    classes: tuple[MentionClass, ...] | None = None
    merge: Mapping[MentionClass, MentionClass] = field(default_factory=dict)
    restrict_to_annotated: bool = True
    merge_alternatives: bool = True
    bootstrap: int = 1000
    seed: int = 0
    confidence: float = 0.95
    typesystem: str | Path = "4.0.0"
    text_dir: Path | None = None
    doc_ids: frozenset[str] | None = None
    ignore_unpaired: bool = False

    def __post_init__(self) -> None:
        known = {f.value for f in CorpusFormat}
        for name in ("gold_format", "pred_format"):
            if getattr(self, name) not in known:
                raise ConfigError(
                    f"[E610] {name}={getattr(self, name)!r} is not a corpus format; use one of {sorted(known)}"
                )
        if self.bootstrap < 0:
            raise ConfigError(f"[E611] bootstrap={self.bootstrap} must be >= 0 (0 turns confidence intervals off)")
        if not 0.0 < self.confidence < 1.0:
            raise ConfigError(f"[E612] confidence={self.confidence} must be between 0 and 1, e.g. 0.95")
        for source, target in self.merge.items():
            if target in self.merge:
                raise ConfigError(
                    f"[E613] merge maps {source.label} to {target.label}, which is itself merged; merge into one class"
                )
        object.__setattr__(self, "merge", MappingProxyType(dict(self.merge)))
        if self.classes is not None:
            object.__setattr__(self, "classes", tuple(self.classes))
        if self.doc_ids is not None:
            object.__setattr__(self, "doc_ids", frozenset(self.doc_ids))


def evaluate(gold_path: str | Path, pred_path: str | Path, config: EvaluateConfig | None = None) -> dict[str, Any]:
    """Read gold and predictions, pair documents by id and score them.

    Args:
        gold_path: the gold corpus (file or folder, any :class:`CorpusFormat`).
        pred_path: the predictions (file or folder).
        config: reading and scoring options.

    Returns:
        ``Scores.to_dict()`` plus ``gold``, ``pred``, ``pairs`` (gold id to pred id where they differ),
        ``unpaired`` (ids dropped with ``ignore_unpaired``) and ``table`` (the terminal table).

    Raises:
        CorpusError: a corpus cannot be read.
        InputError: documents do not pair, or paired texts differ.
        ConfigError: inconsistent options.
    """
    config = config or EvaluateConfig()
    gold_map = _resolve_label_map(config.label_map)
    gold = load_corpus(gold_path, config.gold_format, gold_map, typesystem=config.typesystem, text_dir=config.text_dir)
    pred = load_corpus(pred_path, config.pred_format, config.pred_label_map, typesystem=config.typesystem)
    scores, pairing = _score(gold, pred, config, gold_map)
    result = {"gold": str(gold_path), "pred": str(pred_path), **scores.to_dict()}
    result["pairs"] = {g: p for g, p in pairing.pairs if g != p}
    result["unpaired"] = {"gold": pairing.only_a, "pred": pairing.only_b}
    result["table"] = scores.format_table()
    return result


def score_documents(
    gold: Sequence[GoldDocument],
    pred: Sequence[GoldDocument],
    config: EvaluateConfig | None = None,
    label_map: LabelMap | None = None,
) -> Scores:
    """Pair in-memory documents by id, align their texts and score them.

    Args:
        gold: gold documents.
        pred: predicted documents (their ``text`` must be the gold text, up to CRLF line ends).
        config: scoring options (the reading options are not used).
        label_map: the gold corpus's label map, for ``restrict_to_annotated`` and ``merge_alternatives``.

    Raises:
        InputError: documents do not pair, or paired texts differ.
    """
    scores, _ = _score(gold, pred, config or EvaluateConfig(), label_map)
    return scores


@dataclass(frozen=True)
class Pairing:
    """Documents of two corpora paired by id.

    Attributes:
        pairs: (id in A, id in B), in A's id order.
        only_a: ids found in A only.
        only_b: ids found in B only.
    """

    pairs: list[tuple[str, str]]
    only_a: list[str]
    only_b: list[str]


def pair_documents(a_ids: Iterable[str], b_ids: Iterable[str]) -> Pairing:
    """Pair two sets of document ids: equal ids, then equal normalized ids, then a unique suffix match.

    Normalizing drops ``.xmi``/``.json``/``.txt``/``.ann``/``.xml`` suffixes and reads ``/`` as ``__``.
    """
    rest_a, rest_b = sorted(set(a_ids)), sorted(set(b_ids))
    pairs: dict[str, str] = {}
    common = set(rest_a) & set(rest_b)
    pairs.update({i: i for i in common})
    rest_a = [i for i in rest_a if i not in common]
    rest_b = [i for i in rest_b if i not in common]
    for matches in (_same_key, _suffix_key):
        found = _unique_matches(rest_a, rest_b, matches)
        pairs.update(found)
        rest_a = [i for i in rest_a if i not in found]
        taken = set(found.values())
        rest_b = [i for i in rest_b if i not in taken]
    return Pairing(pairs=sorted(pairs.items()), only_a=rest_a, only_b=rest_b)


def paired_documents(
    a: Sequence[GoldDocument], b: Sequence[GoldDocument], *, ignore_unpaired: bool, names: tuple[str, str]
) -> tuple[list[tuple[GoldDocument, GoldDocument]], Pairing]:
    """Pair two corpora's documents and bring each pair onto one text.

    Args:
        a: the first corpus (gold, or system A).
        b: the second corpus (predictions, or system B).
        ignore_unpaired: drop unpaired documents (logged) instead of raising.
        names: what to call the two sides in messages (``("gold", "predictions")``).

    Returns:
        The aligned pairs (A's text is kept; B's offsets are moved onto it) and the pairing.

    Raises:
        InputError: ids do not pair (unless ``ignore_unpaired``), an id repeats, or paired texts differ.
    """
    by_a, by_b = _by_id(a, names[0]), _by_id(b, names[1])
    pairing = pair_documents(by_a, by_b)
    if pairing.only_a or pairing.only_b:
        message = (
            f"{len(pairing.only_a)} documents only in {names[0]} {_preview(pairing.only_a)}, "
            f"{len(pairing.only_b)} only in {names[1]} {_preview(pairing.only_b)}"
        )
        if not ignore_unpaired:
            raise InputError(
                f"[E614] documents do not pair by id: {message}. Give both sides the same notes, or ignore "
                "unpaired documents (--ignore-unpaired)."
            )
        logger.warning("[E615] ignoring unpaired documents: %s", message)
    if not pairing.pairs:
        raise InputError(f"[E616] no document of {names[0]} pairs with one of {names[1]}; compare the same notes")
    aligned = [_align_texts(by_a[i], by_b[j], names) for i, j in pairing.pairs]
    return aligned, pairing


def _score(
    gold: Sequence[GoldDocument], pred: Sequence[GoldDocument], config: EvaluateConfig, label_map: LabelMap | None
) -> tuple[Scores, Pairing]:
    if config.doc_ids is not None:
        wanted = config.doc_ids
        gold = [doc for doc in gold if doc.doc_id in wanted]
        if missing := sorted(wanted - {doc.doc_id for doc in gold}):
            raise InputError(
                f"[E617] {len(missing)} requested documents are not in the gold corpus: {_preview(missing)}"
            )
        kept = pair_documents([doc.doc_id for doc in gold], [doc.doc_id for doc in pred])
        pred_ids = {j for _, j in kept.pairs}
        pred = [doc for doc in pred if doc.doc_id in pred_ids]
    aligned, pairing = paired_documents(
        gold, pred, ignore_unpaired=config.ignore_unpaired, names=("gold", "predictions")
    )
    merge = dict(config.merge)
    if label_map is not None and config.merge_alternatives:
        for target, alternatives in label_map.alternatives.items():
            merge.update({alt: target for alt in alternatives if alt != target and alt not in merge})
    classes: Iterable[MentionClass] | None = config.classes
    if classes is None and label_map is not None and config.restrict_to_annotated:
        classes = {merge.get(c, c) for c in label_map.annotated_classes}
    scores = score_corpus(
        {g.doc_id: g.mentions for g, _ in aligned},
        {g.doc_id: p.mentions for g, p in aligned},
        classes=classes,
        merge=merge,
        bootstrap=config.bootstrap,
        seed=config.seed,
        confidence=config.confidence,
    )
    return scores, pairing


def _resolve_label_map(value: str | Path | None) -> LabelMap | None:
    return None if value is None else load_label_map(value)


def _align_texts(a: GoldDocument, b: GoldDocument, names: tuple[str, str]) -> tuple[GoldDocument, GoldDocument]:
    """Bring B's mentions onto A's text; when they differ only in CRLF/LF, move both onto the LF text.

    Texts also count as equal where one side has U+FFFD and the other any character: a note that is not UTF-8
    read as UTF-8 with replacement (as cTAKES reads it) next to the same note read in its real encoding.
    """
    if _same_text(a.text, b.text):
        return a, b
    a_lf, b_lf = a.text.replace("\r\n", "\n"), b.text.replace("\r\n", "\n")
    if not _same_text(a_lf, b_lf):
        raise InputError(
            f"[E618] the texts of {names[0]} {a.doc_id!r} and {names[1]} {b.doc_id!r} differ "
            f"({len(a_lf)} vs {len(b_lf)} characters with LF line ends, first difference at "
            f"{_first_difference(a_lf, b_lf)}); offsets cannot be compared. Annotate the same text."
        )
    logger.info("%s / %s: line ends differ (CRLF vs LF); comparing on the LF text", a.doc_id, b.doc_id)
    return _to_lf(a), _to_lf(b)


def _same_text(a: str, b: str) -> bool:
    if a == b:
        return True
    if len(a) != len(b) or "\ufffd" not in a + b:
        return False
    same = all(x == y or x == "\ufffd" or y == "\ufffd" for x, y in zip(a, b, strict=True))
    if same:
        logger.info("texts differ only where one side has U+FFFD (a note decoded in two ways); offsets kept")
    return same


def _to_lf(doc: GoldDocument) -> GoldDocument:
    if "\r\n" not in doc.text:
        return doc
    table: list[int] = []
    position = 0
    for i, char in enumerate(doc.text):
        table.append(position)
        if not (char == "\r" and doc.text.startswith("\n", i + 1)):
            position += 1
    table.append(position)
    text = doc.text.replace("\r\n", "\n")
    mentions = tuple(_moved(m, table[m.begin], table[m.end], text) for m in doc.mentions)
    return dataclasses.replace(doc, text=text, mentions=mentions)


def _moved(mention: Mention, begin: int, end: int, text: str) -> Mention:
    return dataclasses.replace(mention, begin=begin, end=max(end, begin + 1), text=text[begin : max(end, begin + 1)])


def _by_id(documents: Sequence[GoldDocument], name: str) -> dict[str, GoldDocument]:
    by_id: dict[str, GoldDocument] = {}
    for doc in documents:
        if doc.doc_id in by_id:
            raise InputError(f"[E619] document id {doc.doc_id!r} occurs twice in {name}; ids must be unique")
        by_id[doc.doc_id] = doc
    return by_id


@functools.lru_cache(maxsize=65536)
def _normalized(doc_id: str) -> str:
    key = doc_id.replace("\\", "/")
    changed = True
    while changed:
        changed = False
        for suffix in _ID_SUFFIXES:
            if key.lower().endswith(suffix) and len(key) > len(suffix):
                key, changed = key[: -len(suffix)], True
    return key.replace("/", "__")


def _same_key(a: str, b: str) -> bool:
    return _normalized(a) == _normalized(b)


def _suffix_key(a: str, b: str) -> bool:
    ka, kb = _normalized(a), _normalized(b)
    return ka.endswith("__" + kb) or kb.endswith("__" + ka)


def _unique_matches(a_ids: list[str], b_ids: list[str], matches: Callable[[str, str], bool]) -> dict[str, str]:
    candidates = {i: [j for j in b_ids if matches(i, j)] for i in a_ids}
    claimed: dict[str, int] = {}
    for found in candidates.values():
        for j in found:
            claimed[j] = claimed.get(j, 0) + 1
    return {i: found[0] for i, found in candidates.items() if len(found) == 1 and claimed[found[0]] == 1}


def _first_difference(a: str, b: str) -> int:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def _preview(ids: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(repr(i) for i in ids[:limit])
    return f"[{shown}{', ...' if len(ids) > limit else ''}]"
