"""Precision, recall and F1 of predicted mentions against gold, per class, micro and macro, with bootstrap intervals.

Two ways to count a hit:

* **strict**: the predicted mention has exactly the gold span and the same class;
* **lenient**: the spans overlap and the classes agree; every gold mention pairs with at most one prediction and
  vice versa (a maximum one-to-one matching that keeps exact and larger overlaps first).

Span-only scores do the same with the class ignored. Polarity and CUI agreement are measured on the lenient pairs,
so they say how good the attributes are where the span was found.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ctakes_llm.errors import ConfigError, InputError
from ctakes_llm.ner.mention import Mention, MentionClass

POLARITY = "polarity"
NEGATED = "-1"
MODES = ("strict", "lenient")


@dataclass(frozen=True, slots=True)
class Counts:
    """True positives, false positives and false negatives, with the scores they give (0.0 when undefined)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        """tp / (tp + fp)."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        """tp / (tp + fn)."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        return _f1(self.tp, self.fp, self.fn)

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def to_dict(self) -> dict[str, float | int]:
        """Counts and scores as plain JSON values."""
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


@dataclass(frozen=True, slots=True)
class Interval:
    """A bootstrap percentile confidence interval."""

    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        """The bounds as plain JSON values."""
        return {"low": self.low, "high": self.high}


@dataclass(frozen=True, slots=True)
class PolarityScores:
    """Polarity on lenient matches where gold marks polarity: accuracy and F1 of the negated mentions."""

    pairs: int
    agree: int
    negated: Counts

    @property
    def accuracy(self) -> float:
        """Share of matched pairs whose polarity agrees."""
        return _ratio(self.agree, self.pairs)

    def to_dict(self) -> dict[str, Any]:
        """Scores as plain JSON values."""
        return {"pairs": self.pairs, "agree": self.agree, "accuracy": self.accuracy, "negated": self.negated.to_dict()}


@dataclass(frozen=True, slots=True)
class CuiScores:
    """CUI agreement on lenient matches whose gold mention has CUIs.

    A pair agrees when the predicted mention carries at least one of the gold CUIs.
    """

    pairs: int
    agree: int
    pred_without_cui: int

    @property
    def agreement(self) -> float:
        """Share of pairs with a shared CUI."""
        return _ratio(self.agree, self.pairs)

    def to_dict(self) -> dict[str, Any]:
        """Scores as plain JSON values."""
        return {
            "pairs": self.pairs,
            "agree": self.agree,
            "agreement": self.agreement,
            "pred_without_cui": self.pred_without_cui,
        }


