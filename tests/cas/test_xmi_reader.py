"""Our XMI reader against cassis's: the same CAS from real cTAKES output, our annotate output and every feature kind,
and, where it declines, the same CAS or the same error as before it existed.

"The same CAS" is checked three ways: the XMI cassis writes from each, a deep description of each (views, sofas and
their offset maps, index order and sort keys, every feature value with its Python type, which object each reference
points at, id counters, warnings), and both again after the same annotation and view are added to each.
"""

from __future__ import annotations

import logging
import warnings
from collections import deque
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import pytest
from cassis import Cas, TypeSystem, load_cas_from_xmi
from cassis.cas import Sofa, Utf16CodepointOffsetConverter
from cassis.typesystem import FeatureStructure
from test_xmi import CUSTOM_XMI  # sibling test modules; pytest puts this folder on sys.path
from test_xmi_writer import SHARED_XMIS, _kinds_cas, _kinds_typesystem, _pipeline_cas

from ctakes_llm.cas import xmi
from ctakes_llm.cas.typesystem import as_typesystem
from ctakes_llm.cas.xmi import cas_from_xmi_bytes, read_xmi, xmi_bytes
from ctakes_llm.cas.xmi_reader import XmiNotRead, deserialize_xmi
from ctakes_llm.errors import InputError

# ---------------------------------------------------------------------------------------------------------------
# Comparing two CASes.


def _describe(cas: Cas) -> dict[str, Any]:
    """Everything a caller can observe of a CAS, with each object named by the order it is first met in."""
    ordinals: dict[int, int] = {}
    alive: list[Any] = []  # keeps every object described alive, so that no id() is reused
    queue: deque[Any] = deque()

    def ref(obj: Any) -> int:
        if id(obj) not in ordinals:
            ordinals[id(obj)] = len(ordinals)
            alive.append(obj)
            queue.append(obj)
        return ordinals[id(obj)]

    def value(v: Any) -> Any:
        if isinstance(v, float):
            return ("float", repr(v))  # nan == nan
        if v is None or isinstance(v, bool | int | str):
            return (type(v).__name__, v)
        if isinstance(v, list):
            return ("list", tuple(value(e) for e in v))
        if isinstance(v, FeatureStructure | Sofa | Utf16CodepointOffsetConverter):
            return ("object", ref(v))
        return ("other", type(v).__name__, repr(v))

    views = []
    for view in cas.views:
        index = [
            (name, [ref(fs) for fs in members], [key for keys in members._keys for key in keys])  # keys as inserted
            for name, members in view.type_index.items()
        ]
        views.append((ref(view.sofa), index))
    objects = []
    while queue:
        obj = queue.popleft()
        if isinstance(obj, Utf16CodepointOffsetConverter):
            maps = (obj._python_to_external, obj._external_to_python)
            objects.append(("converter", *(None if m is None else list(m.items()) for m in maps)))
        elif isinstance(obj, Sofa):
            fields = (obj.xmiID, obj.sofaNum, obj.sofaID, obj.mimeType, obj.sofaString, obj.sofaURI, obj.sofaArray)
            objects.append(("sofa", *(value(f) for f in fields), value(obj._offset_converter)))
        else:
            features = tuple((f.name, value(getattr(obj, f.name))) for f in obj.type.all_features)
            objects.append(("fs", type(obj).__name__, obj.type.name, value(obj.xmiID), features))
    return {
        "views": views,
        "objects": objects,
        "current view": cas.get_sofa().sofaID,
        "next xmi id": cas._xmi_id_generator._next_id,
        "next sofa num": cas._sofa_num_generator._next_id,
        "lenient": cas._lenient,
    }


