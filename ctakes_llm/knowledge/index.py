"""One compact SQLite knowledge index: terms → concepts, semantic types, definitions, with exact, normalized and
fuzzy lookup. ``build_index`` makes it from cTAKES BSV dictionaries, UMLS RRF files and open vocabularies;
:class:`KnowledgeIndex` reads it for concept normalization, RAG hints and dictionary matching.

Tables (schema version :data:`SCHEMA_VERSION`):

* ``meta(key, value)``: schema version, build time, and one ``source:<name>`` JSON row per source (kind, origin,
  version, licence, term count).
* ``concepts(key, cui, preferred_text)``: ``key`` is the CUI, or ``SCHEME:CODE`` for a concept without one.
* ``semtypes(key, tui, name)``: semantic types (``tui`` is "" for a vocabulary's own type, such as HPO's).
* ``definitions(key, source, text)``.
* ``terms(id, key, text, lower, norm, code, scheme, source)``: every string; ``lower`` is the exact key,
  ``norm`` the normalized key (:mod:`ctakes_llm.knowledge.normalize`).
* ``norms(id, norm, n)`` and ``grams(gram, norm_id)``: trigram postings of the distinct normalized keys, for
  fuzzy lookup (left out when ``IndexBuildConfig.fuzzy`` is False).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from ctakes_llm.errors import ConfigError, KnowledgeError
from ctakes_llm.knowledge.bsv import read_bsv
from ctakes_llm.knowledge.normalize import dice, lower_key, normalize_term, trigrams
from ctakes_llm.knowledge.open_vocab import load_vocabulary
from ctakes_llm.knowledge.rrf import RrfConfig, find_rrf_files, read_mrconso, read_mrdef, read_mrsty
from ctakes_llm.knowledge.tui_groups import semantic_type
from ctakes_llm.ner.mention import Concept

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
#: Scores of the three lookup steps; a fuzzy hit scores ``FUZZY_WEIGHT`` times its trigram Dice similarity.
EXACT_SCORE, NORMALIZED_SCORE, FUZZY_WEIGHT = 1.0, 0.9, 0.8

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE concepts(key TEXT PRIMARY KEY, cui TEXT NOT NULL, preferred_text TEXT) WITHOUT ROWID;
CREATE TABLE semtypes(key TEXT NOT NULL, tui TEXT NOT NULL, name TEXT, PRIMARY KEY(key, tui)) WITHOUT ROWID;
CREATE TABLE definitions(key TEXT NOT NULL, source TEXT NOT NULL, text TEXT NOT NULL);
CREATE TABLE terms(id INTEGER PRIMARY KEY, key TEXT NOT NULL, text TEXT NOT NULL, lower TEXT NOT NULL,
                   norm TEXT NOT NULL, code TEXT, scheme TEXT, source TEXT NOT NULL,
                   UNIQUE(lower, key, scheme, code));
"""
_INDEXES = """
CREATE INDEX terms_norm ON terms(norm);
CREATE INDEX terms_key ON terms(key);
CREATE INDEX definitions_key ON definitions(key);
"""
_FUZZY = """
CREATE TABLE norms(id INTEGER PRIMARY KEY, norm TEXT NOT NULL UNIQUE, n INTEGER NOT NULL);
CREATE TABLE grams(gram TEXT NOT NULL, norm_id INTEGER NOT NULL, PRIMARY KEY(gram, norm_id)) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class IndexBuildConfig:
    """Options of ``build_index``.

    Attributes:
        rrf: Which Metathesaurus rows to keep.
        fuzzy: Build the trigram tables for fuzzy lookup (they roughly double the file size).
        min_term_chars: Shorter strings are left out (one-letter abbreviations match everywhere).
    """

    rrf: RrfConfig = field(default_factory=RrfConfig)
    fuzzy: bool = True
    min_term_chars: int = 2

    def __post_init__(self) -> None:
        if self.min_term_chars < 1:
            raise ConfigError(f"[E570] IndexBuildConfig.min_term_chars={self.min_term_chars} must be >= 1")


@dataclass(frozen=True)
class LookupConfig:
    """Options of ``KnowledgeIndex.lookup``.

    Attributes:
        fuzzy: Try trigram matching when exact and normalized lookup find nothing.
        min_similarity: Smallest trigram Dice similarity a fuzzy hit needs.
        max_concepts: Most concepts returned per lookup.
    """

    fuzzy: bool = True
    min_similarity: float = 0.75
    max_concepts: int = 5

    def __post_init__(self) -> None:
        if not 0.0 < self.min_similarity <= 1.0:
            raise ConfigError(f"[E571] LookupConfig.min_similarity={self.min_similarity} must be in (0, 1]")
        if self.max_concepts < 1:
            raise ConfigError(f"[E572] LookupConfig.max_concepts={self.max_concepts} must be >= 1")


@dataclass(frozen=True, slots=True)
class ConceptInfo:
    """What the index knows about one concept, for hints."""

    key: str
    cui: str
    preferred_text: str | None
    semantic_types: tuple[tuple[str, str], ...]  # (tui, name); tui "" for a vocabulary's own type
    definition: str | None


@dataclass
class _Source:
    name: str
    kind: str
    origin: str
    version: str = ""
    licence: str = ""
    terms: int = 0


def build_index(
    output: str | Path,
    *,
    bsv: Sequence[str | Path] = (),
    rrf: str | Path | None = None,
    vocabularies: Sequence[str] = (),
    config: IndexBuildConfig | None = None,
) -> dict[str, object]:
    """Build one SQLite knowledge index from any mix of sources.

    The file is written beside ``output`` under a temporary name and renamed onto it at the end (SQLite needs a
    path, so this mirrors ``cas.atomic.atomic_open``): a failed build never leaves a half-built index.

    Args:
        output: The index file to write (replaced if it exists).
        bsv: cTAKES BSV dictionary files.
        rrf: A UMLS release folder holding MRCONSO.RRF and MRSTY.RRF (optionally MRDEF.RRF).
        vocabularies: Open vocabulary names (:func:`ctakes_llm.knowledge.open_vocab.available_vocabularies`), each
            optionally ``NAME=PATH`` to read another release of its file (``hpo=hp.obo``).
        config: Build options.

    Returns:
        A summary: the output path, per-source counts and the total numbers of terms and concepts.

    Raises:
        KnowledgeError: no source was given, or a source cannot be read.
    """
    config = config or IndexBuildConfig()
    if not bsv and rrf is None and not vocabularies:
        raise KnowledgeError("[E573] nothing to index: give at least one BSV file, an RRF folder or a vocabulary")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=output.parent)
    os.close(fd)
    try:
        db = sqlite3.connect(tmp_name)
        try:
            sources = _fill(db, bsv, rrf, vocabularies, config)
            summary = _finish(db, sources, config)
        finally:
            db.close()
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, output)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    logger.info("knowledge index %s: %d terms, %d concepts", output, summary["terms"], summary["concepts"])
    return {"path": str(output), **summary}


def _fill(
    db: sqlite3.Connection,
    bsv: Sequence[str | Path],
    rrf: str | Path | None,
    vocabularies: Sequence[str],
    config: IndexBuildConfig,
) -> list[_Source]:
    db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
    sources: list[_Source] = []
    for path in bsv:
        source = _Source(name=f"bsv:{Path(path).stem}", kind="bsv", origin=str(path), licence="as the dictionary's")
        for entry in read_bsv(path):
            key = entry.cui
            _add_concept(db, key, entry.cui, entry.preferred_text or entry.text, preferred=False)
            if entry.tui:
                row = semantic_type(entry.tui)
                db.execute(
                    "INSERT OR IGNORE INTO semtypes VALUES (?, ?, ?)", (key, entry.tui, row.name if row else None)
                )
            source.terms += _add_term(db, key, entry.text, None, None, source.name, config)
        sources.append(source)
    if rrf is not None:
        files = find_rrf_files(rrf)
        source = _Source(
            name="umls",
            kind="rrf",
            origin=str(files.mrconso.parent),
            licence="UMLS Metathesaurus licence (the user's); see https://www.nlm.nih.gov/research/umls/",
        )
        for term in read_mrconso(files.mrconso, config.rrf):
            _add_concept(db, term.cui, term.cui, term.text, preferred=term.preferred)
            source.terms += _add_term(db, term.cui, term.text, term.code, term.sab, source.name, config)
        db.executemany(
            "INSERT OR IGNORE INTO semtypes SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM concepts WHERE key = ?)",
            ((cui, tui, name, cui) for cui, tui, name in read_mrsty(files.mrsty)),
        )
        if files.mrdef is not None:
            db.executemany(
                "INSERT INTO definitions SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM concepts WHERE key = ?)",
                ((cui, sab, text, cui) for cui, sab, text in read_mrdef(files.mrdef, config.rrf)),
            )
        sources.append(source)
    for spec in vocabularies:
        name, _, path = spec.partition("=")
        vocabulary = load_vocabulary(name, path or None)
        source = _Source(
            name=vocabulary.name,
            kind="open_vocabulary",
            origin=spec,
            version=vocabulary.version,
            licence=vocabulary.licence,
        )
        for item in vocabulary.terms:
            key = item.cui or f"{item.coding_scheme}:{item.code}"
            _add_concept(db, key, item.cui, item.preferred_text, preferred=False)
            db.execute("INSERT OR IGNORE INTO semtypes VALUES (?, '', ?)", (key, item.semantic_type))
            if item.definition:
                db.execute("INSERT INTO definitions VALUES (?, ?, ?)", (key, vocabulary.name, item.definition))
            source.terms += _add_term(db, key, item.text, item.code, item.coding_scheme, source.name, config)
        sources.append(source)
    return sources


def _add_concept(db: sqlite3.Connection, key: str, cui: str, text: str, *, preferred: bool) -> None:
    if preferred:
        db.execute(
            "INSERT INTO concepts VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
            "preferred_text = excluded.preferred_text",
            (key, cui, text),
        )
    else:
        db.execute("INSERT OR IGNORE INTO concepts VALUES (?, ?, ?)", (key, cui, text))


def _add_term(
    db: sqlite3.Connection,
    key: str,
    text: str,
    code: str | None,
    scheme: str | None,
    source: str,
    config: IndexBuildConfig,
) -> int:
    text = text.strip()
    if len(text) < config.min_term_chars:
        return 0
    cursor = db.execute(
        "INSERT OR IGNORE INTO terms(key, text, lower, norm, code, scheme, source) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (key, text, lower_key(text), normalize_term(text), code, scheme, source),
    )
    return cursor.rowcount


def _finish(db: sqlite3.Connection, sources: list[_Source], config: IndexBuildConfig) -> dict[str, object]:
    db.executescript(_INDEXES)
    if config.fuzzy:
        db.executescript(_FUZZY)
        norms = [row[0] for row in db.execute("SELECT DISTINCT norm FROM terms WHERE norm != ''")]
        for norm in norms:
            grams = trigrams(norm)
            norm_id = db.execute("INSERT INTO norms(norm, n) VALUES (?, ?)", (norm, len(grams))).lastrowid
            db.executemany("INSERT INTO grams VALUES (?, ?)", ((gram, norm_id) for gram in grams))
    meta = {
        "schema_version": str(SCHEMA_VERSION),
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "fuzzy": json.dumps(config.fuzzy),
    }
    for source in sources:
        meta[f"source:{source.name}"] = json.dumps(source.__dict__)
    db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
    db.commit()
    terms = db.execute("SELECT COUNT(*) FROM terms").fetchone()[0]
    concepts = db.execute("SELECT COUNT(*) FROM concepts").fetchone()[0]
    db.execute("VACUUM")
    return {"terms": terms, "concepts": concepts, "sources": {s.name: s.terms for s in sources}}


class KnowledgeIndex:
    """A read-only view of an index file made by :func:`build_index`.

    Args:
        path: The index file.
        config: Lookup options.

    Raises:
        KnowledgeError: the file is missing, is no knowledge index, or has another schema version.
    """

    def __init__(self, path: str | Path, config: LookupConfig | None = None) -> None:
        self.path = Path(path)
        self.config = config or LookupConfig()
        if not self.path.is_file():
            raise KnowledgeError(f"[E574] knowledge index {self.path} not found; build one with `ctakes-llm kb build`")
        self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        try:
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as err:
            self._db.close()
            raise KnowledgeError(
                f"[E575] {self.path} is not a ctakes-llm knowledge index ({err}); rebuild it with `ctakes-llm kb build`"
            ) from err
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            self._db.close()
            raise KnowledgeError(
                f"[E576] {self.path} has index schema {meta.get('schema_version')!r}, this "
                f"version reads {SCHEMA_VERSION}; rebuild it with `ctakes-llm kb build`"
            )
        self.metadata: dict[str, str] = meta
        self._fuzzy_built = json.loads(meta.get("fuzzy", "false"))

    def __enter__(self) -> KnowledgeIndex:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def sources(self) -> dict[str, dict[str, object]]:
        """Each source's kind, origin, version, licence and term count, as recorded at build time."""
        return {k.split(":", 1)[1]: json.loads(v) for k, v in self.metadata.items() if k.startswith("source:")}

    def lookup(self, text: str) -> list[Concept]:
        """Concepts for a mention text: exact (case-insensitive), else normalized, else fuzzy.

        Returns:
            One ``Concept`` per concept and semantic type, best first, from at most ``max_concepts`` concepts;
            ``score`` is 1.0 for exact, 0.9 for normalized and 0.8 times the trigram similarity for fuzzy hits.
        """
        rows = self._rows("lower = ?", lower_key(text))
        if rows:
            return self._concepts(rows, EXACT_SCORE)
        norm = normalize_term(text)
        if not norm:
            return []
        rows = self._rows("norm = ?", norm)
        if rows:
            return self._concepts(rows, NORMALIZED_SCORE)
        if not (self.config.fuzzy and self._fuzzy_built):
            return []
        found: list[Concept] = []
        for candidate, similarity in self._similar_norms(norm):
            found.extend(self._concepts(self._rows("norm = ?", candidate), FUZZY_WEIGHT * similarity))
        return _best(found, self.config.max_concepts)

    def describe(self, key: str) -> ConceptInfo | None:
        """What the index knows about a concept key (a CUI, or ``SCHEME:CODE``); None when unknown."""
        row = self._db.execute("SELECT cui, preferred_text FROM concepts WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        types = tuple(
            self._db.execute(
                "SELECT tui, COALESCE(name, tui) FROM semtypes WHERE key = ? ORDER BY tui = '', tui", (key,)
            ).fetchall()
        )
        definition = self._db.execute(
            "SELECT text FROM definitions WHERE key = ? ORDER BY rowid LIMIT 1", (key,)
        ).fetchone()
        return ConceptInfo(key, row[0], row[1], types, definition[0] if definition else None)

    def iter_terms(self) -> Iterator[tuple[str, str]]:
        """Every ``(text, key)`` pair, for building a dictionary matcher."""
        yield from self._db.execute("SELECT text, key FROM terms ORDER BY id")

    def _rows(self, where: str, value: str) -> list[tuple[str, str | None, str | None]]:
        return self._db.execute(f"SELECT key, code, scheme FROM terms WHERE {where} ORDER BY id", (value,)).fetchall()

    def _similar_norms(self, norm: str) -> list[tuple[str, float]]:
        grams = sorted(trigrams(norm))
        marks = ",".join("?" * len(grams))
        rows = self._db.execute(
            f"SELECT n.norm, n.n, COUNT(*) FROM grams g JOIN norms n ON n.id = g.norm_id WHERE g.gram IN ({marks}) "
            "GROUP BY g.norm_id HAVING 2.0 * COUNT(*) / (? + n.n) >= ? ORDER BY 2.0 * COUNT(*) / (? + n.n) DESC "
            "LIMIT ?",
            (*grams, len(grams), self.config.min_similarity, len(grams), self.config.max_concepts),
        ).fetchall()
        query = frozenset(grams)
        return [(candidate, dice(query, trigrams(candidate))) for candidate, _, _ in rows]

    def _concepts(self, rows: Iterable[tuple[str, str | None, str | None]], score: float) -> list[Concept]:
        seen: dict[str, tuple[str | None, str | None]] = {}
        for key, code, scheme in rows:
            seen.setdefault(key, (code, scheme))
        found: list[Concept] = []
        for key, (code, scheme) in list(seen.items())[: self.config.max_concepts]:
            info = self.describe(key)
            if info is None:
                continue
            tuis: list[str | None] = [tui for tui, _ in info.semantic_types if tui] or [None]
            found.extend(
                Concept(
                    cui=info.cui,
                    tui=tui,
                    code=code,
                    coding_scheme=scheme,
                    preferred_text=info.preferred_text,
                    score=round(score, 4),
                )
                for tui in tuis
            )
        return found


def _best(concepts: list[Concept], max_concepts: int) -> list[Concept]:
    """Highest score first, at most ``max_concepts`` distinct concepts."""
    ranked = sorted(concepts, key=lambda c: -(c.score or 0.0))
    keep: list[Concept] = []
    keys: set[tuple[str, str | None, str | None]] = set()
    for concept in ranked:
        key = (concept.cui, concept.coding_scheme, concept.code)
        if key not in keys and len(keys) >= max_concepts:
            continue
        keys.add(key)
        keep.append(concept)
    return keep
