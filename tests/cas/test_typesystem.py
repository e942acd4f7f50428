"""Bundled cTAKES type systems: names and aliases, paths, export, errors, the cross-release catalogue, extending."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest

from ctakes_llm.cas.ctakes_types import F_ONTOLOGY_CONCEPT_ARR, F_POLARITY, F_TYPE_ID, MEDICATION_MENTION, UMLS_CONCEPT
from ctakes_llm.cas.typesystem import (
    FeatureDef,
    TypeDef,
    as_typesystem,
    available_typesystems,
    ctakes_catalogue,
    export_typesystem,
    extend_typesystem,
    load_typesystem,
    resolve_typesystem_name,
    typesystem_descriptor,
)
from ctakes_llm.errors import TypeSystemError

SHARED_FOLDER = {"4.0.0": "4.0.0", "6.0.0": "6.0.0", "main": "main-7.0.0-SNAPSHOT"}
METADATA = "org.apache.ctakes.typesystem.type.structured.Metadata"
PATIENT = "org.apache.ctakes.typesystem.type.structured.Patient"


@pytest.mark.parametrize("name", ["4.0.0", "6.0.0", "main"])
def test_load_typesystem_each_bundled_has_the_mention_types(name: str) -> None:
    ts = load_typesystem(name)
    mention = ts.get_type(MEDICATION_MENTION)
    features = {f.name for f in mention.all_features}
    assert {F_TYPE_ID, F_POLARITY, F_ONTOLOGY_CONCEPT_ARR} <= features
    assert ts.contains_type(UMLS_CONCEPT)
    assert ts.contains_type("uima.tcas.DocumentAnnotation")


@pytest.mark.parametrize(
    ("alias", "name"),
    [("4.x", "4.0.0"), ("5.0.0", "6.0.0"), ("5.1.0", "6.0.0"), ("5.x", "6.0.0"), ("6.x", "6.0.0"),
     ("7.0.0-SNAPSHOT", "main"), ("7.x", "main"), ("main-7.0.0-SNAPSHOT", "main")],
)  # fmt: skip
def test_load_typesystem_aliases_share_the_cached_instance(alias: str, name: str) -> None:
    assert resolve_typesystem_name(alias) == name
    assert load_typesystem(alias) is load_typesystem(name)


def test_load_typesystem_releases_differ_where_cTAKES_changed() -> None:
    assert not load_typesystem("4.0.0").contains_type(PATIENT)
    assert load_typesystem("main").contains_type(PATIENT)
    assert "patientIdentifier" not in {f.name for f in load_typesystem("4.0.0").get_type(METADATA).all_features}
    assert "patientIdentifier" in {f.name for f in load_typesystem("6.0.0").get_type(METADATA).all_features}


@pytest.mark.parametrize("name", ["4.0.0", "6.0.0", "main"])
def test_export_typesystem_is_byte_identical_to_the_official_descriptor(
    name: str, tmp_path: Path, shared_dir: Path
) -> None:
    target = export_typesystem(name, tmp_path / "out" / "TypeSystem.xml")
    official = shared_dir / "ctakes" / "typesystem" / SHARED_FOLDER[name] / "TypeSystem.xml"
    assert target.read_bytes() == official.read_bytes()


def test_load_typesystem_by_path_is_quiet_and_keeps_every_type(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = export_typesystem("4.0.0", tmp_path / "TypeSystem.xml")
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ts = load_typesystem(path)
    assert [str(w.message) for w in caught] == []  # the 19 cassis "already exists" warnings are quieted
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert ts is not load_typesystem("4.0.0")
    assert {t.name for t in ts.get_types()} == {t.name for t in load_typesystem("4.0.0").get_types()}
    assert load_typesystem(str(path)) is ts  # cached by resolved path
    # The quieting is scoped to our load: cassis still warns elsewhere.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("Feature with name [x] already exists in [y]!", stacklevel=1)
    assert len(caught) == 1


def test_load_typesystem_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(TypeSystemError, match=r"\[E100\] unknown type system '3\.2\.2'.*4\.0\.0.*6\.0\.0.*main"):
        load_typesystem("3.2.2")


def test_load_typesystem_missing_path(tmp_path: Path) -> None:
    with pytest.raises(TypeSystemError, match=r"\[E102\].*nope\.xml.*not found"):
        load_typesystem(tmp_path / "nope.xml")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("<typeSystemDescription><types>", "not well-formed XML"),
        ("<?xml version='1.0'?><xmi:XMI xmlns:xmi='http://www.omg.org/XMI'/>", "not a UIMA type system"),
        (
            "<typeSystemDescription xmlns='http://uima.apache.org/resourceSpecifier'><types><typeDescription>"
            "<name>a.B</name><supertypeName>a.Missing</supertypeName></typeDescription></types>"
            "</typeSystemDescription>",
            "invalid",
        ),
    ],
)
def test_load_typesystem_malformed_descriptor(content: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "Bad.xml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TypeSystemError, match=rf"\[E103\].*Bad\.xml.*{problem}"):
        load_typesystem(path)


def test_available_typesystems_lists_names_with_aliases() -> None:
    rows = dict(available_typesystems())
    assert list(rows) == ["4.0.0", "6.0.0", "main"]
    assert "5.x" in rows["6.0.0"] and "7.0.0-SNAPSHOT" in rows["main"]
    with pytest.raises(TypeSystemError, match="E100"):
        typesystem_descriptor("9.9")


def test_as_typesystem_passes_loaded_ones_through() -> None:
    ts = load_typesystem("6.0.0")
    assert as_typesystem(ts) is ts
    assert as_typesystem("5.1.0") is ts


def test_ctakes_catalogue_unites_the_releases() -> None:
    catalogue = ctakes_catalogue()
    assert catalogue[METADATA].get_feature("patientIdentifier") == FeatureDef(
        "patientIdentifier", "uima.cas.String", description="Represents a text identifier for the patient."
    )
    assert PATIENT in catalogue  # main only
    assert catalogue[UMLS_CONCEPT].get_feature("preferredText") is not None
    assert catalogue[UMLS_CONCEPT].get_feature("pText") is None


def test_extend_typesystem_copies_and_caches() -> None:
    base = load_typesystem("4.0.0")
    additions = (
        TypeDef("com.example.Note", "uima.tcas.Annotation", None, (FeatureDef("ref", "com.example.Other"),)),
        TypeDef("com.example.Other", "uima.cas.TOP", None, (FeatureDef("label", "uima.cas.String"),)),
        TypeDef(METADATA, "uima.cas.TOP", None, (FeatureDef("patientIdentifier", "uima.cas.String"),)),
    )
    extended = extend_typesystem(base, additions)
    assert extended is not base
    assert extended.get_type("com.example.Note").get_feature("ref").rangeType.name == "com.example.Other"
    assert extended.get_type(METADATA).get_feature("patientIdentifier") is not None
    assert not base.contains_type("com.example.Note")
    assert base.get_type(METADATA).get_feature("patientIdentifier") is None
    assert extend_typesystem(base, additions) is extended


def test_extend_typesystem_conflict_is_a_typesystem_error() -> None:
    base = load_typesystem("4.0.0")
    clash = TypeDef(UMLS_CONCEPT, "uima.cas.TOP", None, (FeatureDef("cui", "uima.cas.Integer"),))
    missing_super = TypeDef("com.example.Orphan", "com.example.Nowhere", None, ())
    with pytest.raises(TypeSystemError, match="E104"):
        extend_typesystem(base, (missing_super,))
    # an existing feature is left as the base defines it rather than redefined
    assert extend_typesystem(base, (clash,)).get_type(UMLS_CONCEPT).get_feature("cui").rangeType.name == (
        "uima.cas.String"
    )


CUSTOM_DESCRIPTOR = """<?xml version="1.0" encoding="UTF-8"?>
<typeSystemDescription xmlns="http://uima.apache.org/resourceSpecifier">
  <imports>{imports}</imports>
  <types>
    <typeDescription>
      <name>com.example.SmokingMention</name>
      <supertypeName>org.apache.ctakes.typesystem.type.textsem.IdentifiedAnnotation</supertypeName>
      <features>
        <featureDescription><name>packYears</name><rangeTypeName>uima.cas.Float</rangeTypeName></featureDescription>
      </features>
    </typeDescription>
  </types>
</typeSystemDescription>
"""


def test_load_typesystem_follows_imports_by_location(tmp_path: Path) -> None:
    export_typesystem("4.0.0", tmp_path / "ctakes" / "TypeSystem.xml")
    path = tmp_path / "custom" / "Custom.xml"
    path.parent.mkdir()
    path.write_text(CUSTOM_DESCRIPTOR.format(imports='<import location="../ctakes/TypeSystem.xml"/>'), "utf-8")
    ts = load_typesystem(path)
    assert ts.get_type("com.example.SmokingMention").get_feature(F_POLARITY) is not None
    assert ts.contains_type(MEDICATION_MENTION)


def test_load_typesystem_import_by_name_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "Custom.xml"
    path.write_text(CUSTOM_DESCRIPTOR.format(imports='<import name="org.apache.ctakes.typesystem.types.TypeSystem"/>'))
    with pytest.raises(TypeSystemError, match=r"\[E103\].*Custom\.xml.*invalid"):
        load_typesystem(path)
    assert any("[E113]" in r.getMessage() and "by name" in r.getMessage() for r in caplog.records)
