"""String normalization for term lookup: exact, normalized (a light LVG-style ``norm``) and trigram keys.

``normalize_term`` is close to the UMLS ``norm`` program in spirit: lower case, accents and punctuation removed,
a few stop words dropped, simple plurals made singular, words sorted. So "Pains, Chest" and "chest pain" share a
key. It has no lexicon, so it misses irregular inflections ("feet"); fuzzy matching catches some of those.
"""

from __future__ import annotations

import re
import unicodedata

#: Words that do not change which concept a term names.
STOP_WORDS = frozenset({"a", "an", "the", "of", "nos", "in", "on", "with", "to", "for", "by", "at", "or"})
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Lower case, accents removed, punctuation and runs of whitespace turned into one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return _NON_ALNUM.sub(" ", ascii_text).strip()


def lower_key(text: str) -> str:
    """The key of an exact (case- and whitespace-insensitive) match."""
    return " ".join(text.lower().split())


def singular(word: str) -> str:
    """A naive singular form: ``arteries`` → ``artery``, ``masses`` → ``mass``, ``nodules`` → ``nodule``."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def normalize_term(text: str) -> str:
    """The normalized key: folded words without stop words, made singular and sorted (empty for no words)."""
    words = [singular(w) for w in fold(text).split() if w not in STOP_WORDS]
    return " ".join(sorted(words))


def trigrams(key: str) -> frozenset[str]:
    """Character trigrams of ``key`` padded with spaces (``"mi"`` → ``{"  m", " mi", "mi "}``)."""
    padded = f"  {key} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def dice(a: frozenset[str], b: frozenset[str]) -> float:
    """Dice similarity of two trigram sets (1.0 for equal sets, 0.0 when either is empty)."""
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))
