"""The output-format table: file names, atomic writes, standard-output bytes for every format."""

from __future__ import annotations

import json
from pathlib import Path

import cassis
import pytest
from ctakesclient.typesystem import CtakesJSON

from ctakes_llm.cas.mentions import read_mentions, write_mentions
from ctakes_llm.cas.writers import OUTPUT_FORMATS, OutputFormat
from ctakes_llm.ner.mention import Concept, Grounding, Mention, MentionClass

TEXT = "😀 No chest pain.\nAspirin daily."


@pytest.fixture
def cas(ts: cassis.TypeSystem) -> cassis.Cas:
    cas = cassis.Cas(typesystem=ts)
    cas.sofa_string = TEXT
    pain, aspirin = TEXT.index("chest pain"), TEXT.index("Aspirin")
    write_mentions(
        cas,
        [
            Mention(
                MentionClass.SIGN_SYMPTOM,
                pain,
                pain + 10,
                "chest pain",
                attributes={"polarity": "-1"},
                concepts=(Concept("C0008031", "T184", "29857009", "SNOMEDCT_US", "Chest Pain"),),
            ),
            Mention(MentionClass.MEDICATION, aspirin, aspirin + 7, "Aspirin", score=0.9),
        ],
        discovery_technique=3,
    )
    return cas


def test_output_formats_table_names_and_suffixes() -> None:
    assert {name: fmt.suffixes for name, fmt in OUTPUT_FORMATS.items()} == {
        "xmi": (".xmi",),
        "ctakes-json": (".json",),
        "brat": (".txt", ".ann"),
        "jsonl": (".jsonl",),
    }
    assert [name for name, fmt in OUTPUT_FORMATS.items() if fmt.single_file] == ["jsonl"]
    assert all(fmt.description for fmt in OUTPUT_FORMATS.values())


def test_paths_append_suffix_to_stem() -> None:
    assert OUTPUT_FORMATS["brat"].paths(Path("out/sub/note.txt")) == (
        Path("out/sub/note.txt.txt"),
        Path("out/sub/note.txt.ann"),
    )
    assert OUTPUT_FORMATS["xmi"].paths(Path("out/note.txt")) == (Path("out/note.txt.xmi"),)


@pytest.mark.parametrize("name", list(OUTPUT_FORMATS))
def test_write_creates_every_file_and_main_matches_to_bytes(cas: cassis.Cas, tmp_path: Path, name: str) -> None:
    fmt = OUTPUT_FORMATS[name]
    written = fmt.write(cas, tmp_path / "out" / "note.txt")
    assert written == fmt.paths(tmp_path / "out" / "note.txt")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in written)  # no temp files
    assert written[fmt.main].read_bytes() == fmt.to_bytes(cas, "note.txt")


def test_xmi_output_reads_back_with_mentions_and_concepts(
    cas: cassis.Cas, tmp_path: Path, ts: cassis.TypeSystem
) -> None:
    [path] = OUTPUT_FORMATS["xmi"].write(cas, tmp_path / "note.txt")
    with path.open("rb") as handle:
        back = cassis.load_cas_from_xmi(handle, typesystem=ts)
    assert back.sofa_string == TEXT
    assert read_mentions(back) == read_mentions(cas)
    assert read_mentions(back)[0].concepts[0].cui == "C0008031"
    assert all(m.grounding is Grounding.MODEL_OFFSETS for m in read_mentions(back))


def test_ctakes_json_output_parses_with_ctakesclient(cas: cassis.Cas, tmp_path: Path) -> None:
    [path] = OUTPUT_FORMATS["ctakes-json"].write(cas, tmp_path / "note.txt")
    parsed = CtakesJSON(json.loads(path.read_text(encoding="utf-8")))
    assert [m.text for m in parsed.list_sign_symptom()] == ["chest pain"]
    assert parsed.list_concept_cui() == ["C0008031"]


def test_brat_output_text_and_ann(cas: cassis.Cas, tmp_path: Path) -> None:
    txt, ann = OUTPUT_FORMATS["brat"].write(cas, tmp_path / "note")
    assert txt.read_text(encoding="utf-8") == TEXT
    assert ann.read_text(encoding="utf-8").splitlines()[:2] == ["T1\tSignSymptom 5 15\tchest pain", "A1\tNegation T1"]


def test_jsonl_to_bytes_is_one_line_with_document_id(cas: cassis.Cas) -> None:
    line = OUTPUT_FORMATS["jsonl"].to_bytes(cas, "sub/note.txt").decode("utf-8")
    assert line.endswith("\n") and len(line.splitlines()) == 1
    record = json.loads(line)
    assert record["id"] == "sub/note.txt"
    assert [(m["class"], m["polarity"]) for m in record["mentions"]] == [("SignSymptom", -1), ("Medication", 0)]


def test_write_renders_before_writing_so_failure_leaves_no_file(cas: cassis.Cas, tmp_path: Path) -> None:
    def render(cas: cassis.Cas, document_id: str) -> tuple[bytes, ...]:
        raise RuntimeError("render failed")

    fmt = OutputFormat("broken", (".a", ".b"), "fails", render)
    with pytest.raises(RuntimeError):
        fmt.write(cas, tmp_path / "note")
    assert list(tmp_path.iterdir()) == []


def test_for_run_xmi_keeps_plans_and_writes_the_same_bytes(cas: cassis.Cas, ts: cassis.TypeSystem) -> None:
    plain = OUTPUT_FORMATS["xmi"]
    run_format = plain.for_run()
    assert run_format is not plain and run_format.suffixes == plain.suffixes
    other = cassis.Cas(typesystem=ts)
    other.sofa_string = "Metformin for diabetes."
    write_mentions(other, [Mention(MentionClass.MEDICATION, 0, 9, "Metformin")], discovery_technique=3)
    for document in (cas, other, cas):  # later documents reuse the plans the first one made
        assert run_format.to_bytes(document, "note") == plain.to_bytes(document, "note")


@pytest.mark.parametrize("name", ["ctakes-json", "brat", "jsonl"])
def test_for_run_other_formats_are_unchanged(name: str) -> None:
    assert OUTPUT_FORMATS[name].for_run() is OUTPUT_FORMATS[name]
