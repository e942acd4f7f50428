"""Java interop: Apache UIMA's XmiCasDeserializer reads our XMI non-leniently with every cTAKES type system.

``ReadXmi.java`` (beside this file) is compiled with ``javac`` against UIMA's ``uimaj-core.jar`` (Debian:
``apt-get install -y libuima-core-java default-jdk-headless``). It prints, per file, the document length, the
annotation count, the DocumentAnnotation and every IdentifiedAnnotation with typeID, polarity, discoveryTechnique,
CUIs and covered text, all as Java sees them (offsets in UTF-16 code units). We compare with what we wrote.

Outside CI the test skips when Java or the UIMA jar is missing; with ``CTAKES_LLM_REQUIRE_JAVA`` set (CI) it fails.
``CTAKES_LLM_UIMA_CORE_JAR`` points at another ``uimaj-core`` jar.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cassis import Cas

from ctakes_llm.cas.ctakes_types import (
    DOCUMENT_ANNOTATION,
    F_DISCOVERY_TECHNIQUE,
    F_ONTOLOGY_CONCEPT_ARR,
    F_POLARITY,
    F_TYPE_ID,
    IDENTIFIED_ANNOTATION,
)
from ctakes_llm.cas.mentions import write_mentions
from ctakes_llm.cas.readers import cas_from_text
from ctakes_llm.cas.typesystem import export_typesystem
from ctakes_llm.cas.xmi import read_xmi, write_xmi
from ctakes_llm.ner.mention import Concept, Mention, MentionClass

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "ctakes"
DEFAULT_UIMA_JAR = Path("/usr/share/java/uimaj-core.jar")
INVALID = SHARED / "xmi-samples" / "JuliaHealth-CTakesParser.jl" / "test_no_preferred_text.xmi"

SNOMED = "SNOMEDCT_US"
CHEST_PAIN = Concept("C0008031", "T184", "29857009", SNOMED)
HEADACHE = (Concept("C0018681", "T184"), Concept("C0018681", "T184", "25064002", SNOMED))
ASPIRIN = Concept("C0004057", "T121", "1191", "RXNORM")
EMOJI_NOTE = (
    "Pt 😀 denies chest pain; reports 胸痛 and headache 🤕. Hx of diabetes. Takes aspirin 81 mg. "
    "s/p appendectomy, left knee \U0001d54f-ray ok."  # MATHEMATICAL DOUBLE-STRUCK X, above U+FFFF
)
CRLF_NOTE = "Hx of DM2 👩‍⚕️\r\nDenies fever.\r\n\U0001d538 rash on 手.\r\n"
NOTES: dict[str, tuple[str, list[tuple[str, MentionClass, dict[str, str], tuple[Concept, ...]]]]] = {
    "emoji.txt": (
        EMOJI_NOTE,
        [
            ("chest pain", MentionClass.SIGN_SYMPTOM, {"polarity": "-1"}, (CHEST_PAIN,)),
            ("胸痛", MentionClass.SIGN_SYMPTOM, {"polarity": "1"}, (Concept("C0008031", "T184"),)),
            ("headache", MentionClass.SIGN_SYMPTOM, {}, HEADACHE),
            ("diabetes", MentionClass.DISEASE_DISORDER, {"historyOf": "1"}, (Concept("C0011849", "T047"),)),
            ("aspirin", MentionClass.MEDICATION, {}, (ASPIRIN,)),
            ("appendectomy", MentionClass.PROCEDURE, {}, (Concept("C0003611", "T061"),)),
            ("left knee", MentionClass.ANATOMICAL_SITE, {}, ()),
        ],
    ),
    "crlf.txt": (
        CRLF_NOTE,
        [
            ("DM2", MentionClass.DISEASE_DISORDER, {}, (Concept("C0011860", "T047"),)),
            ("fever", MentionClass.SIGN_SYMPTOM, {"polarity": "-1"}, ()),
            ("rash", MentionClass.SIGN_SYMPTOM, {}, (Concept("C0015230", "T184"),)),
            ("手", MentionClass.ANATOMICAL_SITE, {}, ()),
        ],
    ),
}
REAL = {
    "mts_sample.xmi": SHARED / "xmi-samples" / "JuliaHealth-CTakesParser.jl" / "mts_sample_note_97_1152.txt.xmi",
    "pain_no_swelling.xmi": SHARED / "ctakes-run-output" / "xmi" / "examples__small__pain_no_swelling.txt.xmi",
}


@dataclass(frozen=True)
class JavaTools:
    java: str
    classpath: str


def _require_java() -> bool:
    return os.environ.get("CTAKES_LLM_REQUIRE_JAVA", "") not in ("", "0")


@pytest.fixture(scope="module")
def java_tools(tmp_path_factory: pytest.TempPathFactory) -> JavaTools:
    javac, java = shutil.which("javac"), shutil.which("java")
    jar = Path(os.environ.get("CTAKES_LLM_UIMA_CORE_JAR", DEFAULT_UIMA_JAR))
    missing = [name for name, ok in (("javac", javac), ("java", java), (str(jar), jar.is_file())) if not ok]
    if missing:
        reason = f"Java interop needs {', '.join(missing)} (apt-get install -y libuima-core-java default-jdk-headless)"
        if _require_java():
            pytest.fail(f"CTAKES_LLM_REQUIRE_JAVA is set but {reason}")
        pytest.skip(reason)
    assert javac is not None and java is not None
    classes = tmp_path_factory.mktemp("java-classes")
    subprocess.run(
        [javac, "-encoding", "UTF-8", "-cp", str(jar), "-d", str(classes), str(HERE / "ReadXmi.java")],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return JavaTools(java, f"{jar}{os.pathsep}{classes}")


def _utf16(text: str, index: int) -> int:
    return len(text[:index].encode("utf-16-le")) // 2


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")


def _int(value: object) -> str:
    return str(value if value is not None else 0)


def _cuis(fs: object) -> str:
    array = fs.get(F_ONTOLOGY_CONCEPT_ARR)  # type: ignore[attr-defined]
    if array is None:
        return ""
    names = []
    for concept in array.elements:
        has_cui = concept.type.get_feature("cui") is not None
        names.append(concept.get("cui") if has_cui else f"code:{concept.get('code')}")
    return ",".join(names)


def expected_lines(name: str, cas: Cas) -> list[str]:
    """What ReadXmi prints for a CAS we wrote, computed from the CAS (Python offsets turned into UTF-16)."""
    text = cas.sofa_string
    lines = [
        f"FILE\t{name}",
        f"TEXT_UTF16_LENGTH\t{name}\t{_utf16(text, len(text))}",
        f"ANNOTATIONS\t{name}\t{len(cas.select('uima.tcas.Annotation'))}",
    ]
    lines += [
        f"DOCUMENT\t{name}\t{_utf16(text, d.begin)}\t{_utf16(text, d.end)}" for d in cas.select(DOCUMENT_ANNOTATION)
    ]
    for fs in cas.select(IDENTIFIED_ANNOTATION):
        short = fs.type.name.rsplit(".", 1)[-1]
        fields = ["MENTION", name, short, str(_utf16(text, fs.begin)), str(_utf16(text, fs.end))]
        fields += [_int(fs.get(F_TYPE_ID)), _int(fs.get(F_POLARITY)), _int(fs.get(F_DISCOVERY_TECHNIQUE))]
        fields += [_cuis(fs), _escape(fs.get_covered_text())]
        lines.append("\t".join(fields))
    return lines


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[str]]]:
    """Our XMI output (written with our writer) and the lines Java must print for each file."""
    folder = tmp_path_factory.mktemp("xmi")
    result = {}
    for name, (text, spans) in NOTES.items():
        cas = cas_from_text(text, "4.0.0", document_id=name)
        mentions = [
            Mention(cls, text.index(word), text.index(word) + len(word), word, 0.87, attributes, concepts=concepts)
            for word, cls, attributes, concepts in spans
        ]
        write_mentions(cas, mentions, discovery_technique=3)
        path = write_xmi(cas, folder / f"{name}.xmi")
        result[path.name] = (path, expected_lines(path.name, cas))
    for name, source in REAL.items():
        cas = read_xmi(source, "4.0.0")
        begin = cas.sofa_string.index("pain")
        extra = Mention(MentionClass.SIGN_SYMPTOM, begin, begin + 4, "pain", concepts=(Concept("C0030193", "T184"),))
        write_mentions(cas, [extra], discovery_technique=3)
        path = write_xmi(cas, folder / name)
        result[name] = (path, expected_lines(name, cas))
    return result


def _run(tools: JavaTools, typesystem: Path, files: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tools.java, "-Dfile.encoding=UTF-8", "-cp", tools.classpath, "ReadXmi", str(typesystem), *map(str, files)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )


def test_expected_lines_cover_every_mention(written: dict[str, tuple[Path, list[str]]]) -> None:
    mentions = {name: sum(line.startswith("MENTION") for line in lines) for name, (_, lines) in written.items()}
    assert mentions["emoji.txt.xmi"] == 7 and mentions["crlf.txt.xmi"] == 4
    assert mentions["mts_sample.xmi"] == 99 + 1  # the README's 99 IdentifiedAnnotations plus ours


@pytest.mark.parametrize("ts_name", ["4.0.0", "6.0.0", "main"])
def test_java_uima_reads_our_xmi_non_leniently(
    ts_name: str, java_tools: JavaTools, written: dict[str, tuple[Path, list[str]]], tmp_path: Path
) -> None:
    typesystem = export_typesystem(ts_name, tmp_path / "TypeSystem.xml")
    files = [path for path, _ in written.values()]
    # A negative control: the hand-edited sample must fail, which shows the deserializer is not lenient.
    process = _run(java_tools, typesystem, [*files, INVALID])
    lines = process.stdout.splitlines()
    errors = [line for line in lines if line.startswith("ERROR")]
    assert process.returncode == 1, process.stderr[-2000:]
    assert len(errors) == 1 and errors[0].startswith(f"ERROR\t{INVALID.name}\t") and "pText" in errors[0], errors
    for name, (_, expected) in written.items():
        got = [line for line in lines if line.split("\t")[1:2] == [name]]
        assert sorted(got) == sorted(expected), name
