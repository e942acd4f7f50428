"""XMI reading and writing: lossless round trips of real cTAKES output, custom types, errors, UTF-16, atomicity."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cassis import Cas, TypeSystem
from lxml import etree

from ctakes_llm.cas.ctakes_types import (
    DOCUMENT_ANNOTATION,
    F_ONTOLOGY_CONCEPT_ARR,
    IDENTIFIED_ANNOTATION,
    SIGN_SYMPTOM_MENTION,
    UMLS_CONCEPT,
)
from ctakes_llm.cas.mentions import write_mentions
from ctakes_llm.cas.readers import cas_from_text
from ctakes_llm.cas.typesystem import export_typesystem, load_typesystem
from ctakes_llm.cas.xmi import read_xmi, write_xmi, xmi_bytes
from ctakes_llm.errors import InputError, OutputError
from ctakes_llm.ner.mention import Concept, Grounding, Mention, MentionClass

SHARED = Path(__file__).resolve().parents[3] / "shared" / "ctakes"
XMI_NS = "http://www.omg.org/XMI"
CAS_NS = "http:///uima/cas.ecore"
INVALID = "test_no_preferred_text.xmi"


def _real_xmis() -> list[Path]:
    """Every real XMI of the shared samples (XCAS ``.txt.xml`` files and the hand-edited invalid one excluded)."""
    samples = [p for p in sorted((SHARED / "xmi-samples").rglob("*")) if p.is_file() and p.name != INVALID]
    samples = [p for p in samples if not p.name.endswith(".txt.xml")]
    return samples + sorted((SHARED / "ctakes-run-output" / "xmi").glob("*.xmi"))


REAL_XMIS = _real_xmis()


# ---------------------------------------------------------------------------------------------------------------
# An XMI comparison that does not trust cassis's reader: raw XML, references resolved to the content they point
# at, xmi ids ignored. Which attributes are references comes from the type system's feature ranges.


def _type_name(tag: str) -> str:
    qname = etree.QName(tag)
    package = (qname.namespace or "").removeprefix("http:///").removesuffix(".ecore").replace("/", ".")
    return qname.localname if package in ("", "uima.noNamespace") else f"{package}.{qname.localname}"


def _is_reference(ts: TypeSystem, type_name: str, feature: str) -> bool:
    if type_name == "uima.cas.FSArray" and feature == "elements":
        return True
    found = ts.get_type(type_name).get_feature(feature) or ts.get_type(type_name).get_feature(f"{feature}_")
    assert found is not None, f"{type_name}.{feature} not in the type system"
    rng = found.rangeType
    return not (ts.is_primitive(rng) or ts.is_primitive_array(rng) or ts.is_primitive_list(rng))


def xmi_content(data: bytes, ts: TypeSystem) -> Counter[Any]:
    """The XMI as a multiset: every feature structure with its features, references replaced by the referenced
    structure's content (recursively), plus the members of each view and the sofas. xmi ids do not matter."""
    root = etree.fromstring(data)
    elements: dict[str, etree._Element] = {}
    sofas: dict[str, str] = {}
    views: list[tuple[str, list[str]]] = []
    for elem in root:
        if elem.tag == f"{{{CAS_NS}}}Sofa":
            sofas[elem.get(f"{{{XMI_NS}}}id")] = elem.get("sofaID")
        elif elem.tag == f"{{{CAS_NS}}}View":
            views.append((elem.get("sofa"), elem.get("members", "").split()))
        elif elem.tag != f"{{{CAS_NS}}}NULL":
            elements[elem.get(f"{{{XMI_NS}}}id")] = elem
    memo: dict[str, Any] = {}

    def content(xmi_id: str, stack: tuple[str, ...] = ()) -> Any:
        if xmi_id in memo:
            return memo[xmi_id]
        elem = elements[xmi_id]
        type_name = _type_name(elem.tag)
        if xmi_id in stack:
            return ("<cycle>", type_name)
        features = []
        for name, value in elem.attrib.items():
            if name == f"{{{XMI_NS}}}id":
                continue
            if name == "sofa":
                features.append((name, sofas[value]))
            elif _is_reference(ts, type_name, name):
                features.append((name, tuple(content(v, (*stack, xmi_id)) for v in value.split())))
            else:
                features.append((name, value))
        features.extend((child.tag, child.text or "") for child in elem)
        memo[xmi_id] = result = (type_name, tuple(sorted(features, key=repr)))
        return result

    multiset: Counter[Any] = Counter(content(i) for i in elements)
    for sofa_id, members in views:
        multiset.update(("member of", sofas[sofa_id], content(m)) for m in members)
    multiset.update(("sofa", elem.get("sofaID"), elem.get("sofaString")) for elem in root.iter(f"{{{CAS_NS}}}Sofa"))
    return multiset


