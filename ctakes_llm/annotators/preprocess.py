"""The preprocessing annotator: cTAKES-shaped Segment, Sentence and token annotations when a CAS lacks them.

What it adds looks like the output of cTAKES's ``SimpleSegmentAnnotator``, ``SentenceDetector`` and
``TokenizerAnnotatorPTB``: one ``Segment`` with id ``SIMPLE_SEGMENT`` over the document; ``Sentence``s with a 0-based
``sentenceNumber``; ``WordToken`` (with ``capitalization`` and ``numPosition``), ``NumToken`` (with ``numType``),
``PunctuationToken``, ``SymbolToken``, ``NewlineToken`` and ``ContractionToken``, each with a 0-based
``tokenNumber`` counted over the document. Part-of-speech tags are left unset, as cTAKES leaves them before its
POS tagger runs.

A CAS that an upstream cTAKES pipeline already segmented keeps what it has: each of the three layers is added only
when the CAS holds none of it, and new sentences and tokens follow the segments and sentences already there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

from cassis import Cas

from ctakes_llm.cas.ctakes_types import (
    BASE_TOKEN,
    CONTRACTION_TOKEN,
    F_CAPITALIZATION,
    F_NUM_POSITION,
    F_NUM_TYPE,
    F_PREFERRED_TEXT,
    F_SEGMENT_ID_NAME,
    F_SENTENCE_NUMBER,
    F_TOKEN_NUMBER,
    NEWLINE_TOKEN,
    NUM_TOKEN,
    PUNCTUATION_TOKEN,
    SEGMENT,
    SENTENCE,
    SIMPLE_SEGMENT,
    SYMBOL_TOKEN,
    WORD_TOKEN,
)
from ctakes_llm.ner.sentences import split_sentences
from ctakes_llm.ner.tokens import TokenKind, capitalization, num_position, num_type, token_spans

logger = logging.getLogger(__name__)

_TYPE_BY_KIND = {
    TokenKind.WORD: WORD_TOKEN,
    TokenKind.PUNCT: PUNCTUATION_TOKEN,
    TokenKind.NUM: NUM_TOKEN,
    TokenKind.NEWLINE: NEWLINE_TOKEN,
    TokenKind.SYMBOL: SYMBOL_TOKEN,
    TokenKind.CONTRACTION: CONTRACTION_TOKEN,
}


@dataclass(frozen=True)
class PreprocessConfig:
    """Options of the preprocessing step.

    Attributes:
        break_on_newline: end a sentence at every line break, as cTAKES's sentence detector does. Turn it off for
            hard-wrapped notes whose sentences run across lines.
    """

    break_on_newline: bool = True


class PreprocessAnnotator:
    """Adds cTAKES Segment, Sentence and BaseToken annotations to a CAS that has none of them."""

    requires: ClassVar[tuple[str, ...]] = ()
    produces: ClassVar[tuple[str, ...]] = (SEGMENT, SENTENCE, BASE_TOKEN)

    def __init__(self, config: PreprocessConfig | None = None) -> None:
        self.config = config or PreprocessConfig()

    def process(self, cas: Cas) -> None:
        """Add the missing layers; a layer the CAS already has is reused and nothing is added to it."""
        text = cas.sofa_string or ""
        segments = [(fs.begin, fs.end) for fs in cas.select(SEGMENT)]
        if not segments:
            segments = [(0, len(text))]
            cas.add(cas.typesystem.get_type(SEGMENT)(begin=0, end=len(text), **_simple_segment_features()))
        sentences = [(fs.begin, fs.end) for fs in cas.select(SENTENCE)]
        added_sentences = not sentences
        if added_sentences:
            sentences = self._add_sentences(cas, text, segments)
        if not cas.select(BASE_TOKEN):
            count = self._add_tokens(cas, text, sentences)
            logger.debug("added %d tokens over %d sentences", count, len(sentences))
        elif added_sentences:
            logger.debug("added %d sentences; kept the tokens already in the CAS", len(sentences))

    def _add_sentences(self, cas: Cas, text: str, segments: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Split each segment into sentences, add them numbered from 0, and return their spans."""
        sentence_type = cas.typesystem.get_type(SENTENCE)
        spans: list[tuple[int, int]] = []
        for segment_begin, segment_end in sorted(segments):
            part = text[segment_begin:segment_end]
            for begin, end in split_sentences(part, break_on_newline=self.config.break_on_newline):
                spans.append((segment_begin + begin, segment_begin + end))
        for number, (begin, end) in enumerate(spans):
            cas.add(sentence_type(begin=begin, end=end, **{F_SENTENCE_NUMBER: number}))
        return spans

    @staticmethod
    def _add_tokens(cas: Cas, text: str, sentences: list[tuple[int, int]]) -> int:
        """Tokenize sentence by sentence, add the tokens numbered from 0, and return how many.

        This runs for every token of every note, so types are looked up once and tokens stay plain tuples.
        """
        types = {kind: cas.typesystem.get_type(name) for kind, name in _TYPE_BY_KIND.items()}
        word_type, number_type = types[TokenKind.WORD], types[TokenKind.NUM]
        add = cas.add
        tokens = token_spans(text, sentences)
        for number, (begin, end, kind) in enumerate(tokens):
            if kind is TokenKind.WORD:
                word = text[begin:end]
                features = {
                    F_TOKEN_NUMBER: number,
                    F_CAPITALIZATION: capitalization(word),
                    F_NUM_POSITION: num_position(word),
                }
                add(word_type(begin=begin, end=end, **features))
            elif kind is TokenKind.NUM:
                features = {F_TOKEN_NUMBER: number, F_NUM_TYPE: num_type(text[begin:end])}
                add(number_type(begin=begin, end=end, **features))
            else:
                add(types[kind](begin=begin, end=end, **{F_TOKEN_NUMBER: number}))
        return len(tokens)


def _simple_segment_features() -> dict[str, object]:
    """The features cTAKES's SimpleSegmentAnnotator sets on its one segment."""
    return {F_SEGMENT_ID_NAME: SIMPLE_SEGMENT, F_PREFERRED_TEXT: SIMPLE_SEGMENT}