@dataclass(frozen=True)
class Scores:
    """Everything :func:`score_corpus` measured.

    Attributes:
        classes: the classes scored, in enum order (after merging and restriction).
        strict: per-class counts with exact span and class.
        lenient: per-class counts with overlapping span and same class (one-to-one).
        span_strict: class-agnostic counts with exact spans.
        span_lenient: class-agnostic counts with overlapping spans (one-to-one).
        polarity: polarity on lenient pairs, or None when gold or the predictions mark no polarity (a system
            without an assertion step would score as never negating).
        cui: CUI agreement on lenient pairs, or None when no gold mention has a CUI.
        intervals: metric name (as in ``to_dict()["intervals"]``) to its bootstrap interval; empty when disabled.
        n_documents: documents scored.
        merge: the class merges applied (source class to target class).
        bootstrap: resamples drawn; 0 when intervals were not computed.
        confidence: the confidence level of the intervals.
    """

    classes: tuple[MentionClass, ...]
    strict: Mapping[MentionClass, Counts]
    lenient: Mapping[MentionClass, Counts]
    span_strict: Counts
    span_lenient: Counts
    polarity: PolarityScores | None
    cui: CuiScores | None
    n_documents: int
    intervals: Mapping[str, Interval] = field(default_factory=dict)
    merge: Mapping[MentionClass, MentionClass] = field(default_factory=dict)
    bootstrap: int = 0
    confidence: float = 0.95

    def micro(self, mode: str) -> Counts:
        """Counts summed over classes for ``mode`` ("strict" or "lenient")."""
        return sum(self._per_class(mode).values(), Counts())

    def macro(self, mode: str) -> tuple[float, float, float]:
        """Unweighted mean (precision, recall, F1) over the scored classes that occur in gold or predictions."""
        per_class = [c for c in self._per_class(mode).values() if c.tp + c.fp + c.fn]
        if not per_class:
            return 0.0, 0.0, 0.0
        n = len(per_class)
        return (
            sum(c.precision for c in per_class) / n,
            sum(c.recall for c in per_class) / n,
            sum(c.f1 for c in per_class) / n,
        )

    def _per_class(self, mode: str) -> Mapping[MentionClass, Counts]:
        if mode not in MODES:
            raise ConfigError(f"[E600] unknown scoring mode {mode!r}; use one of {', '.join(MODES)}")
        return self.strict if mode == "strict" else self.lenient

    def to_dict(self) -> dict[str, Any]:
        """All scores as plain JSON values (class keys are the short labels, e.g. ``DiseaseDisorder``)."""
        out: dict[str, Any] = {
            "n_documents": self.n_documents,
            "classes": [c.label for c in self.classes],
            "merge": {src.label: dst.label for src, dst in self.merge.items()},
        }
        for mode in MODES:
            per_class = self._per_class(mode)
            p, r, f = self.macro(mode)
            out[mode] = {
                "per_class": {c.label: per_class[c].to_dict() for c in self.classes},
                "micro": self.micro(mode).to_dict(),
                "macro": {"precision": p, "recall": r, "f1": f},
            }
        out["span_only"] = {"strict": self.span_strict.to_dict(), "lenient": self.span_lenient.to_dict()}
        out["polarity"] = self.polarity.to_dict() if self.polarity else None
        out["cui"] = self.cui.to_dict() if self.cui else None
        out["bootstrap"] = {"resamples": self.bootstrap, "confidence": self.confidence}
        out["intervals"] = {name: interval.to_dict() for name, interval in self.intervals.items()}
        return out

    def format_table(self) -> str:
        """A plain-text table for the terminal."""
        header = (
            f"{'class':<18}{'strict P':>9}{'R':>7}{'F1':>7}   {'lenient P':>9}{'R':>7}{'F1':>7}{'gold':>7}{'pred':>7}"
        )
        lines = [header, "-" * len(header)]

        def row(name: str, strict: Counts, lenient: Counts) -> str:
            return (
                f"{name:<18}{strict.precision:>9.3f}{strict.recall:>7.3f}{strict.f1:>7.3f}   "
                f"{lenient.precision:>9.3f}{lenient.recall:>7.3f}{lenient.f1:>7.3f}"
                f"{strict.tp + strict.fn:>7}{strict.tp + strict.fp:>7}"
            )

        for cls in self.classes:
            lines.append(row(cls.label, self.strict[cls], self.lenient[cls]))
        lines.append("-" * len(header))
        lines.append(row("micro", self.micro("strict"), self.micro("lenient")))
        sp, sr, sf = self.macro("strict")
        lp, lr, lf = self.macro("lenient")
        lines.append(f"{'macro':<18}{sp:>9.3f}{sr:>7.3f}{sf:>7.3f}   {lp:>9.3f}{lr:>7.3f}{lf:>7.3f}")
        lines.append(row("span only", self.span_strict, self.span_lenient))
        lines.append("")
        lines.append(f"documents: {self.n_documents}")
        if self.merge:
            lines.append("merged: " + ", ".join(f"{s.label}->{d.label}" for s, d in self.merge.items()))
        if self.polarity:
            pol = self.polarity
            lines.append(
                f"polarity accuracy: {pol.accuracy:.3f} ({pol.agree}/{pol.pairs} lenient pairs); "
                f"negated P/R/F1: {pol.negated.precision:.3f}/{pol.negated.recall:.3f}/{pol.negated.f1:.3f}"
            )
        else:
            lines.append("polarity: not scored (gold or the predictions mark none)")
        if self.cui:
            lines.append(
                f"CUI agreement: {self.cui.agreement:.3f} ({self.cui.agree}/{self.cui.pairs} lenient pairs with gold"
                f" CUIs; {self.cui.pred_without_cui} predictions without CUI)"
            )
        if self.intervals:
            lines.append(f"{self.confidence:.0%} bootstrap intervals ({self.bootstrap} resamples over documents):")
            for name in ("strict.micro.f1", "lenient.micro.f1", "strict.macro.f1", "lenient.macro.f1"):
                interval = self.intervals[name]
                lines.append(f"  {name:<18}[{interval.low:.3f}, {interval.high:.3f}]")
        return "\n".join(lines)


