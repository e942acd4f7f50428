"""UIMA XMI in and out, lossless across cTAKES versions.

Reading: ``xmi_reader`` builds the CAS cassis would build, fast. Where it declines (see there), the XMI is scanned
for types and features the chosen type system lacks. Those that some cTAKES release declares (a 6.0.0 XMI read with
the 4.0.0 type system, a 4.0.1 ``patientIdentifier``) are added with that release's definition. Types no cTAKES
release declares (custom types of other pipelines) are added with a definition inferred from the XMI: an
``Annotation`` when they carry ``sofa``/``begin``/``end``, features that hold xmi ids as references (several ids: an
``FSArray``), child-element features as ``StringArray``, ``true``/``false`` as ``Boolean``, canonical integers as
``Integer``/``Long``, anything else as ``String`` so that its text survives byte for byte (an integer feature whose
every value happens to be an xmi id is taken for a reference; its text survives either way, as xmi ids are kept). A
feature that no cTAKES release declares on a type that the type system or a cTAKES release does declare is refused
(``pText`` on ``UmlsConcept``): the file was edited or written with another type system, which the user can then
pass as a path.

The extended type system is a copy; the loaded one is never changed. Writing keeps every feature structure of the
CAS (cassis keeps xmi ids) and converts offsets to UTF-16 code units, as Java UIMA expects.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from cassis import Cas, TypeSystem, load_cas_from_xmi
from cassis.typesystem import TypeNotFoundError
from lxml import etree

from ctakes_llm.cas.atomic import atomic_open
from ctakes_llm.cas.document import ensure_document_annotation
from ctakes_llm.cas.typesystem import (
    DEFAULT_TYPESYSTEM,
    FeatureDef,
    TypeDef,
    as_typesystem,
    ctakes_catalogue,
    extend_typesystem,
    typesystem_label,
)
from ctakes_llm.cas.uima_names import ANNOTATION, CAS_NS, FS_ARRAY, STRING_ARRAY, XMI_NS
from ctakes_llm.cas.xmi_reader import XmiNotRead, deserialize_xmi
from ctakes_llm.cas.xmi_writer import XmiNotReproduced, XmiPlans, serialize_xmi
from ctakes_llm.errors import InputError, OutputError, TypeSystemError

logger = logging.getLogger(__name__)

_XMI_ID = f"{{{XMI_NS}}}id"
_CAS_INTERNAL = {"NULL", "Sofa", "View"}
_TOP = "uima.cas.TOP"
_ANNOTATION_BASE = "uima.cas.AnnotationBase"
_INT32 = range(-(2**31), 2**31)
_MAX_REPORTED = 3


def read_xmi(path: Path | str, typesystem: TypeSystem | str | Path = DEFAULT_TYPESYSTEM) -> Cas:
    """Read a UIMA XMI file written by any cTAKES version (or another UIMA pipeline) into a CAS.

    Types and features that ``typesystem`` lacks are kept (see the module docstring), so writing the CAS back
    loses nothing.

    Args:
        path: the XMI file.
        typesystem: a loaded type system, or a bundled name / descriptor path for :func:`load_typesystem`.

    Returns:
        The CAS; its type system is ``typesystem`` or an extended copy of it.

    Raises:
        InputError: the file cannot be read, is not XMI, or does not fit the type system. The one-line message
            names the file.
        TypeSystemError: ``typesystem`` names no type system.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"[E105] cannot read {str(path)!r}: {err.strerror}") from err
    return cas_from_xmi_bytes(data, typesystem, source=str(path))


