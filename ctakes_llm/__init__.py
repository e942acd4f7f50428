"""ctakes-llm: language-model clinical NER that writes cTAKES-typed UIMA CAS output.

The public API is what ``__all__`` lists; everything else may change between releases.
"""

from ctakes_llm.cas.mentions import read_mentions, write_mentions
from ctakes_llm.cas.readers import cas_from_text, read_document
from ctakes_llm.cas.typesystem import load_typesystem
from ctakes_llm.cas.xmi import read_xmi, write_xmi
from ctakes_llm.errors import CtakesLlmError
from ctakes_llm.factories import build_pipeline, default_steps, load_pipeline
from ctakes_llm.ner.mention import Concept, Grounding, Mention, MentionClass
from ctakes_llm.pipeline import Pipeline
from ctakes_llm.runner import RunConfig, RunReport, run_corpus
from ctakes_llm.version import __version__

__all__ = [
    "Concept",
    "CtakesLlmError",
    "Grounding",
    "Mention",
    "MentionClass",
    "Pipeline",
    "RunConfig",
    "RunReport",
    "__version__",
    "build_pipeline",
    "cas_from_text",
    "default_steps",
    "load_pipeline",
    "load_typesystem",
    "read_document",
    "read_mentions",
    "read_xmi",
    "run_corpus",
    "write_mentions",
    "write_xmi",
]
