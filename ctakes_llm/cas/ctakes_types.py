"""cTAKES type and feature names, in one place.

Everything we write uses types and features that exist in cTAKES 4.0.0, so every cTAKES version (4.x-7.x) reads
our output non-leniently.
"""

from __future__ import annotations

from ctakes_llm.ner.mention import MentionClass

_TEXTSEM = "org.apache.ctakes.typesystem.type.textsem."
_SYNTAX = "org.apache.ctakes.typesystem.type.syntax."
_TEXTSPAN = "org.apache.ctakes.typesystem.type.textspan."
_REFSEM = "org.apache.ctakes.typesystem.type.refsem."

DOCUMENT_ANNOTATION = "uima.tcas.DocumentAnnotation"
DOCUMENT_ID = "org.apache.ctakes.typesystem.type.structured.DocumentID"

SEGMENT = _TEXTSPAN + "Segment"
SENTENCE = _TEXTSPAN + "Sentence"
BASE_TOKEN = _SYNTAX + "BaseToken"
WORD_TOKEN = _SYNTAX + "WordToken"
PUNCTUATION_TOKEN = _SYNTAX + "PunctuationToken"
NUM_TOKEN = _SYNTAX + "NumToken"
NEWLINE_TOKEN = _SYNTAX + "NewlineToken"
SYMBOL_TOKEN = _SYNTAX + "SymbolToken"
CONTRACTION_TOKEN = _SYNTAX + "ContractionToken"

IDENTIFIED_ANNOTATION = _TEXTSEM + "IdentifiedAnnotation"
MEDICATION_MENTION = _TEXTSEM + "MedicationMention"
DISEASE_DISORDER_MENTION = _TEXTSEM + "DiseaseDisorderMention"
SIGN_SYMPTOM_MENTION = _TEXTSEM + "SignSymptomMention"
PROCEDURE_MENTION = _TEXTSEM + "ProcedureMention"
ANATOMICAL_SITE_MENTION = _TEXTSEM + "AnatomicalSiteMention"
UMLS_CONCEPT = _REFSEM + "UmlsConcept"
ONTOLOGY_CONCEPT = _REFSEM + "OntologyConcept"

MENTION_TYPE_BY_CLASS: dict[MentionClass, str] = {
    MentionClass.MEDICATION: MEDICATION_MENTION,
    MentionClass.DISEASE_DISORDER: DISEASE_DISORDER_MENTION,
    MentionClass.SIGN_SYMPTOM: SIGN_SYMPTOM_MENTION,
    MentionClass.PROCEDURE: PROCEDURE_MENTION,
    MentionClass.ANATOMICAL_SITE: ANATOMICAL_SITE_MENTION,
}
CLASS_BY_MENTION_TYPE: dict[str, MentionClass] = {name: cls for cls, name in MENTION_TYPE_BY_CLASS.items()}

# IdentifiedAnnotation features
F_TYPE_ID = "typeID"
F_DISCOVERY_TECHNIQUE = "discoveryTechnique"
F_CONFIDENCE = "confidence"
F_POLARITY = "polarity"
F_UNCERTAINTY = "uncertainty"
F_CONDITIONAL = "conditional"
F_GENERIC = "generic"
F_SUBJECT = "subject"
F_HISTORY_OF = "historyOf"
F_ONTOLOGY_CONCEPT_ARR = "ontologyConceptArr"
F_SEGMENT_ID = "segmentID"
F_SENTENCE_ID = "sentenceID"

# UmlsConcept / OntologyConcept features
F_CUI = "cui"
F_TUI = "tui"
F_CODE = "code"
F_CODING_SCHEME = "codingScheme"
F_PREFERRED_TEXT = "preferredText"
F_SCORE = "score"

# Segment / Sentence / BaseToken features
F_SEGMENT_ID_NAME = "id"
F_SENTENCE_NUMBER = "sentenceNumber"
F_TOKEN_NUMBER = "tokenNumber"
F_CAPITALIZATION = "capitalization"  # WordToken
F_NUM_POSITION = "numPosition"  # WordToken
F_NUM_TYPE = "numType"  # NumToken
F_NORMALIZED_FORM = "normalizedForm"
F_DOCUMENT_ID = "documentID"

SIMPLE_SEGMENT = "SIMPLE_SEGMENT"

# cTAKES CONST.NE_DISCOVERY_TECH_*: 1 dictionary lookup, 2 gold annotation, 3 explicitly annotated.
# We use 1 for dictionary matches and 3 for model predictions (a model's mention is an explicit annotation).
DISCOVERY_DICTIONARY_LOOKUP = 1
DISCOVERY_EXPLICIT = 3
