"""The bundled cTAKES type systems: select one by name or path, export it, and extend it with what an XMI holds.

Three official cTAKES descriptors ship unmodified in ``ctakes_llm/typesystems/``. One is chosen by name (``4.0.0``,
``6.0.0`` and its aliases ``5.x``/``6.x``, ``main`` for the unreleased 7.0.0-SNAPSHOT) or by the path of any UIMA
type system descriptor. Loaded type systems are cached per process and shared: treat them as read-only; the XMI
reader never changes a cached one, it extends a copy (:func:`extend_typesystem`).

:func:`ctakes_catalogue` unites the definitions of all bundled releases, so an XMI written by one cTAKES version
reads with another version's type system without losing a feature.
"""

from __future__ import annotations

import functools
import logging
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from cassis import TypeSystem
from cassis import load_typesystem as cassis_load_typesystem
from cassis.typesystem import TypeNotFoundError
from lxml import etree

from ctakes_llm.cas.atomic import atomic_write
from ctakes_llm.errors import TypeSystemError

logger = logging.getLogger(__name__)

DEFAULT_TYPESYSTEM = "4.0.0"


@dataclass(frozen=True)
class _Bundled:
    folder: str
    aliases: tuple[str, ...]
    description: str


_BUNDLED: dict[str, _Bundled] = {
    "4.0.0": _Bundled(
        "4.0.0",
        ("4.x",),
        "Apache cTAKES 4.0.0 (2017): what we write; every cTAKES 4.x-7.x consumer reads it",
    ),
    "6.0.0": _Bundled(
        "6.0.0",
        ("5.0.0", "5.1.0", "5.x", "6.x"),
        "Apache cTAKES 6.0.0 (2024), byte-identical to 5.0.0 and 5.1.0",
    ),
    "main": _Bundled(
        "main-7.0.0-SNAPSHOT",
        ("7.0.0-SNAPSHOT", "main-7.0.0-SNAPSHOT", "7.x"),
        "Apache cTAKES main branch, unreleased 7.0.0-SNAPSHOT (2026-05)",
    ),
}
_NAME_BY_ALIAS: dict[str, str] = {alias: name for name, b in _BUNDLED.items() for alias in (name, *b.aliases)}

# cassis warns once per feature that a descriptor declares twice; the 4.0.0 descriptor declares 17 refsem types
# twice (UIMA Java merges them silently), which gives 19 such warnings on every load.
_DUPLICATE_WARNING = r".*already exists.*"
_UIMA_NS = "{http://uima.apache.org/resourceSpecifier}"


def available_typesystems() -> list[tuple[str, str]]:
    """The bundled type systems as ``(name, description)``, aliases listed in the description."""
    rows = []
    for name, bundled in _BUNDLED.items():
        aliases = ", ".join(bundled.aliases)
        rows.append((name, f"{bundled.description} (aliases: {aliases})"))
    return rows


def resolve_typesystem_name(name: str) -> str | None:
    """The canonical bundled name for ``name`` or one of its aliases; ``None`` if it names no bundled system."""
    return _NAME_BY_ALIAS.get(name.strip())


def load_typesystem(name_or_path: str | Path = DEFAULT_TYPESYSTEM) -> TypeSystem:
    """Load a bundled cTAKES type system by name or alias, or any UIMA type system descriptor by path.

    The result is cached per process and shared between callers: do not add types to it.

    Args:
        name_or_path: ``4.0.0``, ``6.0.0`` (``5.0.0``, ``5.1.0``, ``5.x``, ``6.x``), ``main``
            (``7.0.0-SNAPSHOT``, ``7.x``) or the path of a ``TypeSystem.xml``.

    Returns:
        The loaded type system.

    Raises:
        TypeSystemError: the name is unknown, the file is missing, or it is not a valid descriptor.
    """
    if isinstance(name_or_path, str) and (canonical := resolve_typesystem_name(name_or_path)) is not None:
        return _load_bundled(canonical)
    path = Path(name_or_path).expanduser()
    if path.is_file():
        resolved = path.resolve()
        return _load_path(resolved, resolved.stat().st_mtime_ns)
    known = ", ".join(_NAME_BY_ALIAS)
    if isinstance(name_or_path, Path) or "/" in str(name_or_path) or str(name_or_path).endswith(".xml"):
        raise TypeSystemError(
            f"[E102] type system descriptor {str(path)!r} not found. Pass an existing TypeSystem.xml or one of: {known}"
        )
    raise TypeSystemError(
        f"[E100] unknown type system {str(name_or_path)!r}. Known names: {known}; or pass the path of a TypeSystem.xml"
    )


def as_typesystem(typesystem: TypeSystem | str | Path) -> TypeSystem:
    """Pass a loaded type system through; load a name, alias or path with :func:`load_typesystem`."""
    return typesystem if isinstance(typesystem, TypeSystem) else load_typesystem(typesystem)


