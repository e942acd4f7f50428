"""The exceptions ctakes-llm raises on purpose.

Every message starts with a stable, searchable code and names the file, type or offset at fault, then the fix.
Codes: E1xx CAS / type systems / readers / writers, E2xx models and backends, E3xx chunking / grounding /
output parsing, E4xx configuration and CLI, E5xx knowledge and corpora, E6xx evaluation. Numbers are never reused.
"""

from __future__ import annotations


class CtakesLlmError(Exception):
    """Base of every error ctakes-llm raises on purpose."""


class TypeSystemError(CtakesLlmError):
    """A type system cannot be found, loaded or merged."""


class InputError(CtakesLlmError):
    """An input document cannot be read: malformed XMI, bad encoding, empty file."""


class OutputError(CtakesLlmError):
    """An output cannot be written."""


class ModelLoadError(CtakesLlmError):
    """A model or backend cannot be loaded or reached."""


class BackendError(CtakesLlmError):
    """A backend failed while predicting (server error, timeout after retries)."""


class GroundingError(CtakesLlmError):
    """Model output cannot be turned into spans of the text."""


class ConfigError(CtakesLlmError):
    """A configuration value or a combination of values is invalid."""


class KnowledgeError(CtakesLlmError):
    """A dictionary, vocabulary or knowledge index cannot be read or built."""


class CorpusError(CtakesLlmError):
    """A gold corpus file cannot be read."""


class DocumentErrors(CtakesLlmError):
    """Some documents of a batch failed; the others were annotated.

    ``failures`` maps each failed document's position in the batch to its one-line error message.
    """

    def __init__(self, failures: dict[int, str]) -> None:
        super().__init__("; ".join(f"document {index}: {message}" for index, message in sorted(failures.items())))
        self.failures = failures
