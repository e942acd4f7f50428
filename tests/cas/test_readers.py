"""Readers: text decoding (BOM, encodings, empty files), CAS from text, text-vs-XMI sniffing, input discovery."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from ctakes_llm.cas.ctakes_types import DOCUMENT_ANNOTATION, DOCUMENT_ID, F_DOCUMENT_ID
from ctakes_llm.cas.document import document_id, ensure_document_id
from ctakes_llm.cas.readers import (
    cas_from_text,
    decode_text,
    is_xmi,
    iter_input_paths,
    read_document,
    read_stream,
    read_text,
)
from ctakes_llm.cas.xmi import read_xmi
from ctakes_llm.errors import InputError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "ctakes"
CP1252_NOTE = SHARED / "notes" / "smoker" / "doc2_07543210_sample_current.txt"


def test_read_text_keeps_crlf_and_strips_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes(b"\xef\xbb\xbfChest pain.\r\nNo fever.\r\n")
    assert read_text(path) == "Chest pain.\r\nNo fever.\r\n"


def test_read_text_utf16_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes("Douleur thoracique 😀".encode("utf-16"))
    assert read_text(path, encoding="utf-16") == "Douleur thoracique 😀"


def test_read_text_non_utf8_suggests_an_encoding() -> None:
    with pytest.raises(InputError) as info:
        read_text(CP1252_NOTE)
    message = str(info.value)
    assert message.startswith("[E121]") and str(CP1252_NOTE) in message and "--encoding cp1252" in message
    assert "0x93" in message and "\n" not in message


def test_read_text_with_the_right_encoding() -> None:
    text = read_text(CP1252_NOTE, encoding="cp1252")
    assert "\u201c" in text  # the cp1252 left double quote 0x93


@pytest.mark.parametrize("content", [b"", b"   \r\n\t\n", b"\xef\xbb\xbf\n"])
def test_read_text_empty_is_an_error(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"^\[E122\] .*empty\.txt is empty"):
        read_text(path)


def test_read_text_errors_for_missing_file_and_unknown_encoding(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^\[E120\] .*gone\.txt"):
        read_text(tmp_path / "gone.txt")
    with pytest.raises(InputError, match=r"^\[E123\] unknown encoding 'klingon'"):
        decode_text(b"x", "klingon", source="note.txt")


def test_read_text_matches_what_cTAKES_read(shared_dir: Path) -> None:
    """The ctakes-run-output sofas are the notes as cTAKES read them: our text must be identical (offsets agree)."""
    compared = 0
    for xmi in sorted((shared_dir / "ctakes" / "ctakes-run-output" / "xmi").glob("examples__*.xmi")):
        relative = xmi.name.removeprefix("examples__").removesuffix(".xmi").replace("__", "/")
        note = shared_dir / "ctakes" / "notes" / relative
        try:
            text = read_text(note)
        except InputError:
            continue  # the three cp1252 smoker notes; cTAKES decoded them with replacement characters
        assert read_xmi(xmi).sofa_string == text, note
        compared += 1
    assert compared == 18


def test_cas_from_text_adds_document_annotation_and_id() -> None:
    text = "Pt 😀 denies chest pain."
    cas = cas_from_text(text, "4.0.0", document_id="notes/a.txt")
    assert cas.sofa_string == text
    assert cas.sofa_mime == "text"
    [document] = cas.select(DOCUMENT_ANNOTATION)
    assert (document.begin, document.end, document.get("language")) == (0, len(text), "x-unspecified")
    assert [d.get(F_DOCUMENT_ID) for d in cas.select(DOCUMENT_ID)] == ["notes/a.txt"]
    assert document_id(cas) == "notes/a.txt"
    ensure_document_id(cas, "other")  # an existing id is never replaced
    assert document_id(cas) == "notes/a.txt"
    assert document_id(cas_from_text(text, "4.0.0")) is None


def test_read_document_text_uses_the_file_name_as_id(tmp_path: Path) -> None:
    path = tmp_path / "visit.txt"
    path.write_text("Knee pain.", encoding="utf-8")
    cas = read_document(path, "6.0.0")
    assert (cas.sofa_string, document_id(cas)) == ("Knee pain.", "visit.txt")
    assert document_id(read_document(path, document_id="custom-1")) == "custom-1"


@pytest.mark.parametrize("suffix", [".xmi", ".xml", ".txt", ""])
def test_read_document_sniffs_xmi_by_content(suffix: str, tmp_path: Path) -> None:
    source = SHARED / "xmi-samples" / "MatthewVita-cTAKES-Concept-Mention-Parser" / "data.xml"
    path = tmp_path / f"note{suffix}"
    shutil.copy(source, path)
    cas = read_document(path)
    assert cas.sofa_string == read_xmi(source).sofa_string
    assert len(cas.select("org.apache.ctakes.typesystem.type.textsem.IdentifiedAnnotation")) == 65


def test_read_document_text_starting_with_angle_bracket_stays_text(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text("<HPI> chest pain </HPI>\n", encoding="utf-8")
    assert read_document(path).sofa_string == "<HPI> chest pain </HPI>\n"


def test_read_document_cda_xml_is_a_clear_error() -> None:
    cda = SHARED / "notes" / "cda" / "testpatient_cn_1.xml"
    with pytest.raises(InputError, match=r"^\[E108\] .*testpatient_cn_1\.xml.*root <levelone>"):
        read_document(cda)


def test_read_stream_text_and_xmi() -> None:
    cas = read_stream(io.BytesIO("Cough 😷.".encode()), "4.0.0", document_id="stdin")
    assert (cas.sofa_string, document_id(cas)) == ("Cough 😷.", "stdin")
    xmi_path = SHARED / "ctakes-run-output" / "xmi" / "examples__small__claudication.xmi"
    from_stream = read_stream(io.BytesIO(xmi_path.read_bytes()))
    assert from_stream.sofa_string == read_xmi(xmi_path).sofa_string
    assert document_id(from_stream) == "examples/small/claudication"  # the XMI's own id, not "stdin"
    with pytest.raises(InputError, match=r"^\[E122\] <stdin>"):
        read_stream(io.BytesIO(b"  "))


def test_is_xmi() -> None:
    assert is_xmi(b"\xef\xbb\xbf  <?xml version='1.0'?><x/>")
    assert is_xmi(b'<xmi:XMI xmlns:xmi="http://www.omg.org/XMI"/>')
    assert is_xmi(b"anything", ".XMI")
    assert not is_xmi(b"<b>bold</b> note")
    assert not is_xmi(b"Plain note.")


def test_iter_input_paths_recursive_sorted_hidden_skipped(tmp_path: Path) -> None:
    (tmp_path / "b" / "deep").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    for name in ["b/deep/z.txt", "b/a.txt", "c.txt", ".hidden.txt", ".git/config", "b/x.xmi"]:
        (tmp_path / name).write_text("x", encoding="utf-8")
    single = tmp_path / "c.txt"
    found = iter_input_paths([tmp_path, single])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["b/a.txt", "b/deep/z.txt", "b/x.xmi", "c.txt"]
    assert iter_input_paths([tmp_path], "**/*.txt", include_hidden=True) == sorted(
        [tmp_path / ".hidden.txt", tmp_path / "b/a.txt", tmp_path / "b/deep/z.txt", single]
    )
    assert iter_input_paths([single, "-"]) == [single, Path("-")]


def test_iter_input_paths_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^\[E124\] input .*missing"):
        iter_input_paths([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"^\[E125\] no input files"):
        iter_input_paths([tmp_path / "empty"], "**/*.txt")


def test_decode_text_auto_falls_back_to_cp1252_for_windows_quotes() -> None:
    from ctakes_llm.cas.readers import decode_text

    assert decode_text("\u201cfever\u201d".encode("cp1252"), "auto", source="note.txt") == "\u201cfever\u201d"
    assert decode_text("caf\u00e9 \U0001f642".encode(), "auto", source="note.txt") == "caf\u00e9 \U0001f642"