def cas_from_xmi_bytes(data: bytes, typesystem: TypeSystem | str | Path = DEFAULT_TYPESYSTEM, *, source: str) -> Cas:
    """Like :func:`read_xmi` for XMI already in memory; ``source`` names it in messages (a path, ``<stdin>``).

    The fast reader builds the CAS cassis would; what it declines (types or features the type system lacks, anything
    unusual or malformed) takes the scan, extension and cassis path, which also gives the error messages.
    """
    base = as_typesystem(typesystem)
    try:
        return deserialize_xmi(data, base)
    except XmiNotRead as declined:
        logger.debug("%s: the fast XMI reader declined: %s", source, declined)
    scan = _scan(data, base, source)
    additions = _plan_additions(scan, base, source)
    ts = base
    if additions:
        try:
            ts = extend_typesystem(base, additions)
        except TypeSystemError as err:
            raise InputError(
                f"[E110] {source}: the XMI does not fit type system {typesystem_label(base)!r}: {err}"
            ) from err
        logger.info(
            "%s: added %d type(s) or feature(s) that type system %s lacks, to keep them: %s",
            source,
            len(additions),
            typesystem_label(base),
            ", ".join(a.name.rsplit(".", 1)[-1] for a in additions),
        )
        try:
            return deserialize_xmi(data, ts)
        except XmiNotRead as declined:  # cassis builds the same CAS, or raises its own error
            logger.debug("%s: the fast XMI reader declined the extended type system too: %s", source, declined)
    try:
        return load_cas_from_xmi(BytesIO(data), typesystem=ts, lenient=False)
    except (ValueError, TypeError, KeyError, RuntimeError, AttributeError, TypeNotFoundError) as err:
        reason = f"a reference to xmi:id {err} that the file lacks" if isinstance(err, KeyError) else str(err)
        reason = " ".join(reason.split()) or type(err).__name__
        raise InputError(
            f"[E110] {source}: cannot read the XMI with type system {typesystem_label(base)!r}: {reason}. "
            "Check that it is UIMA XMI and that --typesystem matches the cTAKES version that wrote it."
        ) from err


def xmi_bytes(cas: Cas, plans: XmiPlans | None = None) -> bytes:
    """Serialize a CAS to XMI (UTF-8), adding a ``DocumentAnnotation`` to the initial view if it has none.

    Offsets are written as UTF-16 code units, as Java UIMA counts them. ``plans`` (one per corpus run) keeps the
    fast writer's per-type decisions from one document to the next.

    Raises:
        OutputError: cassis cannot serialize a feature structure of the CAS.
    """
    return _serialize(cas, "the CAS", plans)


def write_xmi(cas: Cas, path: Path | str, *, overwrite: bool = True) -> Path:
    """Write a CAS as XMI atomically: the file either appears complete or not at all.

    Args:
        cas: the CAS; a ``DocumentAnnotation`` is added to it if it has none.
        path: the target file; its folder is created.
        overwrite: replace an existing file (``False`` refuses, so inputs are never overwritten by accident).

    Returns:
        The written path.

    Raises:
        OutputError: the file exists and ``overwrite`` is false, or it cannot be serialized or written.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise OutputError(f"[E111] {str(path)!r} exists; refusing to overwrite it. Choose another output folder.")
    data = _serialize(cas, repr(str(path)))
    with atomic_open(path, "wb", encoding=None) as handle:
        handle.write(data)
    return path


def _serialize(cas: Cas, target: str, plans: XmiPlans | None = None) -> bytes:
    ensure_document_annotation(cas)
    try:
        return serialize_xmi(cas, plans)
    except XmiNotReproduced as declined:  # cassis writes the same bytes, or raises its own error
        logger.debug("%s: serializing with cassis, as the fast XMI writer declined: %s", target, declined)
    try:
        xmi = cas.to_xmi()
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise OutputError(f"[E112] cannot serialize {target} to XMI: {reason}") from err
    assert xmi is not None  # to_xmi returns the text when no path is given
    data: bytes = xmi.encode("utf-8")
    return data


# ---------------------------------------------------------------------------------------------------------------
# Scanning an XMI for what the type system lacks.


@dataclass
class _Scan:
    """What one pass over the XMI found: every xmi id, and the features ``typesystem`` does not know."""

    ids: set[int] = field(default_factory=set)
    # type name -> feature name -> attribute values seen (only for features the type system lacks)
    attributes: dict[str, dict[str, list[str]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    # type name -> feature names written as child elements (string arrays), only those the type system lacks
    children: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # types the type system lacks, with whether their instances carry sofa / begin / end
    missing_types: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def _scan(data: bytes, ts: TypeSystem, source: str) -> _Scan:
    scan = _Scan()
    known: dict[str, frozenset[str] | None] = {}
    depth = 0
    children: list[str] = []
    try:
        for event, elem in etree.iterparse(BytesIO(data), events=("start", "end"), remove_comments=True):
            if event == "start":
                depth += 1
                if depth == 1:
                    _check_root(elem, source)
                continue
            depth -= 1
            if depth == 2 and isinstance(elem.tag, str):
                children.append(_qname(elem, source).localname)
            elif depth == 1:
                _scan_element(elem, children, scan, ts, known, source)
                children = []
                elem.clear()
                while elem.getprevious() is not None:
                    del elem.getparent()[0]
    except etree.XMLSyntaxError as err:
        raise InputError(f"[E106] {source} is not well-formed XML: {' '.join(str(err).split())}") from err
    if depth != 0:
        raise InputError(f"[E106] {source} is not well-formed XML: the document ends early")
    return scan


def _qname(elem: etree._Element, source: str) -> etree.QName:
    try:
        return etree.QName(elem)
    except ValueError as err:  # lxml's tree parser keeps a tag with an undeclared prefix, then refuses its QName
        raise InputError(
            f"[E106] {source} is not well-formed XML: the namespace prefix of <{elem.tag}> is not declared"
        ) from err


def _check_root(elem: etree._Element, source: str) -> None:
    if elem.tag == f"{{{XMI_NS}}}XMI":
        return
    if elem.tag == "CAS":
        raise InputError(
            f"[E107] {source} is in the old UIMA XCAS format, not XMI. Convert it to XMI first (UIMA's "
            "XCASDeserializer then XmiCasSerializer, or cTAKES's XmiWriter)."
        )
    raise InputError(
        f"[E108] {source} is XML with root <{_qname(elem, source).localname}>, not UIMA XMI (<xmi:XMI>). "
        "ctakes-llm reads UIMA XMI and plain text: extract the note text first."
    )


def _scan_element(
    elem: etree._Element,
    children: list[str],
    scan: _Scan,
    ts: TypeSystem,
    known: dict[str, frozenset[str] | None],
    source: str,
) -> None:
    if not isinstance(elem.tag, str):
        return
    qname = _qname(elem, source)
    if qname.namespace == CAS_NS and qname.localname in _CAS_INTERNAL:
        return
    type_name = _type_name(qname.namespace, qname.localname)
    xmi_id = elem.get(_XMI_ID)
    if xmi_id is not None and xmi_id.isdigit():
        scan.ids.add(int(xmi_id))
    if type_name not in known:
        known[type_name] = (
            frozenset(f.name for f in ts.get_type(type_name).all_features) if ts.contains_type(type_name) else None
        )
    features = known[type_name]
    if features is None:
        scan.missing_types[type_name].update(a for a in ("sofa", "begin", "end") if a in elem.attrib)
    for name, value in elem.attrib.items():
        if name != _XMI_ID and (features is None or not _has_feature(features, name)):
            scan.attributes[type_name][name].append(value)
    for name in children:
        if features is None or not _has_feature(features, name):
            scan.children[type_name].add(name)


def _has_feature(features: frozenset[str], name: str) -> bool:
    # cassis renames features called ``self`` / ``type`` to ``self_`` / ``type_``
    return name in features or f"{name}_" in features


def _type_name(namespace: str | None, localname: str) -> str:
    """UIMA's XMI namespace rule: ``http:///org/apache/x.ecore`` + ``Foo`` is type ``org.apache.x.Foo``."""
    package = (namespace or "").removeprefix("http:///").removesuffix(".ecore").replace("/", ".")
    return localname if package in ("", "uima.noNamespace") else f"{package}.{localname}"


