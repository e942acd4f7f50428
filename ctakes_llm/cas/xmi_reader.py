"""Reading XMI into a cassis CAS indistinguishable from cassis 0.12's ``load_cas_from_xmi``, several times faster.

Why our own: cassis builds an lxml element per feature structure, then decides every feature's kind anew for each
feature structure (``is_primitive``, ``is_instance_of``, ``fs[name] = ...`` for absent features too) and indexes the
members of a view one by one. Here lxml hands each element's tag and attributes to a parser target (no tree is
built), each type's *plan* (how each attribute converts, which ones point at other feature structures) is decided once
per read, and each view's members are put into its index one type at a time.

Exactness is the contract: the same sofas and views, the same feature structures with the same xmi ids and values
(ints, floats, booleans, strings, arrays and lists as cassis builds them, references to the same objects, the parsed
sofa on feature structures no view indexes), offsets converted from UTF-16 where and as often as cassis converts them,
the same index order and the same id counters. What this module cannot reproduce with certainty it *declines*
(:class:`XmiNotRead`) instead of guessing: XML that is not plain UTF-8 XMI, types or features the type system lacks,
values cassis refuses or keeps in a form we do not mirror, duplicate ids, dangling references. The caller then lets
cassis read the bytes, which builds the same CAS or raises its own error. ``tests/cas/test_xmi_reader.py`` pins the
result to cassis's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from cassis import Cas, TypeSystem
from cassis.cas import IdGenerator, Sofa
from cassis.typesystem import TypeNotFoundError
from lxml import etree

from ctakes_llm.cas.uima_names import ANNOTATION, CAS_NS, FLOATS, FS_ARRAY, FS_LIST, STRING_ARRAY, STRING_LIST, XMI_NS

_XMI_ID = f"{{{XMI_NS}}}id"
_ROOT = f"{{{XMI_NS}}}XMI"
_SOFA = f"{{{CAS_NS}}}Sofa"
_VIEW = f"{{{CAS_NS}}}View"
_INITIAL_VIEW = "_InitialView"
_NO_NAMESPACE = "uima.noNamespace."

_SOFA_TYPE = "uima.cas.Sofa"
_INTEGERS = frozenset({"uima.cas.Integer", "uima.cas.Short", "uima.cas.Long", "uima.cas.Byte"})
_BOOLEANS = {"true": True, "false": False}  # cassis refuses any other spelling
_SOFA_STRINGS = frozenset({"sofaID", "mimeType", "sofaString", "sofaURI", "sofaArray"})

# An element whose type cassis and our scan (xmi.py) both name the same way: http:///org/x.ecore + Foo is org.x.Foo.
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_TAG = re.compile(rf"\{{http:///((?:{_IDENTIFIER}/)*{_IDENTIFIER})\.ecore\}}({_IDENTIFIER})\Z")
# The XML declaration, which may name an encoding: any but UTF-8 is left to cassis, as are DTDs (entities, defaults).
_DECLARATION = re.compile(rb"(?:\xef\xbb\xbf)?<\?xml\s[^>]*\?>")
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# libxml2 refuses text nodes and attribute values over 10,000,000 bytes unless huge_tree is set, as cassis leaves it;
# a smaller document cannot hold one.
_MAX_BYTES = 10_000_000

# How an attribute becomes a feature value. The first kinds are converted while parsing; those from _REFERENCE on
# point at other feature structures and are resolved once all are parsed.
_STRING = 0
_INT = 1  # also xmi:id and sofa (an id until sofas are parsed)
_FLOAT = 2
_BOOLEAN = 3
_CONVERTED = 4  # a primitive array or list written inline: the rule's function builds it
_REFUSED = 5  # cassis raises, or keeps a value we do not mirror (an int in a String ``begin``)
_REFERENCE = 6
_FS_ARRAY_VALUE = 7  # an FSArray written inline: a new FSArray of the referenced feature structures
_FS_ARRAY_ELEMENTS = 8  # the ``elements`` of an FSArray written on its own: a Python list
_FS_LIST_VALUE = 9  # an FSList written inline: NonEmptyFSList nodes

_Convert = Callable[[Any], Any]
_Rule = tuple[str, int, _Convert | None]  # (Python name, kind, how _CONVERTED and _FS_LIST_VALUE values are built)


class XmiNotRead(Exception):
    """The XMI holds something this reader cannot build exactly as cassis does; let cassis read it."""


@dataclass(frozen=True, slots=True)
class _TypePlan:
    """How the elements of one type become feature structures."""

    name: str
    make: Callable[..., Any]  # the type's feature structure class
    attributes: dict[str, _Rule]  # by attribute name, xmi:id included
    children: dict[str, _Convert]  # by child element name: how the texts of string collections written inline convert
    has_sofa: bool
    is_annotation: bool


def _booleans(value: str) -> list[bool]:
    return [_BOOLEANS[v] for v in value.split()]


def _hex_bytes(value: str) -> list[int]:
    return list(bytearray.fromhex(value)) if value else []


def _no_strings(value: str) -> list[str]:
    """cassis reads string arrays from child elements; an attribute must be empty."""
    if value.split():
        raise XmiNotRead("a string array is written as an attribute")
    return []


# How cassis reads the space-separated values of each primitive array type.
_ARRAY_VALUES: dict[str, _Convert] = {
    "uima.cas.FloatArray": lambda value: [float(v) for v in value.split()],
    "uima.cas.DoubleArray": lambda value: [float(v) for v in value.split()],
    "uima.cas.IntegerArray": lambda value: [int(v) for v in value.split()],
    "uima.cas.ShortArray": lambda value: [int(v) for v in value.split()],
    "uima.cas.LongArray": lambda value: [int(v) for v in value.split()],
    "uima.cas.BooleanArray": _booleans,
    "uima.cas.ByteArray": _hex_bytes,
    STRING_ARRAY: _no_strings,
}
# The element type and node types of each primitive list type, as cassis builds inline lists.
_LIST_TYPES: dict[str, tuple[Callable[[str], Any], str, str]] = {
    "uima.cas.IntegerList": (int, "uima.cas.EmptyIntegerList", "uima.cas.NonEmptyIntegerList"),
    "uima.cas.FloatList": (float, "uima.cas.EmptyFloatList", "uima.cas.NonEmptyFloatList"),
    STRING_LIST: (str, "uima.cas.EmptyStringList", "uima.cas.NonEmptyStringList"),
}


def _linked_list(range_type: Any, values: list[Any], convert: Callable[[Any], Any]) -> Any:
    """``Empty*List`` ended ``NonEmpty*List`` nodes holding ``values``, as cassis links them."""
    _, empty, non_empty = _LIST_TYPES[range_type.name]
    node_type = range_type.typesystem.get_type(non_empty)
    node = range_type.typesystem.get_type(empty)()
    for value in reversed(values):
        node = node_type(head=convert(value), tail=node)
    return node


def _inline_array(range_type: Any) -> _Convert:
    parse = _ARRAY_VALUES[range_type.name]
    return lambda value: range_type(elements=parse(value))


def _inline_list(range_type: Any) -> _Convert:
    convert = _LIST_TYPES[range_type.name][0]
    return lambda value: _linked_list(range_type, value.split(), convert)


def _child_strings(range_type: Any) -> _Convert:
    return lambda texts: range_type(elements=texts)


def _child_string_list(range_type: Any) -> _Convert:
    return lambda texts: _linked_list(range_type, texts, str)  # str(None) is "None" for an empty element, as in cassis


def _same(texts: list[str | None]) -> list[str | None]:
    return texts


def _fs_list(range_type: Any) -> _Convert:
    """``EmptyFSList`` ended ``NonEmptyFSList`` nodes holding referenced feature structures, as cassis links them."""
    ts = range_type.typesystem
    node_type = ts.get_type("uima.cas.NonEmptyFSList")
    empty_type = ts.get_type("uima.cas.EmptyFSList")

    def link(targets: list[Any]) -> Any:
        node = empty_type()
        for target in reversed(targets):
            node = node_type(head=target, tail=node)
        return node

    return link


class _Planner:
    """Type plans for one type system, each decided once per read; rules for the features types share, once too."""

    def __init__(self, ts: TypeSystem) -> None:
        self.ts = ts
        self.by_tag: dict[str, _TypePlan] = {}
        self.by_class: dict[Any, _TypePlan] = {}
        self.rules: dict[int, tuple[str, _Rule]] = {}  # by id(feature): (attribute name, rule)

    def plan(self, tag: str) -> _TypePlan:
        plan = self.by_tag.get(tag)
        if plan is None:
            plan = self.by_tag[tag] = self._plan_tag(tag)
            self.by_class[plan.make] = plan
        return plan

    def _plan_tag(self, tag: str) -> _TypePlan:
        match = _TAG.match(tag)
        if match is None:
            raise XmiNotRead(f"element <{tag}> is not in a UIMA package namespace")
        package = match.group(1).replace("/", ".")
        if package.startswith(_NO_NAMESPACE):  # cassis strips the prefix, our scan does not
            raise XmiNotRead(f"element <{tag}> is in a package below uima.noNamespace")
        name = match.group(2) if f"{package}." == _NO_NAMESPACE else f"{package}.{match.group(2)}"
        try:
            t = self.ts.get_type(name)
        except TypeNotFoundError as err:
            raise XmiNotRead(f"the type system lacks type [{name}]") from err
        return self._plan_type(t)

    def _plan_type(self, t: Any) -> _TypePlan:
        ts = self.ts
        attributes: dict[str, _Rule] = {_XMI_ID: ("xmiID", _INT, None)}
        children: dict[str, _Convert] = {}
        string_array = ts.is_instance_of(t.name, STRING_ARRAY)
        if string_array:
            children["elements"] = _same
        for feature in t.all_features:
            if feature.name in ("xmiID", "type") or "." in feature.name:
                raise XmiNotRead(f"type [{t.name}] has a feature named [{feature.name}]")
            known = self.rules.get(id(feature))
            if known is None or feature.name == "elements":  # the arrays' one feature is read by the array's type
                known = self.rules[id(feature)] = self._attribute_rule(t, feature, string_array)
            attribute, rule = known
            attributes[attribute] = rule
            convert = None if string_array else self._child_rule(feature)
            if convert is not None:
                children[feature.name] = convert
        return _TypePlan(
            name=t.name,
            make=type(t()),
            attributes=attributes,
            children=children,
            has_sofa=t.get_feature("sofa") is not None,
            is_annotation=ts.is_instance_of(t.name, ANNOTATION),
        )

    def _attribute_rule(self, t: Any, feature: Any, string_array: bool) -> tuple[str, _Rule]:
        """The branch cassis's post-processing takes for the feature, in its order."""
        ts = self.ts
        name = feature.name
        range_type = feature.rangeType
        inline = not feature.multipleReferencesAllowed
        # cassis reads attributes ``self`` and ``type`` into the renamed ``self_`` and ``type_``
        attribute = {"self_": "self", "type_": "type"}.get(name, name)
        kind, convert = _REFERENCE, None
        if name == "sofa":
            kind = _INT
        elif string_array:
            kind = _REFUSED  # cassis keeps the attribute's text as the value
        elif ts.is_primitive(range_type):
            if name in ("begin", "end") and range_type.name not in _INTEGERS:
                kind = _REFUSED  # cassis reads begin and end as ints whatever their range
            elif range_type.name == "uima.cas.String":
                kind = _STRING
            elif range_type.name in _INTEGERS:
                kind = _INT
            elif range_type.name in FLOATS:
                kind = _FLOAT
            elif range_type.name == "uima.cas.Boolean":
                kind = _BOOLEAN
            else:
                kind = _REFUSED  # a string subtype: cassis raises
        elif name in ("begin", "end"):
            kind = _REFUSED
        elif ts.is_primitive_array(t) and name == "elements":
            kind, convert = _CONVERTED, _ARRAY_VALUES[t.name]
        elif ts.is_primitive_array(range_type) and inline:
            kind, convert = _CONVERTED, _inline_array(range_type)
        elif ts.is_primitive_list(range_type) and inline:
            kind, convert = _CONVERTED, _inline_list(range_type)
        elif t.name == FS_ARRAY:
            kind = _FS_ARRAY_ELEMENTS
        elif range_type.name == FS_ARRAY and inline:
            kind = _FS_ARRAY_VALUE
        elif range_type.name == FS_LIST and inline:
            kind, convert = _FS_LIST_VALUE, _fs_list(range_type)
        return attribute, (name, kind, convert)

    @staticmethod
    def _child_rule(feature: Any) -> _Convert | None:
        """Child elements cassis reads: the strings of a StringArray or StringList written inline."""
        if feature.multipleReferencesAllowed or feature.name in ("self_", "type_"):
            return None
        if feature.rangeType.name == STRING_ARRAY:
            return _child_strings(feature.rangeType)
        if feature.rangeType.name == STRING_LIST:
            return _child_string_list(feature.rangeType)
        return None