def typesystem_descriptor(name: str) -> bytes:
    """The unmodified descriptor bytes of a bundled type system.

    Raises:
        TypeSystemError: ``name`` is not a bundled name or alias.
    """
    canonical = resolve_typesystem_name(name)
    if canonical is None:
        known = ", ".join(_NAME_BY_ALIAS)
        raise TypeSystemError(f"[E100] unknown type system {name!r}. Known names: {known}")
    resource = files("ctakes_llm").joinpath(f"typesystems/{_BUNDLED[canonical].folder}/TypeSystem.xml")
    return resource.read_bytes()


def export_typesystem(name: str, path: Path) -> Path:
    """Write a bundled descriptor, byte for byte, to ``path`` (atomically).

    Args:
        name: a bundled name or alias.
        path: the target file; its folder is created.

    Returns:
        The written path.

    Raises:
        TypeSystemError: ``name`` is unknown.
        OutputError: the file cannot be written.
    """
    atomic_write(Path(path), typesystem_descriptor(name))
    logger.info("exported cTAKES type system %s to %s", name, path)
    return Path(path)


def typesystem_label(typesystem: TypeSystem) -> str:
    """A short name for messages: the bundled name or file a type system was loaded from, else ``custom``."""
    return _LABELS.get(typesystem, "custom")


_LABELS: weakref.WeakKeyDictionary[TypeSystem, str] = weakref.WeakKeyDictionary()


@functools.cache
def _load_bundled(canonical: str) -> TypeSystem:
    ts = _parse(typesystem_descriptor(canonical), f"bundled {canonical}")
    _LABELS[ts] = canonical
    return ts


@functools.lru_cache(maxsize=16)
def _load_path(path: Path, mtime_ns: int) -> TypeSystem:  # mtime_ns is part of the cache key
    root = _descriptor_with_imports(path, set())
    ts = _parse(etree.tostring(root), str(path))
    _LABELS[ts] = str(path)
    return ts


def _read_descriptor(path: Path) -> etree._Element:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise TypeSystemError(f"[E102] cannot read type system descriptor {str(path)!r}: {err.strerror}") from err
    try:
        root = etree.fromstring(data)
    except etree.XMLSyntaxError as err:
        raise TypeSystemError(f"[E103] type system descriptor {str(path)!r} is not well-formed XML: {err}") from err
    if root.tag != f"{_UIMA_NS}typeSystemDescription":
        raise TypeSystemError(
            f"[E103] {str(path)!r} is not a UIMA type system descriptor (root element "
            f"<{etree.QName(root).localname}>, expected <typeSystemDescription>). Pass a cTAKES TypeSystem.xml."
        )
    return root


def _descriptor_with_imports(path: Path, seen: set[Path]) -> etree._Element:
    """The descriptor at ``path`` with the types of its ``<import location=...>`` descriptors copied in."""
    seen.add(path)
    root = _read_descriptor(path)
    types = root.find(f"{_UIMA_NS}types")
    if types is None:
        types = etree.SubElement(root, f"{_UIMA_NS}types")
    for imported in root.iterfind(f"{_UIMA_NS}imports/{_UIMA_NS}import"):
        location = imported.get("location")
        if location is None:
            logger.warning(
                "[E113] %s imports %r by name, which is not followed: use <import location=...> instead",
                path,
                imported.get("name"),
            )
            continue
        target = (path.parent / location).resolve()
        if target not in seen:
            types.extend(_descriptor_with_imports(target, seen).iterfind(f"{_UIMA_NS}types/{_UIMA_NS}typeDescription"))
    return root


