"""Read UMLS Metathesaurus RRF files: MRCONSO (terms), MRSTY (semantic types), MRDEF (definitions).

RRF is pipe-separated with a trailing pipe, UTF-8, one row per line. Only the columns we need are read:

* MRCONSO: ``CUI|LAT|TS|LUI|STT|SUI|ISPREF|AUI|SAUI|SCUI|SDUI|SAB|TTY|CODE|STR|SRL|SUPPRESS|CVF``
* MRSTY: ``CUI|TUI|STN|STY|ATUI|CVF``
* MRDEF: ``CUI|AUI|ATUI|SATUI|SAB|DEF|SUPPRESS|CVF``

The files come with a UMLS licence, which the user holds; nothing here ships or downloads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ctakes_llm.errors import ConfigError, KnowledgeError

#: SUPPRESS values left out unless ``keep_suppressed``: obsolete (O), suppressed by editors (E) or source (Y).
SUPPRESSED = frozenset({"O", "E", "Y"})


@dataclass(frozen=True)
class RrfConfig:
    """Which rows of the Metathesaurus go into an index.

    Attributes:
        languages: MRCONSO ``LAT`` values kept (``ENG``).
        sources: MRCONSO ``SAB`` values kept (``SNOMEDCT_US``, ``RXNORM``...); None keeps every source.
        keep_suppressed: Keep obsolete and suppressible terms.
        max_term_chars: Longer strings are left out (they are never found verbatim in notes).
    """

    languages: tuple[str, ...] = ("ENG",)
    sources: tuple[str, ...] | None = None
    keep_suppressed: bool = False
    max_term_chars: int = 120

    def __post_init__(self) -> None:
        if not self.languages:
            raise ConfigError("[E560] RrfConfig.languages is empty: give at least one MRCONSO LAT value, e.g. ENG")
        if self.max_term_chars < 1:
            raise ConfigError(f"[E561] RrfConfig.max_term_chars={self.max_term_chars} must be >= 1")


@dataclass(frozen=True, slots=True)
class RrfTerm:
    """One MRCONSO row: a string for a concept in one source vocabulary."""

    cui: str
    text: str
    sab: str
    code: str
    tty: str
    preferred: bool  # TS=P, STT=PF and ISPREF=Y: the concept's preferred name in this language


@dataclass(frozen=True, slots=True)
class RrfFiles:
    """The RRF files of one Metathesaurus release."""

    mrconso: Path
    mrsty: Path
    mrdef: Path | None


def find_rrf_files(folder: str | Path) -> RrfFiles:
    """Locate MRCONSO.RRF, MRSTY.RRF and (optional) MRDEF.RRF in ``folder`` or its ``META`` subfolder.

    Raises:
        KnowledgeError: MRCONSO.RRF or MRSTY.RRF is missing.
    """
    root = Path(folder)
    for candidate in (root, root / "META"):
        conso, sty = candidate / "MRCONSO.RRF", candidate / "MRSTY.RRF"
        if conso.is_file() and sty.is_file():
            mrdef = candidate / "MRDEF.RRF"
            return RrfFiles(conso, sty, mrdef if mrdef.is_file() else None)
    raise KnowledgeError(
        f"[E562] no MRCONSO.RRF and MRSTY.RRF in {root} or {root / 'META'}; point --rrf to the folder of a "
        "UMLS Metathesaurus release (the one holding the META files)"
    )


def read_mrconso(path: str | Path, config: RrfConfig | None = None) -> Iterator[RrfTerm]:
    """The MRCONSO rows ``config`` keeps.

    Raises:
        KnowledgeError: the file cannot be read or a row has too few columns.
    """
    config = config or RrfConfig()
    languages, sources = frozenset(config.languages), frozenset(config.sources or ())
    for line_no, row in _rows(path, 15):
        if row[1] not in languages or (sources and row[11] not in sources):
            continue
        suppress = row[16] if len(row) > 16 else ""
        if not config.keep_suppressed and suppress in SUPPRESSED:
            continue
        text = row[14].strip()
        if not text or len(text) > config.max_term_chars:
            continue
        if not row[0]:
            raise KnowledgeError(f"[E563] {path} line {line_no}: empty CUI; the file is not a MRCONSO.RRF")
        preferred = row[2] == "P" and row[4] == "PF" and row[6] == "Y"
        yield RrfTerm(cui=row[0], text=text, sab=row[11], code=row[13], tty=row[12], preferred=preferred)


def read_mrsty(path: str | Path) -> Iterator[tuple[str, str, str]]:
    """``(cui, tui, semantic type name)`` for every MRSTY row.

    Raises:
        KnowledgeError: the file cannot be read or a row has too few columns.
    """
    for _, row in _rows(path, 4):
        yield row[0], row[1], row[3]


def read_mrdef(path: str | Path, config: RrfConfig | None = None) -> Iterator[tuple[str, str, str]]:
    """``(cui, sab, definition)`` for the MRDEF rows of the kept sources that are not suppressed.

    Raises:
        KnowledgeError: the file cannot be read or a row has too few columns.
    """
    config = config or RrfConfig()
    sources = frozenset(config.sources or ())
    for _, row in _rows(path, 6):
        if sources and row[4] not in sources:
            continue
        if not config.keep_suppressed and len(row) > 6 and row[6] in SUPPRESSED:
            continue
        if row[5].strip():
            yield row[0], row[4], row[5].strip()


def _rows(path: str | Path, min_columns: int) -> Iterator[tuple[int, list[str]]]:
    try:
        with open(path, encoding="utf-8") as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                row = line.rstrip("\r\n").split("|")
                if len(row) < min_columns:
                    raise KnowledgeError(
                        f"[E564] {path} line {line_no}: {len(row)} columns, expected at least {min_columns}; "
                        "is this the right RRF file (pipe-separated, as the UMLS release ships it)?"
                    )
                yield line_no, row
    except OSError as err:
        raise KnowledgeError(f"[E565] cannot read {path}: {err.strerror}; check the --rrf folder") from err
    except UnicodeDecodeError as err:
        raise KnowledgeError(
            f"[E566] {path} is not UTF-8 ({err}); use the RRF files as the UMLS release ships them"
        ) from err