def _events(data: bytes) -> list[Any]:
    """The parse as a flat list: ``(tag, attributes)`` per start, the tag per end, ``[text]`` per text, ``None`` per
    comment or processing instruction. Raises :class:`XmiNotRead` where lxml's tree parser could disagree."""
    if len(data) >= _MAX_BYTES:
        raise XmiNotRead(f"the document has {len(data)} bytes")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4]:
        raise XmiNotRead("the document is encoded in UTF-16 or UTF-32")
    declaration = _DECLARATION.match(data)
    encoding = _ENCODING.search(declaration.group()) if declaration else None
    if encoding is not None and encoding.group(1).lower() not in (b"utf-8", b"utf8"):
        raise XmiNotRead(f"the document is encoded in {encoding.group(1).decode('ascii')}")
    events: list[Any] = []
    target = _Target(events)
    parser = etree.XMLParser(target=target)
    try:
        etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        raise XmiNotRead(f"lxml: {err}") from err
    errors = parser.error_log.filter_from_errors()  # a target parser logs namespace errors that a tree parser raises
    if errors:
        raise XmiNotRead(f"lxml: {errors[0].message}")
    return events


class _Target:
    """An lxml parser target that records events; its callbacks are plain callables, called once per event."""

    def __init__(self, events: list[Any]) -> None:
        append = events.append
        self.start: Callable[[str, Any], None] = lambda tag, attributes: append((tag, attributes))
        self.end: Callable[[str], None] = append
        self.data: Callable[[str], None] = lambda text: append([text])
        self.comment: Callable[[str], None] = lambda text: append(None)
        self.pi: Callable[..., None] = lambda target, data=None: append(None)

    @staticmethod
    def doctype(*args: Any) -> None:
        raise XmiNotRead("the document has a DTD")

    @staticmethod
    def close() -> None:
        return None