def parse_merge(groups: Iterable[str]) -> dict[MentionClass, MentionClass]:
    """Turn merge groups such as ``"DiseaseDisorder+SignSymptom"`` into a class map; each group maps to its first class.

    Raises:
        ConfigError: a label names none of the five classes, or a class is in two groups.
    """
    merge: dict[MentionClass, MentionClass] = {}
    used: set[MentionClass] = set()
    for group in groups:
        try:
            members = [MentionClass.from_label(label) for label in group.split("+") if label.strip()]
        except ValueError as err:
            raise ConfigError(
                f"[E601] bad merge group {group!r}: {err}. Write groups like 'DiseaseDisorder+SignSymptom'."
            ) from err
        for member in members:
            if member in used:
                raise ConfigError(f"[E602] class {member.label} is in more than one merge group; list it once.")
            used.add(member)
        merge.update({member: members[0] for member in members[1:]})
    return merge


def parse_classes(labels: Iterable[str]) -> tuple[MentionClass, ...]:
    """Parse class labels (``DiseaseDisorder``, ``DiseaseDisorderMention``, ``DISEASE_DISORDER``).

    Raises:
        ConfigError: a label names none of the five classes.
    """
    try:
        return tuple(MentionClass.from_label(label) for label in labels)
    except ValueError as err:
        raise ConfigError(f"[E603] {err}. Pass class labels such as DiseaseDisorder,SignSymptom.") from err


def match_mentions(
    gold: Sequence[Mention],
    pred: Sequence[Mention],
    *,
    overlap: bool,
    same_class: bool,
    class_of: Callable[[Mention], MentionClass] | None = None,
) -> list[tuple[int, int]]:
    """Pair gold and predicted mentions one-to-one.

    With ``overlap=False`` a pair needs identical offsets. With ``overlap=True`` any overlap counts; the matching has
    the largest possible number of pairs, and among the greedy seeds exact spans come first, then larger overlaps.

    Args:
        gold: mentions of one document.
        pred: mentions of the same document.
        overlap: pair overlapping spans (lenient) instead of identical ones (strict).
        same_class: require equal classes.
        class_of: the class to compare (after merging); defaults to ``Mention.cls``.

    Returns:
        (gold index, pred index) pairs, sorted by gold index.
    """
    cls = class_of or (lambda m: m.cls)
    if not overlap:
        by_key: dict[tuple[int, int, MentionClass | None], list[int]] = defaultdict(list)
        for j, p in enumerate(pred):
            by_key[(p.begin, p.end, cls(p) if same_class else None)].append(j)
        pairs = []
        for i, g in enumerate(gold):
            candidates = by_key.get((g.begin, g.end, cls(g) if same_class else None))
            if candidates:
                pairs.append((i, candidates.pop(0)))
        return pairs

    edges: dict[int, list[int]] = defaultdict(list)
    weighted: list[tuple[int, int, int, int]] = []
    order = sorted(range(len(pred)), key=lambda j: (pred[j].begin, pred[j].end))
    starts = [pred[j].begin for j in order]
    for i, g in enumerate(gold):
        for j in order[: bisect_right(starts, g.end - 1)]:
            p = pred[j]
            if p.end <= g.begin or (same_class and cls(p) != cls(g)):
                continue
            size = min(g.end, p.end) - max(g.begin, p.begin)
            edges[i].append(j)
            exact = int(p.begin == g.begin and p.end == g.end)
            weighted.append((-exact, -size, i, j))
    gold_to_pred: dict[int, int] = {}
    pred_to_gold: dict[int, int] = {}
    for _, _, i, j in sorted(weighted):
        if i not in gold_to_pred and j not in pred_to_gold:
            gold_to_pred[i] = j
            pred_to_gold[j] = i
    for i in edges:
        if i not in gold_to_pred:
            _augment(i, edges, gold_to_pred, pred_to_gold)
    return sorted(gold_to_pred.items())


