"""XMI serialization of a cassis CAS that is byte-identical to cassis 0.12's ``Cas.to_xmi()``, several times faster.

Why our own: cassis decides every feature's kind (string array, list, reference, boolean...) anew for each feature
structure, through recursive type-system lookups; on cTAKES output that costs ~31 µs per feature structure. Here each
type's *plan* (which features to write, under which XML name, how) is decided once, then every feature structure is
written by following its type's plan, and the document is assembled as text. Plans depend only on the type system, so
a caller that writes many documents keeps them in an :class:`XmiPlans` it passes to every call.

Exactness is the contract: every feature structure cassis would find (with its xmi id assignment order), the
namespace prefixes it would pick, its attribute order, value formatting and lxml's escaping. What this module cannot
reproduce with certainty it *declines* (:class:`XmiNotReproduced`) instead of guessing: unusual type, feature or
package names, characters lxml refuses, duplicate xmi ids, values of the wrong kind. The caller then lets cassis
serialize, which writes the same bytes or raises its own error. ``tests/cas/test_xmi_writer.py`` pins the output to
cassis's, including every code point lxml accepts or refuses.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from math import isinf, isnan
from operator import attrgetter
from typing import Any

from cassis import Cas, TypeSystem
from cassis.typesystem import FeatureStructure, TypeNotFoundError, is_non_empty_list_fs

from ctakes_llm.cas.uima_names import ANNOTATION, CAS_NS, FLOATS, FS_ARRAY, FS_LIST, STRING_ARRAY, STRING_LIST, XMI_NS

_HEAD = "<?xml version='1.0' encoding='UTF-8'?>\n"

_ARRAY_BASE = "uima.cas.ArrayBase"
_BOOLEAN = "uima.cas.Boolean"
_NO_NAMESPACE = "uima.noNamespace"
# cassis keeps these Python attributes of a feature structure out of the XMI
_NOT_FEATURES = frozenset({"xmiID", "type"})

# Names written as they are: ASCII identifiers (what UIMA type and feature names are in practice). Anything else
# (non-ASCII letters, ``$``) lxml may refuse or treat specially, so it is left to cassis; so are prefixes starting
# with "xml", which lxml writes without a declaration.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# What lxml 6 refuses in text and attribute values (it raises, so cassis raises); lone surrogates cannot be encoded.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ATTR_SPECIAL = re.compile('[&<>"\t\n\r]')
_TEXT_SPECIAL = re.compile("[&<>\r]")

# How a feature is written (an int, not an Enum: it is compared for every feature of every feature structure).
_PRIMITIVE = 0  # str(value), escaped unless it is an int
_OFFSET = 1  # begin / end of an annotation: a Python index, written as UTF-16 code units
_REFERENCE = 2  # the xmi id of the feature structure it points at (``sofa`` included)
_BOOLEAN_VALUE = 3
_FLOAT_VALUE = 4
_INLINE_STRINGS = 5  # StringArray without multipleReferencesAllowed: one child element per string
_INLINE_STRING_LIST = 6  # StringList likewise, except that an empty list writes nothing
_INLINE_PRIMITIVES = 7  # other primitive arrays: space-separated values in the attribute
_INLINE_PRIMITIVE_LIST = 8
_INLINE_FS_ARRAY = 9  # xmi ids of the elements
_INLINE_FS_LIST = 10

# How the traversal follows a feature to the feature structures it reaches.
_FOLLOW_REFERENCE = 0
_FOLLOW_FS_ARRAY = 1
_FOLLOW_FS_LIST = 2

_Join = Callable[[Iterable[Any]], str]


class XmiNotReproduced(Exception):
    """The CAS holds something this writer cannot write exactly as cassis does; let cassis serialize it."""


def _float_text(value: Any) -> str:
    """Java's spelling: ``NaN``, ``Infinity``, a capital ``E`` and no ``+`` in the exponent."""
    if isnan(value):
        return "NaN"
    if isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return str(value).upper().replace("E+", "E")


def _join_booleans(values: Iterable[Any]) -> str:
    return " ".join(str(v).lower() for v in values)