def _round_trip(path: Path, ts_name: str, tmp_path: Path) -> tuple[Cas, bytes]:
    cas = read_xmi(path, ts_name)
    out = write_xmi(cas, tmp_path / "out.xmi")
    return cas, out.read_bytes()


@pytest.fixture(autouse=True)
def _deep_recursion() -> Any:
    # FSList chains of the default clinical pipeline are resolved recursively above
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    yield
    sys.setrecursionlimit(limit)


def test_real_xmis_are_present() -> None:
    assert len(REAL_XMIS) == 26, [p.name for p in REAL_XMIS]


@pytest.mark.parametrize("path", REAL_XMIS, ids=lambda p: p.name)
def test_read_write_xmi_round_trip_is_lossless(path: Path, tmp_path: Path) -> None:
    cas, written = _round_trip(path, "4.0.0", tmp_path)
    original = xmi_content(path.read_bytes(), cas.typesystem)
    assert sum(original.values()) > 30
    assert xmi_content(written, cas.typesystem) == original
    # and what we wrote reads back with cassis into the same content again
    again = read_xmi(tmp_path / "out.xmi", "4.0.0")
    assert xmi_content(xmi_bytes(again), again.typesystem) == original


@pytest.mark.parametrize("ts_name", ["6.0.0", "main"])
def test_read_write_xmi_round_trip_default_pipeline_with_newer_typesystems(ts_name: str, tmp_path: Path) -> None:
    path = SHARED / "xmi-samples" / "JuliaHealth-CTakesParser.jl" / "mts_sample_note_97_1152.txt.xmi"
    cas, written = _round_trip(path, ts_name, tmp_path)
    assert xmi_content(written, cas.typesystem) == xmi_content(path.read_bytes(), cas.typesystem)


def test_read_write_xmi_round_trip_with_the_producing_typesystem_file(tmp_path: Path) -> None:
    """The 4.0.1-SNAPSHOT descriptor that produced ctakes-run-output, selected by path (it declares
    DocumentAnnotation itself)."""
    ts = load_typesystem(SHARED / "ctakes-run-output" / "TypeSystem.xml")
    path = SHARED / "ctakes-run-output" / "xmi" / "examples__small__claudication.xmi"
    cas = read_xmi(path, ts)
    assert cas.typesystem is ts  # nothing in the XMI is missing from it
    written = write_xmi(cas, tmp_path / "out.xmi").read_bytes()
    assert xmi_content(written, ts) == xmi_content(path.read_bytes(), ts)


def test_read_xmi_keeps_cTAKES_structures_reachable_only_by_reference() -> None:
    cas = read_xmi(SHARED / "xmi-samples" / "JuliaHealth-CTakesParser.jl" / "mts_sample_note_97_1152.txt.xmi")
    mentions = cas.select(IDENTIFIED_ANNOTATION)
    concepts = [c for m in mentions if m.get(F_ONTOLOGY_CONCEPT_ARR) for c in m.get(F_ONTOLOGY_CONCEPT_ARR).elements]
    assert len(concepts) == 157  # the README's count: UmlsConcepts are not indexed, only referenced
    assert cas.select(UMLS_CONCEPT) == []


def test_real_xmi_keeps_everything_plus_our_mentions(tmp_path: Path) -> None:
    path = SHARED / "ctakes-run-output" / "xmi" / "examples__small__pain_no_swelling.txt.xmi"
    cas = read_xmi(path)
    begin = cas.sofa_string.index("swelling")
    mention = Mention(MentionClass.SIGN_SYMPTOM, begin, begin + 8, "swelling", 0.9, {"polarity": "-1"},
                      Grounding.EXACT, (Concept("C0038999", "T184", coding_scheme="custom"),))  # fmt: skip
    write_mentions(cas, [mention], discovery_technique=3)
    written = write_xmi(cas, tmp_path / "out.xmi").read_bytes()
    before, after = xmi_content(path.read_bytes(), cas.typesystem), xmi_content(written, cas.typesystem)
    assert before - after == Counter()
    added = after - before
    structures = Counter(item[0] for item in added.elements() if item[0] != "member of")
    assert structures == Counter({SIGN_SYMPTOM_MENTION: 1, UMLS_CONCEPT: 1})  # the concept array is written inline
    indexed = [item[2][0] for item in added.elements() if item[0] == "member of"]
    assert indexed == [SIGN_SYMPTOM_MENTION]  # concepts are reachable from the mention only, as cTAKES does


