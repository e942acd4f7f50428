"""The output formats, in one table: ``OUTPUT_FORMATS[name]`` renders a CAS and writes it atomically.

=============== ================== =====================================================================
name            files per document what it holds
=============== ================== =====================================================================
``xmi``         ``.xmi``           the whole CAS as UIMA XMI (every input annotation plus ours)
``ctakes-json`` ``.json``          the cTAKES REST summary JSON (``ctakesclient`` reads it)
``brat``        ``.txt`` ``.ann``  BRAT standoff: the text and the mentions
``jsonl``       one file per run   a JSON record per document, one per line (``single_file``)
=============== ================== =====================================================================

A format's files are named after the output *stem* plus the suffix (``out/note.txt`` → ``out/note.txt.xmi``), as
cTAKES names its outputs. Every file is rendered first, then written through :mod:`ctakes_llm.cas.atomic`, so a
failing document leaves no partial file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from cassis import Cas

from ctakes_llm.cas.atomic import atomic_write
from ctakes_llm.cas.brat_writer import cas_to_brat
from ctakes_llm.cas.ctakes_json import ctakes_json_bytes
from ctakes_llm.cas.jsonl import cas_to_record, record_to_line

Renderer = Callable[[Cas, str], tuple[bytes, ...]]


@dataclass(frozen=True)
class OutputFormat:
    """One output format.

    Attributes:
        name: The ``--format`` value.
        suffixes: One file suffix per file a document produces, in the order ``render`` returns them.
        description: One line for ``--help``.
        render: ``(cas, document_id) -> one bytes per suffix``.
        main: Index of the file :meth:`to_bytes` returns (what standard output receives).
        single_file: True for ``jsonl``: a corpus run writes one file and a line per document.
    """

    name: str
    suffixes: tuple[str, ...]
    description: str
    render: Renderer
    main: int = 0
    single_file: bool = False

    def for_run(self) -> OutputFormat:
        """This format for one corpus run: XMI keeps its writer's type plans from one document to the next."""
        if self.render is not _render_xmi:
            return self
        from ctakes_llm.cas.xmi import xmi_bytes
        from ctakes_llm.cas.xmi_writer import XmiPlans

        plans = XmiPlans()
        return replace(self, render=lambda cas, document_id: (xmi_bytes(cas, plans),))

    def paths(self, stem: Path) -> tuple[Path, ...]:
        """The files a document with output stem ``stem`` gets (``stem`` + each suffix)."""
        stem = Path(stem)
        return tuple(stem.with_name(stem.name + suffix) for suffix in self.suffixes)

    def to_bytes(self, cas: Cas, document_id: str) -> bytes:
        """The main file's content (for ``jsonl``: one line ending in a newline)."""
        return self.render(cas, document_id)[self.main]

    def write(self, cas: Cas, stem: Path) -> tuple[Path, ...]:
        """Render every file of a document, then write each atomically; the document id is the stem's name.

        Returns:
            The written paths.

        Raises:
            OutputError: a file cannot be written.
        """
        paths = self.paths(stem)
        for path, data in zip(paths, self.render(cas, Path(stem).name), strict=True):
            atomic_write(path, data)
        return paths


def _render_xmi(cas: Cas, document_id: str) -> tuple[bytes, ...]:
    from ctakes_llm.cas.xmi import xmi_bytes  # the XMI module pulls lxml and the type-system catalogue

    return (xmi_bytes(cas),)


def _render_ctakes_json(cas: Cas, document_id: str) -> tuple[bytes, ...]:
    return (ctakes_json_bytes(cas),)


def _render_brat(cas: Cas, document_id: str) -> tuple[bytes, ...]:
    return ((cas.sofa_string or "").encode("utf-8"), cas_to_brat(cas).encode("utf-8"))


def _render_jsonl(cas: Cas, document_id: str) -> tuple[bytes, ...]:
    return (record_to_line(cas_to_record(cas, document_id)).encode("utf-8"),)


OUTPUT_FORMATS: dict[str, OutputFormat] = {
    fmt.name: fmt
    for fmt in (
        OutputFormat("xmi", (".xmi",), "UIMA XMI with cTAKES 4.0.0 types; every input annotation kept", _render_xmi),
        OutputFormat(
            "ctakes-json", (".json",), "cTAKES REST summary JSON (ctakesclient reads it)", _render_ctakes_json
        ),
        OutputFormat("brat", (".txt", ".ann"), "BRAT standoff: text and mentions", _render_brat, main=1),
        OutputFormat("jsonl", (".jsonl",), "JSON Lines: one record per document", _render_jsonl, single_file=True),
    )
}