def _join_hex_bytes(values: Iterable[Any]) -> str:
    return "".join(f"{v:02X}" for v in values)


def _join_floats(values: Iterable[Any]) -> str:
    return " ".join(_float_text(v) for v in values)


def _join_plain(values: Iterable[Any]) -> str:
    return " ".join(str(v) for v in values)


def _join_list_values(values: Iterable[Any]) -> str:
    """List heads are formatted by their Python type, as cassis does (a float head of an IntegerList is a float)."""
    return " ".join(_float_text(v) if isinstance(v, float) else str(v) for v in values)


_ARRAY_FORMATS: dict[str, _Join] = {
    "uima.cas.BooleanArray": _join_booleans,
    "uima.cas.ByteArray": _join_hex_bytes,
    "uima.cas.FloatArray": _join_floats,
    "uima.cas.DoubleArray": _join_floats,
    "uima.cas.ShortArray": _join_plain,
    "uima.cas.IntegerArray": _join_plain,
    "uima.cas.LongArray": _join_plain,
}


def _escape_attribute(value: str) -> str:
    if _ATTR_SPECIAL.search(value) is None:
        return value
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\t", "&#9;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
    )


def _escape_text(value: Any) -> str:
    if not isinstance(value, str):
        raise XmiNotReproduced(f"a string array holds a {type(value).__name__}, not a string")
    if _TEXT_SPECIAL.search(value) is None:
        return value
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _child_elements(name: str, values: Iterable[Any]) -> str:
    """``<name>text</name>`` per string; ``None`` is an empty element, ``""`` an element with empty text."""
    return "".join(f"<{name}/>" if v is None else f"<{name}>{_escape_text(v)}</{name}>" for v in values)


def _same(offset: int) -> int:
    return offset


def _list_heads(node: Any) -> list[Any]:
    """The heads of a UIMA linked list (``NonEmpty*List`` nodes up to the ``Empty*List`` or ``None`` that ends it)."""
    heads = []
    while is_non_empty_list_fs(node):
        heads.append(node.head)
        node = node.tail
    return heads


@dataclass(frozen=True, slots=True)
class _TypePlan:
    """How feature structures of one type are found and written."""

    # the type's ``all_features`` list it was planned from: cassis builds a new list when a feature is added
    all_features: list[Any]
    namespace: str  # the XML namespace of the type's package, e.g. http:///org/apache/x.ecore
    package_tail: str  # the prefix cassis asks for: the last package component
    local_name: str
    is_array: bool  # a UIMA array type: cassis follows only an FSArray's elements
    array_format: int | None  # for primitive arrays and FSArray: how the ``elements`` are written
    array_join: _Join | None
    values: Callable[[Any], tuple[Any, ...]]  # a feature structure's feature values, in ``features`` order
    # (XML name, how it is written, how the values of an inline primitive array are joined)
    features: tuple[tuple[str, int, _Join | None], ...]
    follow: tuple[tuple[str, int], ...]  # (Python name, how the traversal follows it)


@dataclass(frozen=True, slots=True)
class _Range:
    """What cassis asks about a feature's range type, asked once per range type."""

    name: str
    string_array: bool  # an instance of StringArray
    string_list: bool  # an instance of StringList
    primitive_array: bool
    primitive_list: bool
    collection: bool  # an array or list type
    primitive: bool


@dataclass(frozen=True, slots=True)
class _FeatureRule:
    """How one feature is written and followed, whatever type of the CAS inherits it."""

    xml_name: str  # the feature's name in the XMI: a reserved Python name loses cassis's trailing underscore
    how: int
    join: _Join | None  # how the values of an inline primitive array are joined
    follow: int | None  # how the traversal follows it; None: not at all