class _Reader:
    """One read: the feature structures and sofas parsed so far, and the values left to resolve."""

    def __init__(self, ts: TypeSystem) -> None:
        self.ts = ts
        self.planner = _Planner(ts)
        self.structures: dict[int, Any] = {}
        self.sofas: dict[int, Sofa] = {}
        self.views: dict[int, list[int]] = {}
        self.with_sofa: list[Any] = []
        self.unresolved: list[tuple[Any, list[tuple[str, int, str, _Convert | None]]]] = []

    def read(self, events: list[Any]) -> None:
        """Follow the events: the root, then one element per feature structure, sofa or view."""
        depth = 0
        element: tuple[str, Any] = ("", {})
        children: dict[str, list[str | None]] | None = None
        text: list[str] | None = None
        for event in events:
            kind = type(event)
            if kind is tuple:
                depth += 1
                if depth == 2:
                    element, children = event, None
                elif depth == 3:
                    if len(event[1]) or "{" in event[0]:
                        raise XmiNotRead(f"child element <{event[0]}> has attributes or a namespace")
                    text = None
                elif depth == 1:
                    if event[0] != _ROOT:
                        raise XmiNotRead(f"the root element is <{event[0]}>")
                else:
                    raise XmiNotRead("elements are nested more than two deep")
            elif kind is str:
                if depth == 2:
                    self.element(element[0], element[1], children)
                elif depth == 3:
                    # lxml's text: None when the element has none, else the text nodes joined
                    children = {} if children is None else children
                    children.setdefault(event, []).append(None if text is None else "".join(text))
                depth -= 1
            elif kind is list:
                if depth == 3:
                    text = event if text is None else [*text, *event]
            elif depth != 1:  # cassis fails on one before the root, and reads text only up to one in a string
                raise XmiNotRead("a comment or processing instruction outside the root or inside an element")

    def element(self, tag: str, attributes: Any, children: dict[str, list[str | None]] | None) -> None:
        if tag in (_SOFA, _VIEW):
            if children:
                raise XmiNotRead(f"<{tag}> has child elements")
            if tag == _SOFA:
                self.sofa(attributes)
            else:  # cassis reads ``sofa`` and ``members`` and ignores any other attribute
                self.views[int(attributes["sofa"])] = [int(m) for m in attributes.get("members", "").split()]
            return
        plan = self.planner.by_tag.get(tag) or self.planner.plan(tag)
        rules = plan.attributes
        values: dict[str, Any] = {}
        unresolved: list[tuple[str, int, str, _Convert | None]] | None = None
        for name, value in attributes.items():
            rule = rules.get(name)
            if rule is None:
                raise XmiNotRead(f"the type system lacks feature [{name}] of type [{plan.name}]")
            key, kind, convert = rule
            if kind == _STRING:
                values[key] = value
            elif kind == _INT:
                values[key] = int(value)
            elif kind >= _REFERENCE:
                if unresolved is None:
                    unresolved = []
                unresolved.append((key, kind, value, convert))
            elif kind == _FLOAT:
                values[key] = float(value)
            elif kind == _BOOLEAN:
                values[key] = _BOOLEANS[value]
            elif kind == _CONVERTED:
                assert convert is not None  # every _CONVERTED rule has one
                values[key] = convert(value)
            else:
                raise XmiNotRead(f"feature [{name}] of type [{plan.name}] is read as cassis reads no other")
        if children:
            for name, texts in children.items():
                convert = plan.children.get(name)
                if convert is None or name in attributes:
                    raise XmiNotRead(f"child element <{name}> of type [{plan.name}]")
                values[name] = convert(texts)
        xmi_id = values.get("xmiID")
        if xmi_id is None or (plan.has_sofa and "sofa" not in values):
            raise XmiNotRead(f"an element of type [{plan.name}] has no xmi:id or no sofa")
        if xmi_id in self.structures:
            raise XmiNotRead(f"two feature structures have xmi id {xmi_id}")
        fs = self.structures[xmi_id] = plan.make(**values)
        if unresolved is not None:
            self.unresolved.append((fs, unresolved))
        if plan.has_sofa:
            self.with_sofa.append(fs)

    def sofa(self, attributes: Any) -> None:
        values: dict[str, Any] = {"type": self.ts.get_type(_SOFA_TYPE)}
        for name, value in attributes.items():
            if name in _SOFA_STRINGS:
                values[name] = value
            elif name == _XMI_ID:
                values["xmiID"] = int(value)
            elif name == "sofaNum":
                values["sofaNum"] = int(value)
            else:
                raise XmiNotRead(f"a sofa has attribute [{name}]")
        text = values.pop("sofaString", None)
        if "xmiID" not in values or "sofaNum" not in values or values["xmiID"] in self.sofas:
            raise XmiNotRead("a sofa without xmi:id or sofaNum, or two sofas with one xmi id")
        sofa = self.sofas[values["xmiID"]] = Sofa(**values)
        if text is not None:
            sofa._sofaString = text
            if text:  # cassis maps offsets of a non-empty text only
                converter = sofa._offset_converter
                converter._python_to_external, converter._external_to_python = _offset_maps(text)

    def resolve(self) -> None:
        """References to the feature structures they point at; sofa ids to the parsed sofas."""
        structures = self.structures
        fs_array = self.ts.get_type(FS_ARRAY)
        for fs, values in self.unresolved:
            for key, kind, value, convert in values:
                if kind == _REFERENCE:
                    setattr(fs, key, structures[int(value)])
                    continue
                targets = [structures[int(ref)] for ref in value.split()]
                if kind == _FS_ARRAY_VALUE:
                    setattr(fs, key, fs_array(elements=targets))
                elif kind == _FS_ARRAY_ELEMENTS:
                    setattr(fs, key, targets)
                else:
                    assert convert is not None  # every _FS_LIST_VALUE rule has one
                    setattr(fs, key, convert(targets))
        sofas = self.sofas
        for fs in self.with_sofa:
            fs.sofa = sofas[fs.sofa]

    def check_views(self) -> None:
        """What would make cassis fail, or index in a way we do not mirror, while it builds the views."""
        sofa_ids = [sofa.sofaID for sofa in self.sofas.values()]
        if len(set(sofa_ids)) != len(sofa_ids):
            raise XmiNotRead("two sofas have the same sofaID")
        for xmi_id in self.sofas:
            members = self.views.get(xmi_id, [])
            if len(set(members)) != len(members):
                raise XmiNotRead("a view lists a member twice")  # cassis converts its offsets twice
            missing = set(members) - self.structures.keys()
            if missing:
                raise XmiNotRead(f"a view lists xmi id {min(missing)}, which no feature structure has")

    def cas(self) -> Cas:
        """The CAS as cassis assembles it: the views in sofa order, members' offsets converted, then indexed."""
        cas = Cas(typesystem=self.ts, lenient=False)
        by_class = self.planner.by_class
        for sofa in self.sofas.values():
            if sofa.sofaID == _INITIAL_VIEW:
                view = cas.get_view(_INITIAL_VIEW)
                view.get_sofa().xmiID = sofa.xmiID
            else:
                view = cas.create_view(sofa.sofaID, xmiID=sofa.xmiID, sofaNum=sofa.sofaNum)
            view_sofa = view.get_sofa()
            view_sofa._sofaString = sofa.sofaString
            view_sofa._offset_converter = sofa._offset_converter
            view.sofa_mime = sofa.mimeType
            to_python = sofa._offset_converter.external_to_python
            by_type: dict[str, list[Any]] = {}
            for member in self.views.get(sofa.xmiID, []):
                fs = self.structures[member]
                plan = by_class[type(fs)]
                if plan.is_annotation:
                    fs.begin = to_python(fs.begin)
                    fs.end = to_python(fs.end)
                if plan.has_sofa:
                    fs.sofa = view_sofa
                group = by_type.get(plan.name)
                if group is None:
                    group = by_type[plan.name] = []
                group.append(fs)
            index = next(v for v in cas.views if v.sofa is view_sofa).type_index
            for type_name, group in by_type.items():  # the order cassis first meets each type in
                index[type_name].update(group)
        max_id = max([0, *self.structures, *self.sofas])
        cas._xmi_id_generator = IdGenerator(max_id + 1)
        cas._sofa_num_generator = IdGenerator(max([0, *(sofa.sofaNum for sofa in self.sofas.values())]) + 1)
        return cas


