"""A self-contained HTML report of a comparison: one file, inline CSS and JavaScript, no network.

The page starts with the summary tables (per class, agreement, polarity and CUIs, class confusions, notes), then
shows each note twice side by side, highlighted with system A's mentions on the left and B's on the right. A
mention's colour gives its class; a red outline marks a disagreement (only one system found it, another class, an
overlapping but different span, another polarity or other CUIs); a line through marks a negated mention. Below
each note a table lists the mentions pair by pair. Filters (class, kind of disagreement, hide notes with nothing to
show) run in the page; their state is kept in the URL fragment (``report.html#show=disagree&classes=Medication``)
so a view can be bookmarked. Everything taken from the notes or the file names is HTML-escaped, and a Content
Security Policy forbids loading anything from outside the file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from html import escape
from importlib.resources import files
from itertools import pairwise
from pathlib import Path

from ctakes_llm.cas.atomic import atomic_write
from ctakes_llm.evaluation.compare import AlignedMention, ComparisonResult, DocumentComparison, Status, is_negated
from ctakes_llm.ner.mention import Concept, Mention, MentionClass

_CSS_CLASS = {
    MentionClass.MEDICATION: "c-med",
    MentionClass.DISEASE_DISORDER: "c-dd",
    MentionClass.SIGN_SYMPTOM: "c-ss",
    MentionClass.PROCEDURE: "c-proc",
    MentionClass.ANATOMICAL_SITE: "c-anat",
}
_CLASS_NAMES = {
    MentionClass.MEDICATION: "Medication",
    MentionClass.DISEASE_DISORDER: "Disease / disorder",
    MentionClass.SIGN_SYMPTOM: "Sign / symptom",
    MentionClass.PROCEDURE: "Procedure",
    MentionClass.ANATOMICAL_SITE: "Anatomical site",
}
_STATUS_WORDS = {
    Status.SAME: "same in both",
    Status.OVERLAP: "overlapping span",
    Status.OTHER_CLASS: "same words, other class",
    Status.ONLY_A: "only in {a}",
    Status.ONLY_B: "only in {b}",
}
_SHOW_OPTIONS = (
    ("all", "everything"),
    ("disagree", "disagreements"),
    ("agree", "agreements"),
    ("only_a", "only in {a}"),
    ("only_b", "only in {b}"),
    ("other_class", "other class"),
    ("overlap", "overlapping span"),
    ("polarity", "polarity differs"),
    ("cui", "CUI differs"),
)
_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def write_html_report(result: ComparisonResult, path: str | Path, *, title: str | None = None) -> Path:
    """Write the comparison as one self-contained HTML file (atomically).

    Args:
        result: what :func:`ctakes_llm.evaluation.compare.compare` returned.
        path: the ``.html`` file to write; its folder is created.
        title: the page title; defaults to "<A> vs <B>".

    Returns:
        The written path.

    Raises:
        OutputError: the file cannot be written.
    """
    path = Path(path)
    atomic_write(path, render_html_report(result, title=title))
    return path


def render_html_report(result: ComparisonResult, *, title: str | None = None) -> str:
    """The report as an HTML string (see the module docstring)."""
    page_title = title or f"{result.a_name} vs {result.b_name}"
    css = files("ctakes_llm.evaluation").joinpath("report.css").read_text(encoding="utf-8")
    script = files("ctakes_llm.evaluation").joinpath("report.js").read_text(encoding="utf-8")
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(page_title)}</title><style>{css}</style></head>",
        '<body data-ready="0">',
        f"<header><h1>{escape(page_title)}</h1>",
        f"<p>A: <b>{escape(result.a_name)}</b> {escape(result.a_path)} &middot; B: <b>{escape(result.b_name)}</b> "
        f"{escape(result.b_path)} &middot; {len(result.documents)} notes &middot; generated {generated}</p></header>",
        _summary(result),
        _controls(result),
        "<main>",
        *(_note(result, index, doc) for index, doc in enumerate(result.documents)),
        "</main>",
        f"<script>{script}</script>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _summary(result: ComparisonResult) -> str:
    a, b = escape(result.a_name), escape(result.b_name)
    rows = []
    for cls, counts in [*result.per_class.items(), (None, result.totals())]:
        lenient = result.agreement.lenient.get(cls) if cls else result.agreement.micro("lenient")
        strict = result.agreement.strict.get(cls) if cls else result.agreement.micro("strict")
        name = _class_cell(cls) if cls else "<b>total</b>"
        rows.append(
            f"<tr><td>{name}</td><td>{counts.a}</td><td>{counts.b}</td><td>{counts.same}</td><td>{counts.overlap}</td>"
            f"<td>{counts.other_class}</td><td>{counts.only_a}</td><td>{counts.only_b}</td>"
            f"<td>{_f(strict.f1 if strict else None)}</td><td>{_f(lenient.f1 if lenient else None)}</td></tr>"
        )
    class_table = (
        '<table id="class-table"><thead><tr><th>class</th>'
        f"<th>{a}</th><th>{b}</th><th>same in both</th><th>overlapping span</th><th>same words, other class</th>"
        f"<th>only in {a}</th><th>only in {b}</th><th>agreement F1 (exact)</th><th>agreement F1 (overlap)</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    attributes = (
        '<table id="attribute-table"><thead><tr><th>attribute</th><th>pairs compared</th><th>agree</th>'
        "<th>agreement</th></tr></thead><tbody>"
        f"<tr><td>polarity (negated or not)</td><td>{result.polarity_pairs}</td><td>{result.polarity_agree}</td>"
        f"<td>{_f(_ratio(result.polarity_agree, result.polarity_pairs))}</td></tr>"
        f"<tr><td>CUI (both sides have CUIs)</td><td>{result.cui_pairs}</td><td>{result.cui_agree}</td>"
        f"<td>{_f(_ratio(result.cui_agree, result.cui_pairs))}</td></tr></tbody></table>"
    )
    return "\n".join(
        [
            '<section id="summary"><h2>Summary</h2>',
            f"<p>Mentions of {a} and {b} are paired note by note: first the same words with the same class, then "
            "overlapping words with the same class, then the same words with another class. Agreement F1 treats "
            f"{a} as the reference.</p>",
            class_table,
            attributes,
            _confusion(result),
            _notes_table(result),
            _legend(result),
            _unpaired(result),
            "</section>",
        ]
    )


def _confusion(result: ComparisonResult) -> str:
    classes = [cls for cls in MentionClass if any(cls in pair for pair in result.confusion)]
    if not classes:
        return ""
    head = "".join(f"<th>{_class_cell(cls)}</th>" for cls in classes)
    body = "".join(
        f"<tr><td>{_class_cell(row)}</td>"
        + "".join(f"<td>{result.confusion.get((row, col), 0) or ''}</td>" for col in classes)
        + "</tr>"
        for row in classes
    )
    return (
        f"<h2>Same words: class in {escape(result.a_name)} (rows) and {escape(result.b_name)} (columns)</h2>"
        f'<table id="confusion-table"><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def _notes_table(result: ComparisonResult) -> str:
    rows = []
    for index, doc in enumerate(result.documents):
        disagreements = sum(row.disagrees for row in doc.rows)
        rows.append(
            f'<tr><td class="left"><a href="#note-{index}">{escape(doc.doc_id)}</a></td><td>{len(doc.a)}</td>'
            f"<td>{len(doc.b)}</td><td>{doc.count(Status.SAME)}</td><td>{disagreements}</td>"
            f"<td>{doc.count(Status.ONLY_A)}</td><td>{doc.count(Status.ONLY_B)}</td>"
            f"<td>{doc.count(Status.OTHER_CLASS)}</td></tr>"
        )
    a, b = escape(result.a_name), escape(result.b_name)
    return (
        f'<h2>Notes</h2><table id="notes-table"><thead><tr><th>note</th><th>{a}</th><th>{b}</th><th>same in both</th>'
        f"<th>disagreements</th><th>only in {a}</th><th>only in {b}</th><th>other class</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _legend(result: ComparisonResult) -> str:
    swatches = " ".join(f'<span class="m {_CSS_CLASS[cls]}">{escape(_CLASS_NAMES[cls])}</span>' for cls in MentionClass)
    return (
        '<h2>How to read the notes</h2><ul class="legend">'
        f"<li>Colour = class: {swatches}</li>"
        '<li><span class="m c-ss dis">red outline</span> = the systems disagree here (found by one system only, '
        "another class, a different span, another polarity or other CUIs); "
        '<span class="m c-ss dis st-overlap">dotted</span> = overlapping but different words</li>'
        '<li><span class="m c-ss neg">struck through</span> = negated (for example "denies chest pain")</li>'
        "<li>Hover over a highlight for its class, polarity and CUIs. The table under each note lists every "
        "mention pair.</li></ul>"
    )


def _unpaired(result: ComparisonResult) -> str:
    if not result.pairing.only_a and not result.pairing.only_b:
        return ""
    items = [
        f"<li>only in {escape(name)}: {escape(', '.join(ids))}</li>"
        for name, ids in ((result.a_name, result.pairing.only_a), (result.b_name, result.pairing.only_b))
        if ids
    ]
    return f'<h2>Notes left out (no partner)</h2><ul id="unpaired">{"".join(items)}</ul>'


def _controls(result: ComparisonResult) -> str:
    classes = list(result.per_class)
    boxes = "".join(
        f'<label><input type="checkbox" name="cls" value="{cls.label}" checked>'
        f'<span class="swatch {_CSS_CLASS[cls]}"></span>{escape(_CLASS_NAMES[cls])}</label>'
        for cls in classes
    )
    radios = "".join(
        f'<label><input type="radio" name="show" value="{value}"{" checked" if value == "all" else ""}>'
        f"{escape(text.format(a=result.a_name, b=result.b_name))}</label>"
        for value, text in _SHOW_OPTIONS
    )
    return (
        '<section id="controls">'
        f"<fieldset><legend>classes</legend>{boxes}</fieldset>"
        f"<fieldset><legend>show</legend>{radios}</fieldset>"
        '<label><input type="checkbox" id="hide-empty">hide notes with nothing shown</label>'
        f'<span id="counts">shown: <span id="shown-a">{sum(len(d.a) for d in result.documents)}</span> of '
        f"{escape(result.a_name)}, "
        f'<span id="shown-b">{sum(len(d.b) for d in result.documents)}</span> of {escape(result.b_name)}, '
        f'<span id="shown-rows">{sum(len(d.rows) for d in result.documents)}</span> rows in '
        f'<span id="shown-notes">{len(result.documents)}</span> notes</span></section>'
    )


def _note(result: ComparisonResult, index: int, doc: DocumentComparison) -> str:
    keys_a = {id(m): f"a{i}" for i, m in enumerate(doc.a)}
    keys_b = {id(m): f"b{j}" for j, m in enumerate(doc.b)}
    css: dict[str, str] = {}
    tips: dict[str, str] = {}
    rows = []
    for row in doc.rows:
        for mention, keys in ((row.a, keys_a), (row.b, keys_b)):
            if mention is not None:
                key = keys[id(mention)]
                css[key] = _mention_css(mention, row)
                tips[key] = f"{_describe(mention)} - {_status_words(row.status, result)}"
        rows.append(_row(result, row, keys_a, keys_b, css))
    a_pane = _pane(doc.text, doc.a, keys_a, css, tips)
    b_pane = _pane(doc.text, doc.b, keys_b, css, tips)
    same_id = (
        "" if doc.b_id == doc.doc_id else f' <span class="muted">({escape(result.b_name)}: {escape(doc.b_id)})</span>'
    )
    return (
        f'<article class="note" id="note-{index}" data-doc="{escape(doc.doc_id)}">'
        f"<h3>{escape(doc.doc_id)}{same_id}</h3>"
        f'<p class="note-stats">{escape(result.a_name)}: {len(doc.a)} mentions &middot; {escape(result.b_name)}: '
        f"{len(doc.b)} mentions &middot; same in both: {doc.count(Status.SAME)} &middot; disagreements: "
        f'{sum(r.disagrees for r in doc.rows)} &middot; rows shown: <span class="note-shown">{len(doc.rows)}</span></p>'
        '<div class="side-by-side">'
        f'<div class="pane"><h4>{escape(result.a_name)}</h4><pre class="text">{a_pane}</pre></div>'
        f'<div class="pane"><h4>{escape(result.b_name)}</h4><pre class="text">{b_pane}</pre></div></div>'
        f"<details><summary>Mentions, pair by pair ({len(doc.rows)})</summary>"
        f'<table class="rows"><thead><tr><th>words</th><th>{escape(result.a_name)}</th><th>{escape(result.b_name)}</th>'
        f"<th>comparison</th></tr></thead><tbody>{''.join(rows)}</tbody></table></details></article>"
    )


def _row(
    result: ComparisonResult, row: AlignedMention, keys_a: dict[int, str], keys_b: dict[int, str], css: dict[str, str]
) -> str:
    key_a = keys_a[id(row.a)] if row.a is not None else ""
    key_b = keys_b[id(row.b)] if row.b is not None else ""
    classes = " ".join(dict.fromkeys(m.cls.label for m in (row.a, row.b) if m is not None))
    words = " / ".join(dict.fromkeys(m.text for m in (row.a, row.b) if m is not None))
    notes = [_status_words(row.status, result)]
    if row.polarity_differs:
        notes.append("polarity differs")
    if row.cui_differs:
        notes.append("CUIs differ")
    return (
        f'<tr class="row{" dis" if row.disagrees else ""}" data-a="{key_a}" data-b="{key_b}" '
        f'data-acss="{css.get(key_a, "")}" data-bcss="{css.get(key_b, "")}" data-classes="{classes}" '
        f'data-status="{row.status.value}" data-dis="{int(row.disagrees)}" data-pol="{int(row.polarity_differs)}" '
        f'data-cui="{int(bool(row.cui_differs))}">'
        f'<td class="text">{escape(words)}</td><td class="left">{_cell(row.a)}</td><td class="left">{_cell(row.b)}</td>'
        f'<td class="left status">{escape(", ".join(notes))}</td></tr>'
    )


def _pane(
    text: str, mentions: Sequence[Mention], keys: dict[int, str], css: dict[str, str], tips: dict[str, str]
) -> str:
    """The note text with every mention highlighted; overlapping mentions split the text into segments."""
    bounds = sorted({0, len(text), *(m.begin for m in mentions), *(m.end for m in mentions)})
    out = []
    for begin, end in pairwise(bounds):
        covering = sorted(
            (m for m in mentions if m.begin <= begin and m.end >= end), key=lambda m: (m.end - m.begin, m.begin)
        )
        chunk = escape(text[begin:end])
        if not covering:
            out.append(chunk)
            continue
        ids = " ".join(keys[id(m)] for m in covering)
        tip = escape("\n".join(tips[keys[id(m)]] for m in covering))
        out.append(f'<span class="m {css[keys[id(covering[0])]]}" data-ms="{ids}" title="{tip}">{chunk}</span>')
    return "".join(out)


def _mention_css(mention: Mention, row: AlignedMention) -> str:
    names = [_CSS_CLASS[mention.cls], f"st-{row.status.value.replace('_', '-')}"]
    if row.disagrees:
        names.append("dis")
    if is_negated(mention):
        names.append("neg")
    return " ".join(names)


def _describe(mention: Mention) -> str:
    parts = [_CLASS_NAMES[mention.cls]]
    if is_negated(mention):
        parts.append("negated")
    for key in ("uncertainty", "conditional", "generic", "historyOf"):
        if mention.attributes.get(key) in ("1", "true"):
            parts.append({"historyOf": "history of"}.get(key, key))
    if (subject := mention.attributes.get("subject")) and subject != "patient":
        parts.append(f"subject: {subject}")
    parts.extend(_concepts(mention.concepts))
    return ", ".join(parts)


def _concepts(concepts: Iterable[Concept]) -> list[str]:
    out = []
    for concept in concepts:
        code = concept.cui or concept.code or ""
        if code:
            out.append(f"{code} {concept.preferred_text}" if concept.preferred_text else code)
    return list(dict.fromkeys(out))


def _cell(mention: Mention | None) -> str:
    if mention is None:
        return '<span class="muted">-</span>'
    return f'<span class="swatch {_CSS_CLASS[mention.cls]}"></span>{escape(_describe(mention))}'


def _class_cell(cls: MentionClass) -> str:
    return f'<span class="swatch {_CSS_CLASS[cls]}"></span>{escape(_CLASS_NAMES[cls])}'


def _status_words(status: Status, result: ComparisonResult) -> str:
    return _STATUS_WORDS[status].format(a=result.a_name, b=result.b_name)


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None