class _Planner:
    """Type plans for one type system, each decided once; features and ranges that many types share, once too."""

    def __init__(self, ts: TypeSystem) -> None:
        self.ts = ts
        # keyed by id(): a Type hashes by name in Python code and a Feature not at all. ``keep`` holds every keyed
        # object, so no id is reused by another object while these plans live.
        self.plans: dict[int, _TypePlan] = {}
        self.rules: dict[int, _FeatureRule] = {}
        self.ranges: dict[int, _Range] = {}
        self.keep: list[Any] = []

    def plan(self, t: Any) -> _TypePlan:
        """The type's plan, decided again when the type system changed since (a feature added, the type replaced)."""
        if self.ts.get_type(t.name) is not t:
            raise XmiNotReproduced(f"a feature structure's type [{t.name}] is not the CAS type system's")
        plan = self.plans.get(id(t))
        if plan is None or plan.all_features is not t.all_features:
            plan = self.plans[id(t)] = self._plan_type(t)
            self.keep.append(t)
        return plan

    def _plan_type(self, t: Any) -> _TypePlan:
        ts = self.ts
        full_name = t.name if "." in t.name else f"{_NO_NAMESPACE}.{t.name}"
        package, local_name = full_name.rsplit(".", 1)
        package_parts = package.split(".")
        names_ok = all(_NAME.match(part) for part in (*package_parts, local_name))
        if not names_ok or package_parts[-1][:3].lower() == "xml":
            raise XmiNotReproduced(f"type name [{t.name}] is not a plain ASCII identifier")
        if t.supertype is None:
            raise XmiNotReproduced(f"a feature structure has type [{t.name}], which cassis cannot write")
        array_format: int | None = None
        if t.name == STRING_ARRAY:
            array_format = _INLINE_STRINGS
        elif t.name == FS_ARRAY:
            array_format = _INLINE_FS_ARRAY
        elif ts.is_primitive_array(t.name):
            array_format = _INLINE_PRIMITIVES
        is_annotation = ts.is_instance_of(t, ANNOTATION)
        names = []
        features = []
        follow = []
        for feature in t.all_features:
            if feature.name in _NOT_FEATURES:
                continue
            rule = self.rules.get(id(feature))
            if rule is None:
                rule = self.rules[id(feature)] = self._feature_rule(feature)
                self.keep.append(feature)
            how = rule.how
            if how == _PRIMITIVE and is_annotation and rule.xml_name in ("begin", "end"):
                how = _OFFSET
            names.append(feature.name)
            features.append((rule.xml_name, how, rule.join))
            if rule.follow is not None:
                follow.append((feature.name, rule.follow))
        xml_names = [feature[0] for feature in features]
        if len(set(xml_names)) != len(xml_names):
            raise XmiNotReproduced(f"two features of [{t.name}] have the same XML name")
        return _TypePlan(
            all_features=t.all_features,
            namespace="http:///" + package.replace(".", "/") + ".ecore",
            package_tail=package_parts[-1],
            local_name=local_name,
            is_array=t.supertype.name == _ARRAY_BASE,
            array_format=array_format,
            array_join=_ARRAY_FORMATS.get(t.name),
            values=_values_getter(names),
            features=tuple(features),
            follow=tuple(follow),
        )

    def _feature_rule(self, feature: Any) -> _FeatureRule:
        xml_name = feature.name[:-1] if feature._has_reserved_name else feature.name
        if not _NAME.match(xml_name):
            raise XmiNotReproduced(f"feature name [{feature.name}] is not a plain ASCII identifier")
        range_type = feature.rangeType
        facts = self.ranges.get(id(range_type))
        if facts is None:
            ts = self.ts
            self.keep.append(range_type)
            facts = self.ranges[id(range_type)] = _Range(
                name=range_type.name,
                string_array=ts.is_instance_of(range_type, STRING_ARRAY),
                string_list=ts.is_instance_of(range_type, STRING_LIST),
                primitive_array=ts.is_primitive_array(range_type),
                primitive_list=ts.is_primitive_list(range_type),
                collection=ts.is_array(range_type) or ts.is_list(range_type),
                primitive=ts.is_primitive(range_type),
            )
        inline = not feature.multipleReferencesAllowed
        follow = None if feature.name == "sofa" or facts.primitive else _follow(facts, inline)
        return _FeatureRule(xml_name, _feature_format(facts, inline, xml_name), _ARRAY_FORMATS.get(facts.name), follow)


