"""UIMA's own XML namespaces and built-in type names, shared by the XMI reader, writer and scanner."""

from __future__ import annotations

XMI_NS = "http://www.omg.org/XMI"
CAS_NS = "http:///uima/cas.ecore"

ANNOTATION = "uima.tcas.Annotation"
FS_ARRAY = "uima.cas.FSArray"
FS_LIST = "uima.cas.FSList"
STRING_ARRAY = "uima.cas.StringArray"
STRING_LIST = "uima.cas.StringList"
FLOATS = frozenset({"uima.cas.Float", "uima.cas.Double"})