# ---------------------------------------------------------------------------------------------------------------
# Types and features the chosen type system lacks.

CUSTOM_XMI = """<?xml version="1.0" encoding="UTF-8"?>
<xmi:XMI xmlns:xmi="http://www.omg.org/XMI" xmlns:cas="http:///uima/cas.ecore"
    xmlns:tcas="http:///uima/tcas.ecore" xmlns:textspan="http:///org/apache/ctakes/typesystem/type/textspan.ecore"
    xmlns:structured="http:///org/apache/ctakes/typesystem/type/structured.ecore"
    xmlns:refsem="http:///org/apache/ctakes/typesystem/type/refsem.ecore"
    xmlns:ex="http:///com/example/nlp.ecore" xmlns:noNamespace="http:///uima/noNamespace.ecore" xmi:version="2.0">
  <cas:NULL xmi:id="0"/>
  <tcas:DocumentAnnotation xmi:id="2" sofa="1" begin="0" end="25" language="en"/>
  <textspan:Segment xmi:id="3" sofa="1" begin="0" end="25" id="HPI" tagText="History:"/>
  <structured:Patient xmi:id="4" patientIdentifier="MRN-007"/>
  <refsem:UmlsConcept xmi:id="5" cui="C0008031" tui="T184" codingScheme="SNOMEDCT_US"/>
  <refsem:UmlsConcept xmi:id="6" cui="C0013404" tui="T184"/>
  <ex:Finding xmi:id="7" sofa="1" begin="9" end="19" label="chest pain" count="42" padded="007" big="12345678901"
      score="0.50" flag="true" concept="5" concepts="5 6" meta="8" self="x">
    <tags>a b</tags>
    <tags>c</tags>
  </ex:Finding>
  <ex:Meta xmi:id="8" source="note &amp; more"/>
  <noNamespace:Plain xmi:id="9" sofa="1" value="v"/>
  <cas:Sofa xmi:id="1" sofaNum="1" sofaID="_InitialView" mimeType="text" sofaString="History: chest pain today"/>
  <cas:View sofa="1" members="2 3 4 7 9"/>
</xmi:XMI>
"""


@pytest.fixture
def custom_xmi(tmp_path: Path) -> Path:
    path = tmp_path / "custom.xmi"
    path.write_text(CUSTOM_XMI, encoding="utf-8")
    return path


def test_read_xmi_keeps_custom_types_and_newer_cTAKES_features(custom_xmi: Path, tmp_path: Path) -> None:
    cas, written = _round_trip(custom_xmi, "4.0.0", tmp_path)
    ts = cas.typesystem
    assert xmi_content(written, ts) == xmi_content(custom_xmi.read_bytes(), ts)
    # cTAKES definitions where a release has them, inferred ones otherwise
    assert ts.get_type("org.apache.ctakes.typesystem.type.textspan.Segment").get_feature("tagText") is not None
    patient = ts.get_type("org.apache.ctakes.typesystem.type.structured.Patient")  # main only
    assert patient.get_feature("patientIdentifier").rangeType.name == "uima.cas.String"
    assert patient.description is not None and "inferred" not in patient.description
    finding = cas.select("com.example.nlp.Finding")[0]
    assert finding.get_covered_text() == "chest pain"
    ranges = {f.name: f.rangeType.name for f in ts.get_type("com.example.nlp.Finding").features}
    assert ranges == {
        "label": "uima.cas.String", "count": "uima.cas.Integer", "padded": "uima.cas.String",
        "big": "uima.cas.Long", "score": "uima.cas.String", "flag": "uima.cas.Boolean", "concept": "uima.cas.TOP",
        "concepts": "uima.cas.FSArray", "meta": "uima.cas.TOP", "self_": "uima.cas.String",
        "tags": "uima.cas.StringArray",
    }  # fmt: skip
    assert finding.get("count") == 42 and finding.get("flag") is True
    assert finding.get("concept").get("cui") == "C0008031"
    assert [c.get("cui") for c in finding.get("concepts").elements] == ["C0008031", "C0013404"]
    assert finding.get("meta").get("source") == "note & more"
    assert finding.get("tags").elements == ["a b", "c"]
    assert ts.get_type("com.example.nlp.Meta").supertype.name == "uima.cas.TOP"
    assert ts.get_type("Plain").supertype.name == "uima.cas.AnnotationBase"
    # the cached type system is untouched
    assert not load_typesystem("4.0.0").contains_type("com.example.nlp.Finding")


