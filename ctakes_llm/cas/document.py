"""Document-level feature structures every cTAKES CAS carries: ``uima.tcas.DocumentAnnotation`` and ``DocumentID``.

Both are only ever added when missing; what an upstream pipeline already set is left as it is.
"""

from __future__ import annotations

from cassis import Cas
from cassis.typesystem import FeatureStructure

from ctakes_llm.cas.ctakes_types import DOCUMENT_ANNOTATION, DOCUMENT_ID, F_DOCUMENT_ID

# UIMA's default document language ("unspecified"), as cTAKES writes it.
UNSPECIFIED_LANGUAGE = "x-unspecified"
# The sofa MIME type cTAKES's readers set (``JCas.setDocumentText``).
CTAKES_TEXT_MIME = "text"


def ensure_document_annotation(cas: Cas) -> FeatureStructure:
    """Return the initial view's ``DocumentAnnotation``, adding one over the whole text if there is none.

    Java UIMA creates this annotation on demand; cTAKES consumers and the cTAKES REST client expect it in the XMI.
    """
    view = cas.get_view("_InitialView")
    existing = view.select(DOCUMENT_ANNOTATION)
    if existing:
        return existing[0]
    text = view.sofa_string or ""
    annotation = cas.typesystem.get_type(DOCUMENT_ANNOTATION)(begin=0, end=len(text), language=UNSPECIFIED_LANGUAGE)
    view.add(annotation)
    return annotation


def ensure_document_id(cas: Cas, document_id: str) -> FeatureStructure:
    """Return the CAS's cTAKES ``DocumentID``, adding one with ``document_id`` if there is none (never replaced)."""
    view = cas.get_view("_InitialView")
    existing = view.select(DOCUMENT_ID)
    if existing:
        return existing[0]
    fs = cas.typesystem.get_type(DOCUMENT_ID)(**{F_DOCUMENT_ID: document_id})
    view.add(fs)
    return fs


def document_id(cas: Cas) -> str | None:
    """The cTAKES ``DocumentID`` of the CAS, or ``None`` when it has none."""
    found = cas.get_view("_InitialView").select(DOCUMENT_ID)
    return found[0].get(F_DOCUMENT_ID) if found else None
