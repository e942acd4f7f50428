"""ctakes-llm: language-model clinical NER that writes cTAKES-typed UIMA CAS output."""

from ctakes_llm.errors import CtakesLlmError
from ctakes_llm.ner.mention import Concept, Grounding, Mention, MentionClass

__version__ = "0.1.0"

__all__ = ["Concept", "CtakesLlmError", "Grounding", "Mention", "MentionClass", "__version__"]