def test_read_xmi_with_the_same_extras_reuses_one_extended_typesystem(custom_xmi: Path) -> None:
    assert read_xmi(custom_xmi).typesystem is read_xmi(custom_xmi).typesystem


def test_read_xmi_hand_edited_feature_is_a_clear_error() -> None:
    path = SHARED / "xmi-samples" / "JuliaHealth-CTakesParser.jl" / INVALID
    with pytest.raises(InputError) as info:
        read_xmi(path)
    message = str(info.value)
    assert message.startswith("[E109]") and str(path) in message and "'pText'" in message and "\n" not in message


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (CUSTOM_XMI[: len(CUSTOM_XMI) // 2], "E106"),  # truncated
        ("", "E106"),
        ("not xml at all", "E106"),
        ("<?xml version='1.0'?><ClinicalDocument xmlns='urn:hl7-org:v3'/>", "E108"),
    ],
)
def test_read_xmi_corrupt_input_names_the_file(content: str, code: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.xmi"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=rf"^\[{code}\] .*broken\.xmi") as info:
        read_xmi(path)
    assert "\n" not in str(info.value)


def test_read_xmi_xcas_is_refused_with_the_way_out() -> None:
    path = SHARED / "xmi-samples" / "apache-ctakes-regression-test" / "text1.txt.xml"
    with pytest.raises(InputError, match=r"^\[E107\] .*text1\.txt\.xml.*XCAS"):
        read_xmi(path)


def test_read_xmi_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^\[E105\] .*absent\.xmi"):
        read_xmi(tmp_path / "absent.xmi")


def test_read_xmi_wrong_typesystem_is_an_input_error(tmp_path: Path) -> None:
    # a descriptor where UmlsConcept.cui is an Integer cannot hold cTAKES's "C0027497"
    descriptor = export_typesystem("4.0.0", tmp_path / "ts.xml").read_text(encoding="utf-8")
    start = descriptor.index("<name>cui</name>")
    end = descriptor.index("</rangeTypeName>", start)
    descriptor = (
        descriptor[:start] + descriptor[start:end].replace("uima.cas.String", "uima.cas.Integer") + (descriptor[end:])
    )
    (tmp_path / "wrong.xml").write_text(descriptor, encoding="utf-8")
    path = SHARED / "ctakes-run-output" / "xmi" / "examples__small__pain_no_swelling.txt.xmi"
    with pytest.raises(InputError, match=r"^\[E110\] .*pain_no_swelling.*wrong\.xml") as info:
        read_xmi(path, tmp_path / "wrong.xml")
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------------------------------
# Writing.


def _utf16(text: str, index: int) -> int:
    return len(text[:index].encode("utf-16-le")) // 2


@pytest.mark.parametrize(
    "text",
    [
        "Pt 😀 reports chest pain 🫀 and 胸痛 today.",
        "𝔸𝔹ℂ severe headache\r\n患者は頭痛を訴えた。 no fever 👨‍👩‍👧",  # noqa: RUF001
    ],
)
def test_write_xmi_offsets_are_utf16_code_units(text: str, tmp_path: Path) -> None:
    cas = cas_from_text(text, "4.0.0", document_id="emoji.txt")
    words = ["chest pain", "胸痛"] if "chest" in text else ["headache", "頭痛", "fever"]
    mentions = [Mention(MentionClass.SIGN_SYMPTOM, text.index(w), text.index(w) + len(w), w) for w in words]
    write_mentions(cas, mentions, discovery_technique=3)
    path = write_xmi(cas, tmp_path / "emoji.xmi")
    root = etree.parse(str(path)).getroot()
    written = {(int(e.get("begin")), int(e.get("end"))) for e in root if etree.QName(e).localname.endswith("Mention")}
    assert written == {(_utf16(text, m.begin), _utf16(text, m.end)) for m in mentions}
    assert written != {(m.begin, m.end) for m in mentions}  # the text has characters above U+FFFF before them
    document = next(e for e in root if etree.QName(e).localname == "DocumentAnnotation")
    assert int(document.get("end")) == len(text.encode("utf-16-le")) // 2
    back = read_xmi(path)
    assert sorted(m.get_covered_text() for m in back.select(SIGN_SYMPTOM_MENTION)) == sorted(words)


def test_write_xmi_adds_a_document_annotation(tmp_path: Path) -> None:
    cas = Cas(typesystem=load_typesystem("4.0.0"))
    cas.sofa_string = "No acute distress."
    path = write_xmi(cas, tmp_path / "doc.xmi")
    document = read_xmi(path).select(DOCUMENT_ANNOTATION)
    assert [(d.begin, d.end, d.get("language")) for d in document] == [(0, 18, "x-unspecified")]
    write_xmi(cas, tmp_path / "again.xmi")
    assert len(read_xmi(tmp_path / "again.xmi").select(DOCUMENT_ANNOTATION)) == 1


def test_write_xmi_refuses_to_overwrite_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "in.xmi"
    target.write_text("keep me", encoding="utf-8")
    with pytest.raises(OutputError, match=r"^\[E111\] .*in\.xmi"):
        write_xmi(cas_from_text("Cough.", "4.0.0"), target, overwrite=False)
    assert target.read_text(encoding="utf-8") == "keep me"
    write_xmi(cas_from_text("Cough.", "4.0.0"), target)
    assert read_xmi(target).sofa_string == "Cough."


def test_write_xmi_serialization_failure_leaves_no_file(tmp_path: Path) -> None:
    cas = cas_from_text("Cough.", "4.0.0")
    mention = cas.typesystem.get_type(SIGN_SYMPTOM_MENTION)(begin=0, end=5)
    mention.set(F_ONTOLOGY_CONCEPT_ARR, "not an FSArray")  # cassis accepts it, the serializer cannot write it
    cas.add(mention)
    with pytest.raises(OutputError, match=r"^\[E112\] .*bad\.xmi"):
        write_xmi(cas, tmp_path / "out" / "bad.xmi")
    out = tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == []


def test_write_xmi_failure_while_writing_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.xmi"
    write_xmi(cas_from_text("Old note.", "4.0.0"), target)
    old = target.read_bytes()

    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="No space"):
        write_xmi(cas_from_text("New note.", "4.0.0"), target)
    monkeypatch.undo()
    assert target.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["out.xmi"]