def _parse(data: bytes, source: str) -> TypeSystem:
    """Parse descriptor bytes with cassis, quieting its duplicate-feature warnings."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_DUPLICATE_WARNING)
            return cassis_load_typesystem(data.decode("utf-8"))
    except KeyError as err:
        raise TypeSystemError(
            f"[E103] type system descriptor {source!r} is invalid: type {err} is used but not declared. "
            "Add the descriptor that declares it as <import location=...>."
        ) from err
    except (ValueError, TypeError, UnicodeDecodeError, etree.XMLSyntaxError) as err:
        raise TypeSystemError(f"[E103] type system descriptor {source!r} is invalid: {err}") from err


# ---------------------------------------------------------------------------------------------------------------
# Definitions of every bundled cTAKES release, and extending a type system with types and features an XMI uses.


@dataclass(frozen=True)
class FeatureDef:
    """A feature as a descriptor declares it."""

    name: str
    range_type: str
    element_type: str | None = None
    multiple_references_allowed: bool | None = None
    description: str | None = None


@dataclass(frozen=True)
class TypeDef:
    """A type as a descriptor declares it; ``features`` excludes inherited ones."""

    name: str
    supertype: str
    description: str | None = None
    features: tuple[FeatureDef, ...] = ()

    def get_feature(self, name: str) -> FeatureDef | None:
        """The feature called ``name`` declared on this type, if any."""
        return next((f for f in self.features if f.name == name), None)


@functools.lru_cache(maxsize=1)
def ctakes_catalogue() -> Mapping[str, TypeDef]:
    """Every type any bundled cTAKES release declares, with the union of its features across releases.

    Where releases disagree, the newest wins (main, then 6.0.0, then 4.0.0).
    """
    merged: dict[str, TypeDef] = {}
    for name in reversed(list(_BUNDLED)):
        for type_def in _read_type_defs(typesystem_descriptor(name)):
            known = merged.get(type_def.name)
            if known is None:
                merged[type_def.name] = type_def
            else:
                names = {f.name for f in known.features}
                extra = tuple(f for f in type_def.features if f.name not in names)
                merged[type_def.name] = TypeDef(known.name, known.supertype, known.description, known.features + extra)
    return merged


def _read_type_defs(data: bytes) -> Iterable[TypeDef]:
    root = etree.fromstring(data)
    for elem in root.iter(f"{_UIMA_NS}typeDescription"):
        features: dict[str, FeatureDef] = {}
        for fd in elem.iterfind(f"{_UIMA_NS}features/{_UIMA_NS}featureDescription"):
            mra = fd.findtext(f"{_UIMA_NS}multipleReferencesAllowed")
            feature = FeatureDef(
                name=_text(fd, "name"),
                range_type=_text(fd, "rangeTypeName"),
                element_type=fd.findtext(f"{_UIMA_NS}elementType"),
                multiple_references_allowed=None if mra is None else mra.strip() == "true",
                description=fd.findtext(f"{_UIMA_NS}description"),
            )
            features[feature.name] = feature
        description = elem.findtext(f"{_UIMA_NS}description")
        yield TypeDef(_text(elem, "name"), _text(elem, "supertypeName"), description, tuple(features.values()))


def _text(elem: etree._Element, tag: str) -> str:
    return (elem.findtext(f"{_UIMA_NS}{tag}") or "").strip()


_EXTENDED: OrderedDict[tuple[int, tuple[TypeDef, ...]], tuple[TypeSystem, TypeSystem]] = OrderedDict()
_EXTENDED_MAX = 32
_EXTENDED_LOCK = threading.Lock()


def extend_typesystem(base: TypeSystem, additions: Iterable[TypeDef]) -> TypeSystem:
    """A copy of ``base`` with the given types and features added; ``base`` itself is not changed.

    Each addition names a type; if ``base`` has it, only its missing features are added, otherwise the type is
    created under its supertype (which must exist in ``base`` or come earlier in ``additions``). All types are
    created before any feature, so features may range over any added type. Results are cached per base and
    additions: a corpus written by one pipeline needs the same additions for every note.

    Raises:
        TypeSystemError: an addition conflicts with ``base`` (say a feature redefined with another range).
    """
    additions = tuple(additions)
    key = (id(base), additions)
    with _EXTENDED_LOCK:
        cached = _EXTENDED.get(key)
        if cached is not None and cached[0] is base:
            _EXTENDED.move_to_end(key)
            return cached[1]
    extended = _copy(base)
    current = ""
    try:
        with warnings.catch_warnings():
            # cassis renames features called ``self`` / ``type`` (Python names) and warns; its XMI reader maps them
            warnings.filterwarnings("ignore", message=r".*reserved name in Python.*")
            for type_def in additions:
                current = type_def.name
                if not extended.contains_type(type_def.name):
                    extended.create_type(type_def.name, type_def.supertype, type_def.description)
            for type_def in additions:
                current = type_def.name
                _add_features(extended, type_def)
    except (ValueError, KeyError, TypeNotFoundError) as err:
        raise TypeSystemError(
            f"[E104] cannot add type {current!r} to type system {typesystem_label(base)!r}: {err}"
        ) from err
    _LABELS[extended] = f"{typesystem_label(base)} + types from the input"
    with _EXTENDED_LOCK:
        _EXTENDED[key] = (base, extended)
        if len(_EXTENDED) > _EXTENDED_MAX:
            _EXTENDED.popitem(last=False)
    return extended


def _add_features(ts: TypeSystem, type_def: TypeDef) -> None:
    target = ts.get_type(type_def.name)
    present = {f.name for f in target.all_features}
    for feature in type_def.features:
        if feature.name in present or f"{feature.name}_" in present:
            continue
        ts.create_feature(
            target,
            feature.name,
            feature.range_type,
            elementType=feature.element_type,
            description=feature.description,
            multipleReferencesAllowed=feature.multiple_references_allowed,
        )


def _copy(base: TypeSystem) -> TypeSystem:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_DUPLICATE_WARNING)
        xml = base.to_xml()
        assert xml is not None  # to_xml returns the text when no path is given
        return cassis_load_typesystem(xml)