def _values_getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """One C-level call for all feature values (``attrgetter`` of a single name returns the bare value)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda fs: (one(fs),)
    return lambda fs: ()


def _feature_format(facts: _Range, inline: bool, xml_name: str) -> int:
    """The first rule that applies, in the order cassis checks them: inline collections first, then ``sofa``."""
    if inline and facts.string_array:
        return _INLINE_STRINGS
    if inline and facts.string_list:
        if facts.name != STRING_LIST:  # cassis refuses a NonEmptyStringList range when there is a value
            raise XmiNotReproduced(f"feature [{xml_name}] has range [{facts.name}]")
        return _INLINE_STRING_LIST
    if inline and facts.primitive_array:
        return _INLINE_PRIMITIVES
    if inline and facts.primitive_list:
        return _INLINE_PRIMITIVE_LIST
    if inline and facts.name == FS_ARRAY:
        return _INLINE_FS_ARRAY
    if inline and facts.name == FS_LIST:
        return _INLINE_FS_LIST
    if xml_name == "sofa":
        return _REFERENCE
    if facts.name == _BOOLEAN:
        return _BOOLEAN_VALUE
    if facts.name in FLOATS:
        return _FLOAT_VALUE
    if facts.primitive:
        return _PRIMITIVE
    return _REFERENCE


def _follow(facts: _Range, inline: bool) -> int | None:
    """How cassis's traversal follows a non-primitive feature; ``None``: an inline primitive collection, not at all."""
    if not inline or not facts.collection:
        return _FOLLOW_REFERENCE
    if facts.name == FS_ARRAY:
        return _FOLLOW_FS_ARRAY
    if facts.name == FS_LIST:
        return _FOLLOW_FS_LIST
    return None


class XmiPlans:
    """Type plans kept from one serialization to the next: make one per run and pass it to every :func:`serialize_xmi`.

    It holds the plans of one type system, the last CAS's; a CAS with another type system replaces them. A plan is
    checked against its type the first time each document uses it, so types and features added through the type
    system (``create_type``, ``create_feature``) get new plans. Editing a ``Feature`` object in place is not seen.
    """

    def __init__(self) -> None:
        self._planner: _Planner | None = None

    def _planner_for(self, ts: TypeSystem) -> _Planner:
        """The plans for ``ts``: the kept ones, or new ones when ``ts`` is another type system."""
        if self._planner is None or self._planner.ts is not ts:
            self._planner = _Planner(ts)
        return self._planner