def score_corpus(
    gold: Mapping[str, Sequence[Mention]],
    pred: Mapping[str, Sequence[Mention]],
    *,
    classes: Iterable[MentionClass] | None = None,
    merge: Mapping[MentionClass, MentionClass] | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Scores:
    """Score predicted mentions against gold over a corpus.

    Args:
        gold: document id to gold mentions.
        pred: document id to predicted mentions; must have the same ids as ``gold``.
        classes: score only these classes (after merging); mentions of other classes are dropped on both sides.
            Use it to restrict to what a corpus annotates. Default: every class seen in gold or predictions.
        merge: map a class onto another on both sides before scoring (``{SIGN_SYMPTOM: DISEASE_DISORDER}``).
        bootstrap: documents resampled this many times for confidence intervals; 0 turns intervals off.
        seed: seed of the resampling.
        confidence: level of the percentile intervals, in (0, 1).

    Returns:
        The scores.

    Raises:
        ConfigError: bad bootstrap settings or a class restriction that excludes a merge target.
        InputError: the two sides do not have the same document ids.
    """
    if bootstrap < 0:
        raise ConfigError(f"[E604] bootstrap={bootstrap} must be >= 0 (0 turns confidence intervals off)")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"[E605] confidence={confidence} must be between 0 and 1, e.g. 0.95")
    merge = dict(merge or {})
    missing, extra = sorted(set(gold) - set(pred)), sorted(set(pred) - set(gold))
    if missing or extra:
        raise InputError(
            f"[E606] gold and predictions cover different documents: {len(missing)} only in gold "
            f"{_preview(missing)}, {len(extra)} only in predictions {_preview(extra)}. Score the same documents."
        )

    def class_of(m: Mention) -> MentionClass:
        return merge.get(m.cls, m.cls)

    if classes is None:
        seen = {class_of(m) for side in (gold, pred) for mentions in side.values() for m in mentions}
        scored = tuple(c for c in MentionClass if c in seen)
    else:
        wanted = set(classes)
        if bad := sorted(c.label for c in wanted if c in merge):
            raise ConfigError(f"[E607] classes {bad} are merged into others; restrict to the merged class instead")
        scored = tuple(c for c in MentionClass if c in wanted)
    keep = set(scored)

    doc_ids = sorted(gold)
    polarity_marked = all(
        any(POLARITY in m.attributes for mentions in side.values() for m in mentions) for side in (gold, pred)
    )
    doc_rows: list[list[int]] = []
    totals: dict[str, Counter[str]] = {"pol": Counter(), "cui": Counter()}
    for doc_id in doc_ids:
        g = [m for m in gold[doc_id] if class_of(m) in keep]
        p = [m for m in pred[doc_id] if class_of(m) in keep]
        doc_rows.append(_document_row(g, p, scored, class_of, polarity_marked, totals))
    matrix = np.asarray(doc_rows, dtype=np.int64).reshape(len(doc_ids), -1)
    total = matrix.sum(axis=0)

    n_classes = len(scored)

    def counts_at(group: int) -> Counts:
        tp, fp, fn = (int(x) for x in total[3 * group : 3 * group + 3])
        return Counts(tp, fp, fn)

    per_mode = {mode: {c: counts_at(m * n_classes + k) for k, c in enumerate(scored)} for m, mode in enumerate(MODES)}
    span_strict, span_lenient = counts_at(2 * n_classes), counts_at(2 * n_classes + 1)
    pol, cui = totals["pol"], totals["cui"]
    polarity = (
        PolarityScores(pairs=pol["pairs"], agree=pol["agree"], negated=Counts(pol["tp"], pol["fp"], pol["fn"]))
        if polarity_marked
        else None
    )
    cui_scores = CuiScores(cui["pairs"], cui["agree"], cui["pred_without_cui"]) if cui["pairs"] else None
    intervals = _bootstrap(matrix, n_classes, scored, bootstrap, seed, confidence) if bootstrap and doc_ids else {}
    return Scores(
        classes=scored,
        strict=per_mode["strict"],
        lenient=per_mode["lenient"],
        span_strict=span_strict,
        span_lenient=span_lenient,
        polarity=polarity,
        cui=cui_scores,
        n_documents=len(doc_ids),
        intervals=intervals,
        merge=merge,
        bootstrap=bootstrap if intervals else 0,
        confidence=confidence,
    )


def _document_row(
    gold: list[Mention],
    pred: list[Mention],
    scored: tuple[MentionClass, ...],
    class_of: Callable[[Mention], MentionClass],
    polarity_marked: bool,
    totals: dict[str, Counter[str]],
) -> list[int]:
    """Counts of one document: groups [strict per class, lenient per class, span strict, span lenient] of (tp, fp, fn).

    Polarity and CUI agreement of the lenient pairs are added to ``totals``.
    """
    gold_per_class = Counter(class_of(m) for m in gold)
    pred_per_class = Counter(class_of(m) for m in pred)
    row: list[int] = []
    lenient_pairs: list[tuple[int, int]] = []
    for overlap in (False, True):
        pairs = match_mentions(gold, pred, overlap=overlap, same_class=True, class_of=class_of)
        if overlap:
            lenient_pairs = pairs
        tp = Counter(class_of(gold[i]) for i, _ in pairs)
        for c in scored:
            row += [tp[c], pred_per_class[c] - tp[c], gold_per_class[c] - tp[c]]
    for overlap in (False, True):
        n = len(match_mentions(gold, pred, overlap=overlap, same_class=False))
        row += [n, len(pred) - n, len(gold) - n]

    pol, cui = totals["pol"], totals["cui"]
    for i, j in lenient_pairs:
        g, p = gold[i], pred[j]
        if polarity_marked:
            g_neg = g.attributes.get(POLARITY) == NEGATED
            p_neg = p.attributes.get(POLARITY) == NEGATED
            pol["pairs"] += 1
            pol["agree"] += g_neg == p_neg
            pol["tp"] += g_neg and p_neg
            pol["fp"] += p_neg and not g_neg
            pol["fn"] += g_neg and not p_neg
        gold_cuis = {c.cui for c in g.concepts}
        if gold_cuis:
            pred_cuis = {c.cui for c in p.concepts}
            cui["pairs"] += 1
            cui["agree"] += bool(gold_cuis & pred_cuis)
            cui["pred_without_cui"] += not pred_cuis
    return row