def test_xmi_content_notices_a_changed_feature_deep_inside_a_reference() -> None:
    path = SHARED / "ctakes-run-output" / "xmi" / "examples__small__pain_no_swelling.txt.xmi"
    data = path.read_bytes()
    ts = read_xmi(path).typesystem
    cui = data.index(b'cui="') + 5
    changed = data[:cui] + b"X" + data[cui + 1 :]  # one letter of one non-indexed UmlsConcept
    assert xmi_content(changed, ts) != xmi_content(data, ts)
    renumbered = data.replace(b'xmi:id="13"', b'xmi:id="99913"').replace(b'members="8 13 ', b'members="8 99913 ')
    assert renumbered.count(b"99913") == 2  # the DocumentID and its view membership
    assert xmi_content(renumbered, ts) == xmi_content(data, ts)


def test_read_xmi_dangling_reference_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "dangling.xmi"
    path.write_text(
        '<?xml version="1.0"?><xmi:XMI xmlns:xmi="http://www.omg.org/XMI" xmlns:cas="http:///uima/cas.ecore" '
        'xmlns:textsem="http:///org/apache/ctakes/typesystem/type/textsem.ecore"><cas:NULL xmi:id="0"/>'
        '<textsem:SignSymptomMention xmi:id="2" sofa="1" begin="0" end="2" ontologyConceptArr="77"/>'
        '<cas:Sofa xmi:id="1" sofaNum="1" sofaID="_InitialView" sofaString="ab"/><cas:View sofa="1" members="2"/>'
        "</xmi:XMI>",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"^\[E110\] .*dangling\.xmi.*xmi:id 77"):
        read_xmi(path)