class _Writer:
    """One serialization: the type plans it has checked so far and the namespace prefixes it has decided."""

    def __init__(self, cas: Cas, planner: _Planner) -> None:
        self.cas = cas
        self.planner = planner
        self.plans: dict[int, _TypePlan] = {}  # keyed by id(type): the plans checked for this document
        self.tags: dict[int, str] = {}  # keyed by id(type), as the plans
        # prefix -> namespace in the order cassis adds them, and the prefix each namespace got
        self.prefixes: dict[str, str] = {"xmi": XMI_NS, "cas": CAS_NS}
        self.prefix_of: dict[str, str] = {}
        self.numbered: dict[str, int] = {}

    def plan(self, t: Any) -> _TypePlan:
        plan = self.plans[id(t)] = self.planner.plan(t)
        return plan

    def all_feature_structures(self) -> list[Any]:
        """Every feature structure reachable from the views' indexes, by xmi id; missing xmi ids are assigned.

        The walk is cassis's (breadth first from each sofa's view, inline arrays and lists looked through), so the
        ids it assigns to unindexed feature structures (concepts inside an ``FSArray``) are the ones cassis assigns.
        """
        cas = self.cas
        queue: deque[Any] = deque()
        for sofa in cas.sofas:
            queue.extend(cas.get_view(sofa.sofaID).select_all_fs())
        visited: set[int] = set()
        by_id: dict[int, Any] = {}
        plans = self.plans
        while queue:
            fs = queue.popleft()
            if id(fs) in visited:
                continue
            visited.add(id(fs))
            if fs.xmiID == 0:  # cas:NULL is written on its own
                continue
            if not isinstance(fs, FeatureStructure):
                raise XmiNotReproduced(f"a feature points at a {type(fs).__name__}")
            if fs.xmiID is None:
                fs.xmiID = cas._get_next_xmi_id()  # cassis's own counter: ids as cassis would assign them
            if by_id.setdefault(fs.xmiID, fs) is not fs:
                raise XmiNotReproduced(f"two feature structures have xmi id {fs.xmiID}")
            plan = plans.get(id(fs.type)) or self.plan(fs.type)
            if plan.is_array:
                if plan.array_format == _INLINE_FS_ARRAY and fs.elements:
                    queue.extend(ref for ref in fs.elements if ref and id(ref) not in visited)
                continue
            for name, follows in plan.follow:
                value = getattr(fs, name)
                if value is None:
                    continue
                if follows == _FOLLOW_REFERENCE:
                    value.xmiID  # noqa: B018  (a value that is no feature structure fails here, as in cassis)
                    if id(value) not in visited:
                        queue.append(value)
                elif follows == _FOLLOW_FS_ARRAY:
                    if value.elements:
                        queue.extend(ref for ref in value.elements if ref and id(ref) not in visited)
                else:
                    queue.extend(head for head in _list_heads(value) if head and id(head) not in visited)
        return sorted(by_id.values(), key=lambda fs: fs.xmiID)

    def tag(self, t: Any) -> str:
        """``prefix:LocalName``; the first type of a namespace decides its prefix, numbered when the name is taken."""
        plan = self.plan(t)
        namespace = plan.namespace
        prefix = self.prefix_of.get(namespace)
        if prefix is None:
            prefix = plan.package_tail
            if prefix in self.prefixes:
                number = self.numbered.get(prefix, 0)
                self.numbered[prefix] = number + 1
                prefix = f"{prefix}{number}"
                if prefix in self.prefixes:  # cassis would rebind a prefix already in use
                    raise XmiNotReproduced(f"namespace prefix [{prefix}] is taken twice")
            self.prefixes[prefix] = namespace
            self.prefix_of[namespace] = prefix
        # lxml writes the first prefix declared for a namespace (``cas`` for the uima.cas arrays and lists)
        written = next(p for p, ns in self.prefixes.items() if ns == namespace)
        tag = self.tags[id(t)] = f"{written}:{plan.local_name}"
        return tag

    def namespace_declarations(self) -> str:
        """The declarations lxml keeps: the first prefix of each namespace (later ones for ``cas`` go unused)."""
        declared: dict[str, str] = {}
        for prefix, namespace in self.prefixes.items():
            declared.setdefault(namespace, prefix)
        return "".join(f' xmlns:{prefix}="{namespace}"' for namespace, prefix in declared.items())

    def write(self) -> str:
        out = ['<cas:NULL xmi:id="0"/>']
        plans, tags = self.plans, self.tags
        for fs in self.all_feature_structures():
            key = id(fs.type)
            tag = tags.get(key) or self.tag(fs.type)
            plan = plans[key]
            if plan.array_format is None:
                self.element(fs, tag, plan, out)
            else:
                out.append(self.array_element(fs, tag, plan))
        for sofa in self.cas.sofas:
            out.append(_sofa_element(sofa))
        for view in self.cas.views:
            members = " ".join(sorted((str(fs.xmiID) for fs in view.get_all_fs()), key=int))
            out.append(f'<cas:View sofa="{view.sofa.xmiID}" members="{members}"/>')
        body = "".join(out)
        return f'{_HEAD}<xmi:XMI{self.namespace_declarations()} xmi:version="2.0">{body}</xmi:XMI>'

    @staticmethod
    def element(fs: Any, tag: str, plan: _TypePlan, out: list[str]) -> None:
        """A feature structure other than an array: features as attributes, inline string collections as children.

        The kinds are tested most frequent first: this loop runs for every feature of every feature structure.
        """
        out.append(f'<{tag} xmi:id="{fs.xmiID}"')
        children: list[str] = []
        to_utf16: Callable[[int], int] | None = None
        for (xml_name, how, join), value in zip(plan.features, plan.values(fs), strict=True):
            if value is None:
                continue
            if how == _PRIMITIVE:
                text = str(value) if type(value) is int else _escape_attribute(str(value))
            elif how == _OFFSET:
                if to_utf16 is None:
                    converter = getattr(getattr(fs, "sofa", None), "_offset_converter", None)
                    to_utf16 = converter.python_to_external if converter is not None else _same
                value = to_utf16(value)
                text = str(value) if type(value) is int else _escape_attribute(str(value))
            elif how == _REFERENCE:
                text = str(value.xmiID)
            elif how == _BOOLEAN_VALUE:
                text = "true" if value else "false"
            elif how == _FLOAT_VALUE:
                text = _float_text(value)
            elif how == _INLINE_STRINGS:
                elements = value.elements
                if elements is None:
                    continue
                if elements:
                    children.append(_child_elements(xml_name, elements))
                    continue
                text = ""
            elif how == _INLINE_STRING_LIST:
                children.append(_child_elements(xml_name, _list_heads(value)))
                continue
            elif how == _INLINE_PRIMITIVES:
                if value.elements is None:
                    continue
                assert join is not None  # set for every primitive array range but StringArray, handled above
                text = _escape_attribute(join(value.elements))
            elif how == _INLINE_PRIMITIVE_LIST:
                text = _escape_attribute(_join_list_values(_list_heads(value)))
            elif how == _INLINE_FS_ARRAY:
                if value.elements is None:
                    continue
                text = " ".join(str(e.xmiID) for e in value.elements)
            else:  # _INLINE_FS_LIST
                text = " ".join(str(e.xmiID) for e in _list_heads(value))
            out.append(f' {xml_name}="{text}"')
        if children:
            out.append(">")
            out.extend(children)
            out.append(f"</{tag}>")
        else:
            out.append("/>")

    def array_element(self, fs: Any, tag: str, plan: _TypePlan) -> str:
        """An array written on its own (multipleReferencesAllowed, or indexed): its values in ``elements``."""
        elements = fs.elements
        start = f'<{tag} xmi:id="{fs.xmiID}"'
        if elements is None:
            return start + "/>"
        if plan.array_format == _INLINE_STRINGS:
            return f"{start}>{_child_elements('elements', elements)}</{tag}>" if elements else start + "/>"
        if plan.array_format == _INLINE_FS_ARRAY:
            values = " ".join(str(e.xmiID) for e in elements)
        else:
            assert plan.array_join is not None  # every primitive array type but StringArray has a format
            values = _escape_attribute(plan.array_join(elements))
        return f'{start} elements="{values}"/>'