# ---------------------------------------------------------------------------------------------------------------
# Planning the additions: cTAKES definitions where a release has them, inferred ones for custom types.


def _plan_additions(scan: _Scan, ts: TypeSystem, source: str) -> tuple[TypeDef, ...]:
    planner = _Planner(ts, scan)
    for type_name in sorted(set(scan.attributes) | set(scan.children) | set(scan.missing_types)):
        planner.add(type_name)
    if planner.problems:
        shown = "; ".join(planner.problems[:_MAX_REPORTED])
        more = f" (and {len(planner.problems) - _MAX_REPORTED} more)" if len(planner.problems) > _MAX_REPORTED else ""
        raise InputError(
            f"[E109] {source}: {shown}{more} is declared by no cTAKES release (4.0.0, 6.0.0, main) nor by type "
            f"system {typesystem_label(ts)!r}. The file was edited or written with another type system: "
            "pass its TypeSystem.xml with --typesystem PATH."
        )
    return tuple(planner.planned.values())


class _Planner:
    """Collects the types and features to add to a type system, supertypes before subtypes."""

    def __init__(self, ts: TypeSystem, scan: _Scan) -> None:
        self.ts = ts
        self.scan = scan
        self.catalogue = ctakes_catalogue()
        self.planned: dict[str, TypeDef] = {}
        self.problems: list[str] = []

    def add(self, type_name: str) -> None:
        unknown = sorted(set(self.scan.attributes.get(type_name, {})) | self.scan.children.get(type_name, set()))
        if not self._has(type_name) and type_name not in self.catalogue:
            self.planned[type_name] = self._infer(type_name, unknown)
            return
        self._ensure_catalogue_type(type_name)
        for feature in unknown:
            if self._has_feature(type_name, feature):
                continue
            declaring = self._declaring_type(type_name, feature)
            if declaring is None:
                self.problems.append(f"feature {feature!r} of type {type_name!r}")
                continue
            definition = self.catalogue[declaring].get_feature(feature)
            assert definition is not None  # _declaring_type found it
            self._add_feature(declaring, definition)

    def _has(self, type_name: str) -> bool:
        return type_name in self.planned or self.ts.contains_type(type_name)

    def _supertype(self, type_name: str) -> str | None:
        if type_name in self.planned:
            return self.planned[type_name].supertype
        if self.ts.contains_type(type_name):
            supertype = self.ts.get_type(type_name).supertype
            return supertype.name if supertype is not None else None
        definition = self.catalogue.get(type_name)
        return definition.supertype if definition is not None else None

    def _lineage(self, type_name: str) -> Iterable[str]:
        current: str | None = type_name
        while current and current != _TOP:
            yield current
            current = self._supertype(current)

    def _has_feature(self, type_name: str, feature: str) -> bool:
        for ancestor in self._lineage(type_name):
            if ancestor in self.planned and self.planned[ancestor].get_feature(feature) is not None:
                return True
            if self.ts.contains_type(ancestor):
                names = {f.name for f in self.ts.get_type(ancestor).all_features}
                if feature in names or f"{feature}_" in names:
                    return True
        return False

    def _declaring_type(self, type_name: str, feature: str) -> str | None:
        for ancestor in self._lineage(type_name):
            definition = self.catalogue.get(ancestor)
            if definition is not None and definition.get_feature(feature) is not None:
                return ancestor
        return None

    def _ensure_catalogue_type(self, type_name: str) -> None:
        if self._has(type_name):
            return
        definition = self.catalogue.get(type_name)
        if definition is None:  # a range the catalogue names but does not declare: extend_typesystem reports it
            return
        self._ensure_catalogue_type(definition.supertype)
        self.planned[type_name] = definition
        for feature in definition.features:
            self._ensure_ranges(feature)

    def _ensure_ranges(self, feature: FeatureDef) -> None:
        self._ensure_catalogue_type(feature.range_type)
        if feature.element_type:
            self._ensure_catalogue_type(feature.element_type)

    def _add_feature(self, type_name: str, feature: FeatureDef) -> None:
        self._ensure_ranges(feature)
        current = self.planned.get(type_name)
        if current is None:
            supertype = self._supertype(type_name) or _TOP
            self.planned[type_name] = TypeDef(type_name, supertype, None, (feature,))
        elif current.get_feature(feature.name) is None:
            self.planned[type_name] = TypeDef(
                current.name, current.supertype, current.description, (*current.features, feature)
            )

    def _infer(self, type_name: str, features: list[str]) -> TypeDef:
        offsets = self.scan.missing_types.get(type_name, set())
        if {"sofa", "begin", "end"} <= offsets:
            supertype = ANNOTATION
        elif "sofa" in offsets:
            supertype = _ANNOTATION_BASE
        else:
            supertype = _TOP
        inherited = {f.name for f in self.ts.get_type(supertype).all_features}
        values = self.scan.attributes.get(type_name, {})
        as_children = self.scan.children.get(type_name, set())
        inferred = tuple(
            _infer_feature(name, values.get(name, []), name in as_children, self.scan.ids)
            for name in features
            if name not in inherited
        )
        return TypeDef(type_name, supertype, "inferred by ctakes-llm from an input XMI", inferred)


def _infer_feature(name: str, values: list[str], as_children: bool, ids: set[int]) -> FeatureDef:
    if as_children:
        return FeatureDef(name, STRING_ARRAY, multiple_references_allowed=False)
    tokens = [value.split() for value in values]
    if any(tokens) and all(all(_is_canonical_int(t) and int(t) in ids for t in ts) for ts in tokens):
        if all(len(ts) == 1 for ts in tokens):
            return FeatureDef(name, _TOP)
        return FeatureDef(name, FS_ARRAY, multiple_references_allowed=False)
    if values and all(v in ("true", "false") for v in values):
        return FeatureDef(name, "uima.cas.Boolean")
    if values and all(_is_canonical_int(v) for v in values):
        fits = all(int(v) in _INT32 for v in values)
        return FeatureDef(name, "uima.cas.Integer" if fits else "uima.cas.Long")
    return FeatureDef(name, "uima.cas.String")


def _is_canonical_int(value: str) -> bool:
    """Whether ``str(int(value)) == value``, so reading it as a number and writing it back keeps the text."""
    body = value[1:] if value.startswith("-") else value
    return body.isdigit() and body.isascii() and str(int(value)) == value
