"""End to end: our annotate run on cTAKES's example notes compared with cTAKES's own output of the same notes."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ctakes_llm.cli import cli
from ctakes_llm.evaluation.compare import CompareConfig, Status, compare
from ctakes_llm.evaluation.report_html import write_html_report

TERMS = "C0030193|T184|pain\nC0038999|T184|swelling\nC0008680|T184|claudication\nC0004057|T121|aspirin\n"


def test_compare_ctakes_output_with_our_dictionary_run(ctakes_xmi_dir: Path, shared_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "terms.bsv").write_text(TERMS)
    notes = shared_dir / "ctakes" / "notes" / "small"
    run = CliRunner().invoke(
        cli,
        [
            "annotate",
            str(notes),
            "-o",
            str(tmp_path / "ours"),
            "--no-model",
            "--dictionary",
            str(tmp_path / "terms.bsv"),
        ],
    )
    assert run.exit_code == 0, run.output

    result = compare(
        ctakes_xmi_dir, tmp_path / "ours", CompareConfig(a_name="cTAKES", b_name="ours", ignore_unpaired=True)
    )

    # every note of notes/small pairs with cTAKES's output of it (ids differ, texts are equal)
    assert sorted(doc.b_id for doc in result.documents) == sorted(p.name for p in notes.iterdir() if p.is_file())
    [doc] = [d for d in result.documents if d.doc_id == "examples__small__pain_no_swelling.txt"]
    assert [(row.status, row.a.text) for row in doc.rows if row.a] == [(Status.SAME, "pain"), (Status.SAME, "swelling")]
    assert not any(row.polarity_differs or row.cui_differs for row in doc.rows)  # both negate "No swelling"
    assert [row.b.text for row in doc.rows if row.status is Status.ONLY_B] == ["Aspirin"]
    page = write_html_report(result, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "examples__small__pain_no_swelling.txt" in page