def _sofa_element(sofa: Any) -> str:
    """``cas:Sofa`` with the attributes cassis writes (not sofaURI nor sofaArray)."""
    out = [f'<cas:Sofa xmi:id="{sofa.xmiID}" sofaNum="{sofa.sofaNum}" sofaID="{_escape_attribute(str(sofa.sofaID))}"']
    if sofa.mimeType is not None:
        out.append(f' mimeType="{_escape_attribute(str(sofa.mimeType))}"')
    if sofa.sofaString is not None:
        out.append(f' sofaString="{_escape_attribute(str(sofa.sofaString))}"')
    out.append("/>")
    return "".join(out)


def serialize_xmi(cas: Cas, plans: XmiPlans | None = None) -> bytes:
    """The UTF-8 bytes ``cas.to_xmi().encode("utf-8")`` gives with dkpro-cassis 0.12, computed faster.

    Like cassis, this assigns xmi ids to reachable feature structures that have none.

    Args:
        cas: The CAS to write.
        plans: Type plans kept between calls (one per run); None decides them for this CAS alone.

    Raises:
        XmiNotReproduced: the CAS holds something this writer leaves to cassis (see the module docstring),
            including everything cassis itself cannot serialize.
    """
    try:
        text = _Writer(cas, (plans or XmiPlans())._planner_for(cas.typesystem)).write()
    except (ValueError, TypeError, KeyError, AttributeError, TypeNotFoundError) as err:
        raise XmiNotReproduced(f"{type(err).__name__}: {err}") from err
    bad = _NOT_XML.search(text)
    if bad is not None:
        raise XmiNotReproduced(f"character U+{ord(bad.group()):04X} is not allowed in XML")
    return text.encode("utf-8")
