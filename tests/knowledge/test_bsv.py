"""cTAKES BSV dictionary reading."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ctakes_llm.errors import KnowledgeError
from ctakes_llm.knowledge.bsv import DictionaryEntry, parse_bsv, read_bsv


def _write(tmp_path: Path, text: str, name: str = "dict.bsv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_read_bsv_reads_the_three_ctakes_layouts(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "\ufeff// cTAKES comment\n# another comment\n\n  \n"
        "C0008031|T184|chest pain\r\n"
        "C0020538|T047|HTN|Hypertensive disease\n"
        "C0004057| aspirin \n"
        "   # indented comment\n",
    )
    assert read_bsv(path) == [
        DictionaryEntry("C0008031", "T184", "chest pain"),
        DictionaryEntry("C0020538", "T047", "HTN", "Hypertensive disease"),
        DictionaryEntry("C0004057", None, "aspirin"),
    ]


def test_read_bsv_takes_an_empty_tui_or_preferred_column_as_missing(tmp_path: Path) -> None:
    path = _write(tmp_path, "C1||pain|\n")
    assert read_bsv(path) == [DictionaryEntry("C1", None, "pain", None)]


@pytest.mark.parametrize(
    ("row", "code"),
    [
        ("C0008031 chest pain", "E502"),
        ("C1|T184|pain|Pain|extra", "E503"),
        ("|T184|pain", "E504"),
        ("C1|T184|", "E504"),
    ],
)
def test_read_bsv_names_file_and_line_of_a_malformed_row(tmp_path: Path, row: str, code: str) -> None:
    path = _write(tmp_path, f"# header\nC0008031|T184|chest pain\n{row}\n")
    with pytest.raises(KnowledgeError, match=code) as caught:
        read_bsv(path)
    assert f"{path}:3" in str(caught.value)


def test_read_bsv_can_skip_malformed_rows_like_ctakes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path, "C1|T184|pain\nbroken row\nC2|T047|flu\n")
    with caplog.at_level(logging.WARNING):
        entries = read_bsv(path, strict=False)
    assert [e.cui for e in entries] == ["C1", "C2"]
    assert "E502" in caplog.text and "E507" in caplog.text and f"{path}:2" in caplog.text


def test_read_bsv_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match=r"E500.*missing\.bsv"):
        read_bsv(tmp_path / "missing.bsv")


def test_read_bsv_reports_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.bsv"
    path.write_bytes("C1|T184|douleur thoracique \u00e9\n".encode("latin-1"))
    with pytest.raises(KnowledgeError, match="E501"):
        read_bsv(path)
    assert read_bsv(path, encoding="latin-1")[0].text == "douleur thoracique \u00e9"


def test_read_bsv_rejects_a_dictionary_without_entries(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="E505"):
        read_bsv(_write(tmp_path, "// only comments\n\n"))


def test_parse_bsv_accepts_lines_without_endings() -> None:
    assert list(parse_bsv(["C1|T047|flu", "// c"], source="x.bsv")) == [DictionaryEntry("C1", "T047", "flu")]