def _offset_maps(text: str) -> tuple[dict[int, int], dict[int, int]]:
    """cassis's two offset maps (Python index to UTF-16 unit, and back) for a sofa text, built faster."""
    if _ASTRAL.search(text) is None:
        indexes = range(len(text) + 1)
        return dict(zip(indexes, indexes, strict=True)), dict(zip(indexes, indexes, strict=True))
    units = [0, *accumulate(2 if c > "\uffff" else 1 for c in text)]
    indexes = range(len(units))
    return dict(zip(indexes, units, strict=True)), dict(zip(units, indexes, strict=True))


def deserialize_xmi(data: bytes, typesystem: TypeSystem) -> Cas:
    """The CAS ``load_cas_from_xmi(BytesIO(data), typesystem=typesystem, lenient=False)`` builds with cassis 0.12.

    Raises:
        XmiNotRead: the XMI holds something this reader leaves to cassis (see the module docstring), including
            everything cassis itself cannot read.
    """
    reader = _Reader(typesystem)
    try:
        reader.read(_events(data))
        reader.resolve()
        reader.check_views()
    except (ValueError, TypeError, KeyError, AttributeError, TypeNotFoundError) as err:
        raise XmiNotRead(f"{type(err).__name__}: {err}") from err
    return reader.cas()
