"""The HTML report: self-contained and escaped; rendered in headless Chromium, its filters and counts work."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import html as lxml_html

from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.corpora.xmi_gold import read_xmi_corpus
from ctakes_llm.evaluation.compare import CompareConfig, ComparisonResult, Status, compare_documents
from ctakes_llm.evaluation.report_html import render_html_report, write_html_report
from ctakes_llm.ner.mention import Mention, MentionClass

HOSTILE_TEXT = 'Pt said </pre><script>alert(1)</script> & "pain" <b>bold</b>\n'
HOSTILE_ID = "odd<id>&name"


def hostile_pair() -> tuple[GoldDocument, GoldDocument]:
    begin = HOSTILE_TEXT.index("pain")
    pain = Mention(MentionClass.SIGN_SYMPTOM, begin, begin + 4, "pain")
    script = Mention(MentionClass.MEDICATION, 8, 14, HOSTILE_TEXT[8:14])
    return GoldDocument(HOSTILE_ID, HOSTILE_TEXT, (pain, script)), GoldDocument(HOSTILE_ID, HOSTILE_TEXT, (pain,))


@pytest.fixture(scope="module")
def comparison(ctakes_xmi_dir: Path, modified_copy) -> ComparisonResult:
    other, _ = modified_copy
    a, b = hostile_pair()
    return compare_documents(
        [*read_xmi_corpus(ctakes_xmi_dir), a],
        [*read_xmi_corpus(other), b],
        CompareConfig(a_name="cTAKES <4.0.1>", b_name="ctakes-llm"),
        paths=(str(ctakes_xmi_dir), str(other)),
    )


def test_render_html_report_is_self_contained_and_escaped(comparison: ComparisonResult) -> None:
    page = render_html_report(comparison)
    assert page.count("<script") == 1  # our inline script only
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "odd&lt;id&gt;&amp;name" in page and "cTAKES &lt;4.0.1&gt;" in page
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!#)""", page), "the report must not load anything"
    assert "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page


def test_write_html_report_writes_one_file(comparison: ComparisonResult, tmp_path: Path) -> None:
    path = write_html_report(comparison, tmp_path / "out" / "report.html", title="Notes & more")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "<title>Notes &amp; more</title>" in path.read_text(encoding="utf-8")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["report.html"]


def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        if os.environ.get("CTAKES_LLM_REQUIRE_CHROMIUM"):
            pytest.fail("CTAKES_LLM_REQUIRE_CHROMIUM is set but no chromium is installed (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    return found


def dump_dom(browser: str, page: Path, fragment: str, profile: Path) -> lxml_html.HtmlElement:
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--dump-dom",
        page.as_uri() + fragment,
    ]
    done = subprocess.run(command, capture_output=True, timeout=180, check=True)
    return lxml_html.fromstring(done.stdout)


def number(dom: lxml_html.HtmlElement, element_id: str) -> int:
    return int(dom.get_element_by_id(element_id).text_content())


def visible_segments(dom: lxml_html.HtmlElement) -> list[str]:
    return [seg.get("class") for seg in dom.xpath("//span[@data-ms]") if "off" not in seg.get("class").split()]


def test_html_report_filters_run_in_chromium(comparison: ComparisonResult, tmp_path: Path) -> None:
    browser = chromium()
    page = write_html_report(comparison, tmp_path / "report.html")
    total = comparison.totals()
    rows = sum(len(doc.rows) for doc in comparison.documents)

    dom = dump_dom(browser, page, "", tmp_path / "profile1")
    assert dom.xpath("//body/@data-ready") == ["1"]
    assert sorted(dom.xpath("//input[@name='cls']/@value")) == sorted(c.label for c in comparison.per_class)
    assert len(dom.xpath("//input[@name='show']")) == 9 and dom.xpath("//input[@id='hide-empty']")
    assert number(dom, "shown-a") == total.a == 258 and number(dom, "shown-b") == total.b
    assert number(dom, "shown-rows") == rows and number(dom, "shown-notes") == 22
    assert len(visible_segments(dom)) > 300
    assert len(dom.xpath("//script")) == 1
    [odd] = [note for note in dom.xpath("//article") if note.get("data-doc") == HOSTILE_ID]
    assert "<script>alert(1)</script>" in odd.xpath(".//pre")[0].text_content()

    dom = dump_dom(browser, page, "#show=only_a", tmp_path / "profile2")
    assert number(dom, "shown-a") == total.only_a > 0 and number(dom, "shown-b") == 0
    segments = visible_segments(dom)
    assert segments and all("st-only-a" in cls for cls in segments)
    assert dom.xpath("//body/@data-show") == ["only_a"]

    dom = dump_dom(browser, page, "#show=disagree&classes=Procedure&hide=1", tmp_path / "profile3")
    expected_notes = sum(
        any(row.disagrees and MentionClass.PROCEDURE in {m.cls for m in (row.a, row.b) if m} for row in doc.rows)
        for doc in comparison.documents
    )
    assert number(dom, "shown-notes") == expected_notes > 0
    assert len([n for n in dom.xpath("//article") if n.get("hidden") is None]) == expected_notes
    assert dom.xpath("//body/@data-classes") == ["Procedure"] and dom.xpath("//body/@data-show") == ["disagree"]
    expected_b = sum(
        1
        for doc in comparison.documents
        for row in doc.rows
        if row.disagrees and row.b is not None and MentionClass.PROCEDURE in {m.cls for m in (row.a, row.b) if m}
    )
    assert number(dom, "shown-b") == expected_b
    assert Status.ONLY_B.value in {
        row.get("data-status") for row in dom.xpath("//tr[@data-status]") if row.get("hidden") is None
    }