def _bootstrap(
    matrix: np.ndarray,
    n_classes: int,
    scored: tuple[MentionClass, ...],
    resamples: int,
    seed: int,
    confidence: float,
) -> dict[str, Interval]:
    """Percentile intervals from resampling documents with replacement."""
    n_docs = matrix.shape[0]
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n_docs, np.full(n_docs, 1.0 / n_docs), size=resamples)
    sums = (weights @ matrix).reshape(resamples, -1, 3).astype(np.float64)  # (resamples, groups, tp/fp/fn)
    tp, fp, fn = sums[..., 0], sums[..., 1], sums[..., 2]
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    support = (tp + fp + fn) > 0

    samples: dict[str, np.ndarray] = {}
    for m, mode in enumerate(MODES):
        block = slice(m * n_classes, (m + 1) * n_classes)
        mtp, mfp, mfn = tp[:, block].sum(axis=1), fp[:, block].sum(axis=1), fn[:, block].sum(axis=1)
        mdenom = 2 * mtp + mfp + mfn
        samples[f"{mode}.micro.f1"] = np.divide(2 * mtp, mdenom, out=np.zeros_like(mtp), where=mdenom > 0)
        present = support[:, block].sum(axis=1)
        macro_sum = (f1[:, block] * support[:, block]).sum(axis=1)
        samples[f"{mode}.macro.f1"] = np.divide(macro_sum, present, out=np.zeros_like(macro_sum), where=present > 0)
        for k, cls in enumerate(scored):
            samples[f"{mode}.{cls.label}.f1"] = f1[:, m * n_classes + k]
    samples["span_only.strict.f1"] = f1[:, 2 * n_classes]
    samples["span_only.lenient.f1"] = f1[:, 2 * n_classes + 1]
    tail = (1.0 - confidence) / 2 * 100
    return {
        name: Interval(float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail)))
        for name, values in samples.items()
    }


def _augment(
    start: int, edges: Mapping[int, list[int]], gold_to_pred: dict[int, int], pred_to_gold: dict[int, int]
) -> bool:
    """Find an augmenting path from unmatched gold ``start`` and flip it (Kuhn's algorithm, iterative).

    Matched mentions stay matched (possibly to another partner), so the greedy seeds only ever grow.
    """
    seen: set[int] = set()
    stack = [(start, iter(edges.get(start, ())))]
    while stack:
        _, candidates = stack[-1]
        for j in candidates:
            if j in seen:
                continue
            seen.add(j)
            if j not in pred_to_gold:
                while stack:  # the path's golds each take the pred that led to the next one
                    gold, _ = stack.pop()
                    previous = gold_to_pred.get(gold)
                    gold_to_pred[gold] = j
                    pred_to_gold[j] = gold
                    if previous is None:
                        break
                    j = previous
                return True
            nxt = pred_to_gold[j]
            stack.append((nxt, iter(edges.get(nxt, ()))))
            break
        else:
            stack.pop()
    return False


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _f1(tp: int, fp: int, fn: int) -> float:
    den = 2 * tp + fp + fn
    return 2 * tp / den if den else 0.0


def _preview(ids: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(repr(i) for i in ids[:limit])
    more = f", ... (+{len(ids) - limit})" if len(ids) > limit else ""
    return f"[{shown}{more}]"


__all__ = [
    "Counts",
    "CuiScores",
    "Interval",
    "PolarityScores",
    "Scores",
    "match_mentions",
    "parse_classes",
    "parse_merge",
    "score_corpus",
]