def _read(read: Callable[[], Cas]) -> tuple[Cas, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cas = read()
    return cas, [str(w.message) for w in caught]


def _cassis(data: bytes, ts: TypeSystem) -> Cas:
    return load_cas_from_xmi(BytesIO(data), typesystem=ts, lenient=False)


def _all_fs(cas: Cas) -> list[Any]:
    return list(cas._find_all_fs())


def _assert_same_as_cassis(data: bytes, ts: TypeSystem) -> Cas:
    """Read ``data`` with both (ours must not decline), compare, then add the same things to both and compare again."""
    ours, our_warnings = _read(lambda: deserialize_xmi(data, ts))
    theirs, their_warnings = _read(lambda: _cassis(data, ts))
    assert ours.typesystem is theirs.typesystem is ts
    assert our_warnings == their_warnings
    assert _describe(ours) == _describe(theirs)
    assert ours.to_xmi() == theirs.to_xmi()
    added = []
    for cas in (ours, theirs):
        annotation = ts.get_type("uima.tcas.Annotation")(begin=0, end=1)
        cas.add(annotation)
        view = cas.create_view("added by the test")
        view.sofa_string = "more text"
        view.add(ts.get_type("uima.tcas.Annotation")(begin=1, end=3))
        added.append((annotation.xmiID, view.get_sofa().xmiID, view.get_sofa().sofaNum))
    assert added[0] == added[1]
    assert _describe(ours) == _describe(theirs)
    assert ours.to_xmi() == theirs.to_xmi()
    return ours


def test_describe_notices_what_to_xmi_does_not() -> None:
    """An unindexed annotation's sofa object and a view member's sort key: equal XMI, different CASes."""

    def build() -> Cas:
        return _read(lambda: _cassis(HAND_WRITTEN.encode("utf-8"), KINDS_TS))[0]

    base = _describe(build())
    other_sofa = build()
    unindexed = next(fs for fs in _all_fs(other_sofa) if fs.xmiID == 7)
    unindexed.sofa = other_sofa.get_sofa()  # the view's sofa object instead of the parsed one
    assert other_sofa.to_xmi() == build().to_xmi()
    assert _describe(other_sofa) != base
    resorted = build()
    things = resorted.views[0].type_index["org.one.shared.Thing"]
    thing = things[0]
    things.remove(thing)
    thing.begin += 1
    things.add(thing)
    thing.begin -= 1  # the index keeps the key it was inserted with
    assert _describe(resorted) != base


# ---------------------------------------------------------------------------------------------------------------
# Real cTAKES output and ours.


@pytest.mark.parametrize(("path", "typesystem"), SHARED_XMIS)
def test_deserialize_xmi_real_ctakes_output_is_cassis_cas(path: Path, typesystem: str | Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the 4.0.0 descriptor's duplicate refsem types
        ts = as_typesystem(typesystem)
    cas = _assert_same_as_cassis(path.read_bytes(), ts)
    assert len(_all_fs(cas)) > 10


def test_deserialize_xmi_pipeline_output_is_cassis_cas(fake_backend: Any) -> None:
    written = _pipeline_cas(fake_backend)
    cas = _assert_same_as_cassis(xmi_bytes(written), written.typesystem)
    assert {fs.type.name.rsplit(".", 1)[-1] for fs in cas.select_all_fs()} >= {"WordToken", "SignSymptomMention"}


def _kinds_xmi(*, sofa_everywhere: bool) -> tuple[bytes, TypeSystem]:
    """The writer tests' CAS of every feature kind, as cassis writes it. Its unindexed ``com.acme.cas.Thing`` has no
    sofa, which cassis writes but cannot read back; ``sofa_everywhere`` gives it the initial view's."""
    cas = _kinds_cas()
    for fs in _all_fs(cas):
        if sofa_everywhere and hasattr(fs, "sofa") and fs.sofa is None:
            fs.sofa = cas.get_sofa()
    return cas.to_xmi().encode("utf-8"), cas.typesystem


def test_deserialize_xmi_every_feature_kind_cassis_writes_is_cassis_cas() -> None:
    cas = _assert_same_as_cassis(*_kinds_xmi(sofa_everywhere=True))
    both_views = [fs for fs in _all_fs(cas) if fs.type.name == "org.one.shared.Thing" and fs.begin == 3]
    assert len(both_views) == 1  # in two views: its offsets are converted twice, as cassis does


def test_deserialize_xmi_declines_an_annotation_without_sofa_and_the_error_is_cassis() -> None:
    data, ts = _kinds_xmi(sofa_everywhere=False)
    with pytest.raises(XmiNotRead, match="no sofa"):
        deserialize_xmi(data, ts)
    with pytest.raises(KeyError):
        _cassis(data, ts)
    with pytest.raises(InputError, match=r"^\[E110\] kinds\.xmi: .*xmi:id None"):
        cas_from_xmi_bytes(data, ts, source="kinds.xmi")


# ---------------------------------------------------------------------------------------------------------------
# Every way cassis reads a value, written by hand: separately written arrays and lists, references to cas:NULL,
# child elements (empty, CDATA, an empty StringList element that cassis reads as "None"), an unindexed annotation
# that keeps the parsed sofa, a member of two views, an offset inside a surrogate pair (cassis warns), sofas without
# text, with empty text and without a View element, a View without a sofa, comments, processing instructions and
# pretty printing, ids out of order.

KINDS_TS = _kinds_typesystem()
INITIAL_TEXT = 'Pt 😀 denies chest pain.\r\nTakes <81 mg> & "PRN"\t daily. 患者 \U0001d538 end'
SECOND_TEXT = "Second 😀 sofa & more"
HAND_WRITTEN = f"""<?xml version="1.0" encoding="UTF-8"?>
<xmi:XMI xmlns:xmi="http://www.omg.org/XMI" xmlns:cas="http:///uima/cas.ecore"
    xmlns:kinds="http:///org/example/kinds.ecore" xmlns:one="http:///org/one/shared.ecore"
    xmlns:two="http:///org/two/shared.ecore" xmlns:noNamespace="http:///uima/noNamespace.ecore" xmi:version="2.0">
  <!-- every way cassis reads a value -->
  <cas:NULL xmi:id="0"/>
  <cas:Sofa xmi:id="40" sofaNum="7" sofaID="second view" mimeType="text/plain" sofaString={quoteattr(SECOND_TEXT)}/>
  <one:Thing xmi:id="5" sofa="1" begin="3" end="5"/>
  <one:Thing xmi:id="6" sofa="1" begin="7" end="12"/>
  <two:Thing xmi:id="7" sofa="1" begin="4" end="60"/>
  <two:Thing xmi:id="8" sofa="1" begin="4" end="6"/>
  <?a-processing instruction?>
  <kinds:Everything xmi:id="10" sofa="1" begin="6" end="19" booleans="true false" bytes="0AFF10" shorts="-3 7"
      ints="1 -2 2147483647" longs="1099511627776" floats="NaN -Infinity 1.5E20 -0.0" doubles="1.5E-7 Infinity 0.1"
      flag="true" off="false" small="7" short="-12" count="42" big="9007199254740992" ratio="NaN" weight="-0.0"
      huge="Infinity" tiny="-Infinity" exp="1.25E-12" label="a &quot;q&quot; &lt;t&gt; &amp; &#9;&#13;&#10;😀"
      things="5 7 8 0" noThings="" thingList="6 5" words="one two" numbers="5 -6" fractions="0.25 NaN" emptyStrings=""
      intsShared="20" stringsShared="21" thingsShared="22" thingListShared="23" wordsShared="25" other="30"
      self="me" type="3">
    <strings>two words</strings>
    <noWords>x y</noWords>
    <strings></strings>
    <strings/>
    <noWords/>
    <strings><![CDATA[<&>]]></strings>
    <strings><![CDATA[]]></strings>
    <strings>  </strings>
    <strings>a &amp; <![CDATA[b]]> &#x1F600; 胸痛</strings>
  </kinds:Everything>
  <kinds:Everything xmi:id="11" sofa="40" begin="0" end="6" ratio="0.1" thingsShared="22"/>
  <cas:IntegerArray xmi:id="20" elements="3 -1 07"/>
  <cas:StringArray xmi:id="21"><elements>shared</elements><elements> </elements><elements/></cas:StringArray>
  <cas:FSArray xmi:id="22" elements="6 0 5"/>
  <cas:NonEmptyFSList xmi:id="23" head="5" tail="24"/>
  <cas:EmptyFSList xmi:id="24"/>
  <cas:NonEmptyStringList xmi:id="25" head="shared word" tail="26"/>
  <cas:EmptyStringList xmi:id="26"/>
  <noNamespace:Bare xmi:id="30" note="unindexed &amp; unnamed"/>
  <noNamespace:Bare xmi:id="1000"/>
  <cas:FloatArray xmi:id="31" elements="0.5 NaN"/>
  <cas:BooleanArray xmi:id="32" elements="false true"/>
  <cas:ByteArray xmi:id="33" elements="7F00"/>
  <cas:DoubleArray xmi:id="34" elements=""/>
  <cas:LongArray xmi:id="35"/>
  <cas:NonEmptyIntegerList xmi:id="36" head="4" tail="37"/>
  <cas:EmptyIntegerList xmi:id="37"/>
  <cas:NonEmptyFloatList xmi:id="38" head="2.5" tail="39"/>
  <cas:EmptyFloatList xmi:id="39"/>
  <cas:Sofa xmi:id="1" sofaNum="1" sofaID="_InitialView" mimeType="text" sofaString={quoteattr(INITIAL_TEXT)}/>
  <cas:Sofa xmi:id="50" sofaNum="3" sofaID="empty" sofaString="" sofaURI="file:///x" sofaArray="33"/>
  <cas:Sofa xmi:id="51" sofaNum="4" sofaID="no text"/>
  <!-- views -->
  <cas:View sofa="1" members="6 5 8 10 1000 20 31 32 33 34 35 36 38 21 0"/>
  <cas:View sofa="40" members="6 11 30"/>
  <cas:View sofa="99" members="5 777"/>
</xmi:XMI>
"""


def test_deserialize_xmi_hand_written_kinds_are_cassis_cas() -> None:
    cas = _assert_same_as_cassis(HAND_WRITTEN.encode("utf-8"), KINDS_TS)
    everything = next(fs for fs in _all_fs(cas) if fs.xmiID == 10)
    assert everything.strings.elements == ["two words", None, None, "<&>", "", "  ", "a & b 😀 胸痛"]
    assert everything.self_ == "me" and everything.type_ == 3
    assert [e.xmiID for e in everything.things.elements] == [5, 7, 8, 0]
    unindexed = next(fs for fs in _all_fs(cas) if fs.xmiID == 7)
    assert unindexed.sofa is not cas.get_sofa() and unindexed.sofa.xmiID == 1
    assert _read(lambda: deserialize_xmi(HAND_WRITTEN.encode("utf-8"), KINDS_TS))[0]._get_next_xmi_id() == 1001


def test_deserialize_xmi_warns_as_cassis_does_for_an_offset_inside_a_surrogate_pair() -> None:
    _, caught = _read(lambda: deserialize_xmi(HAND_WRITTEN.encode("utf-8"), KINDS_TS))
    assert any("Not mapping external offset [4]" in message for message in caught)


@pytest.mark.parametrize("text", ["", "plain ASCII", "😀", "a😀b\U0001d538c 患者", "\U0010ffff\ufffd"])
def test_deserialize_xmi_offset_maps_are_cassis_maps(text: str) -> None:
    data = (
        '<xmi:XMI xmlns:xmi="http://www.omg.org/XMI" xmlns:cas="http:///uima/cas.ecore" xmi:version="2.0">'
        f'<cas:Sofa xmi:id="1" sofaNum="1" sofaID="_InitialView" sofaString={quoteattr(text)}/></xmi:XMI>'
    ).encode()
    _assert_same_as_cassis(data, KINDS_TS)


# ---------------------------------------------------------------------------------------------------------------
# What the reader declines: cas_from_xmi_bytes then gives what it gave before the reader existed.


def _doc(body: str, members: str = "2", head: str = '<?xml version="1.0" encoding="UTF-8"?>') -> str:
    return (
        f'{head}<xmi:XMI xmlns:xmi="http://www.omg.org/XMI" xmlns:cas="http:///uima/cas.ecore" '
        'xmlns:kinds="http:///org/example/kinds.ecore" xmlns:one="http:///org/one/shared.ecore" xmi:version="2.0">'
        f'<cas:NULL xmi:id="0"/>{body}'
        '<cas:Sofa xmi:id="1" sofaNum="1" sofaID="_InitialView" mimeType="text" sofaString="Pt has chest pain."/>'
        f'<cas:View sofa="1" members="{members}"/></xmi:XMI>'
    )


THING = '<one:Thing xmi:id="2" sofa="1" begin="7" end="17"/>'
LATIN_1 = '<?xml version="1.0" encoding="ISO-8859-1"?>'
SECOND_INITIAL_VIEW = '<cas:Sofa xmi:id="9" sofaNum="2" sofaID="_InitialView"/>'


def _everything(attributes: str = "", children: str = "") -> str:
    return f'<kinds:Everything xmi:id="3" sofa="1" begin="0" end="2" {attributes}>{children}</kinds:Everything>'


DECLINED = {
    "truncated": HAND_WRITTEN[: len(HAND_WRITTEN) // 2].encode("utf-8"),
    "empty": b"",
    "not UTF-8": _doc(THING).encode("utf-8").replace(b"chest", b"ch\xffst"),
    "Latin-1": _doc(THING, head=LATIN_1).replace("chest", "chést").encode("latin-1"),
    "UTF-16": _doc(THING, head='<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16"),
    "DTD": _doc(THING, head='<!DOCTYPE xmi:XMI [<!ENTITY who "Pt">]>').replace("Pt has", "&who; has").encode(),
    "undeclared prefix": _doc(THING.replace("one:", "zz:")).encode(),
    "undeclared attribute prefix": _doc(THING.replace("begin=", "zz:begin=")).encode(),  # lxml's target keeps "begin"
    "empty prefix declaration": _doc(THING).replace("xmi:version=", 'xmlns:zz="" xmi:version=').encode(),
    "XCAS": b'<?xml version="1.0"?><CAS version="2"><uima.cas.Sofa _id="1" sofaNum="1" sofaID="_InitialView"/></CAS>',
    "other XML": b"<?xml version='1.0'?><ClinicalDocument xmlns='urn:hl7-org:v3'/>",
    "unknown type": _doc('<one:Other xmi:id="2" sofa="1" begin="0" end="2" label="x"/>').encode(),
    "unknown feature": _doc('<one:Thing xmi:id="2" sofa="1" begin="7" end="17" color="red"/>').encode(),
    "namespaced attribute": _doc('<one:Thing xmi:id="2" sofa="1" begin="7" end="17" xmi:uuid="u"/>').encode(),
    "dangling reference": _doc(_everything('other="77"'), "3").encode(),
    "dangling member": _doc(THING, "2 77").encode(),
    "duplicate xmi id": _doc(THING + '<one:Thing xmi:id="2" sofa="1" begin="0" end="2"/>').encode(),
    "member twice": _doc(THING, "2 2").encode(),
    "two initial views": _doc(THING).replace("<cas:View", f"{SECOND_INITIAL_VIEW}<cas:View").encode(),
    "no xmi:id": _doc('<one:Thing sofa="1" begin="7" end="17"/>', "").encode(),
    "bad int": _doc(_everything('count="4x2"'), "3").encode(),
    "bad boolean": _doc(_everything('flag="yes"'), "3").encode(),
    "bad float": _doc(_everything('ratio="1,5"'), "3").encode(),
    "bad byte array": _doc(_everything('bytes="0G"'), "3").encode(),
    "annotation without sofa": _doc('<one:Thing xmi:id="2" begin="7" end="17"/>').encode(),
    "sofa that is no sofa": _doc('<one:Thing xmi:id="2" sofa="0" begin="7" end="17"/>').encode(),
    "string array attribute": _doc(_everything('strings="a b"'), "3").encode(),
    "string array written as attribute": _doc(
        '<cas:StringArray xmi:id="4" elements="x"/>' + _everything('stringsShared="4"'), "3"
    ).encode(),
    "integer array children": _doc(_everything("", "<ints>1</ints>"), "3").encode(),
    "shared string array children": _doc(_everything("", "<stringsShared>a</stringsShared>"), "3").encode(),
    "child with attributes": _doc(_everything("", '<strings lang="en">a</strings>'), "3").encode(),
    "child in a namespace": _doc(_everything("", "<kinds:strings>a</kinds:strings>"), "3").encode(),
    "child and attribute": _doc(_everything('emptyStrings=""', "<emptyStrings>a</emptyStrings>"), "3").encode(),
    "grandchild": _doc(_everything("", "<strings><b>a</b></strings>"), "3").encode(),
    "comment before the root": _doc(THING, head="<!-- cassis fails on this -->").encode(),
    "comment in a string": _doc(_everything("", "<strings>a<!-- b -->c</strings>"), "3").encode(),
    "sofa child": _doc(THING).replace('sofaString="Pt has chest pain."/>', 'sofaString="Pt"><x/></cas:Sofa>').encode(),
    "sofa without sofaNum": _doc(THING).replace(' sofaNum="1"', "").encode(),
    "sofa attribute": _doc(THING).replace(' mimeType="text"', ' lang="en"').encode(),
    "view without sofa": _doc(THING).replace('<cas:View sofa="1"', "<cas:View").encode(),
    "bad member": _doc(THING, "2 x").encode(),
    "no root namespace": _doc(THING).replace("http://www.omg.org/XMI", "urn:other").encode(),
}


def _outcome(data: bytes, ts: TypeSystem) -> tuple[Any, ...]:
    try:
        cas, caught = _read(lambda: cas_from_xmi_bytes(data, ts, source="case.xmi"))
    except InputError as err:
        return ("error", str(err))
    return ("cas", _describe(cas), caught)


@pytest.mark.parametrize("data", DECLINED.values(), ids=DECLINED.keys())
def test_cas_from_xmi_bytes_where_the_reader_declines_is_as_before(
    data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(XmiNotRead):
        deserialize_xmi(data, KINDS_TS)
    _outcome(data, KINDS_TS)  # an extended type system is built (with cassis's warnings) once, then reused
    actual = _outcome(data, KINDS_TS)

    def decline(data: bytes, typesystem: TypeSystem) -> Cas:
        raise XmiNotRead("declining everything, as before the reader existed")

    monkeypatch.setattr(xmi, "deserialize_xmi", decline)
    assert actual == _outcome(data, KINDS_TS)


def test_cas_from_xmi_bytes_errors_still_name_the_file_and_the_problem() -> None:
    def error(case: str) -> str:
        with pytest.raises(InputError) as info:
            cas_from_xmi_bytes(DECLINED[case], KINDS_TS, source="case.xmi")
        assert "case.xmi" in str(info.value)
        return str(info.value)

    assert error("truncated").startswith("[E106]")
    assert error("not UTF-8").startswith("[E106]")
    assert error("undeclared prefix").startswith("[E106]")  # a ValueError before the reader existed
    assert error("XCAS").startswith("[E107]")
    assert error("unknown feature").startswith("[E109]")
    assert "xmi:id 77" in error("dangling reference") and error("dangling reference").startswith("[E110]")
    assert "Not a boolean: yes" in error("bad boolean")


def test_cas_from_xmi_bytes_reads_our_output_without_cassis(fake_backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    written = _pipeline_cas(fake_backend)
    data = xmi_bytes(written)
    expected = _describe(_cassis(data, written.typesystem))

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("cassis or the scan was asked to read")

    monkeypatch.setattr(xmi, "load_cas_from_xmi", refuse)
    monkeypatch.setattr(xmi, "_scan", refuse)
    assert _describe(cas_from_xmi_bytes(data, written.typesystem, source="note.xmi")) == expected


def test_read_xmi_extends_the_typesystem_then_reads_without_cassis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "custom.xmi"
    path.write_text(CUSTOM_XMI, encoding="utf-8")
    extended = read_xmi(path).typesystem  # the same extended copy every time
    expected = _describe(_cassis(path.read_bytes(), extended))

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("cassis was asked to read")

    monkeypatch.setattr(xmi, "load_cas_from_xmi", refuse)
    with caplog.at_level(logging.DEBUG, logger="ctakes_llm.cas.xmi"):
        cas = read_xmi(path)
    assert cas.typesystem is extended
    assert _describe(cas) == expected
    assert "fast XMI reader declined: the type system lacks" in caplog.text


def test_cas_from_xmi_bytes_falls_back_to_cassis_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="ctakes_llm.cas.xmi"):
        cas_from_xmi_bytes(DECLINED["member twice"], KINDS_TS, source="case.xmi")
    assert "case.xmi: the fast XMI reader declined: a view lists a member twice" in caplog.text
