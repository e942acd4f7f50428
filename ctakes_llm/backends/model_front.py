"""What a token classifier's backend reads besides the weights: the tokenizer, the special tokens, the labels.

Why a module of its own: importing transformers, and torch under it, took 2.8 s and 215 MB here, nearly three
quarters of a start-up whose OpenVINO model is already cached. So the first run reads these facts through transformers
(``AutoTokenizer``, ``AutoConfig``) and keeps them as one JSON file in the cache; later runs read that file with the
``tokenizers`` library alone. The file holds the fast tokenizer exactly as transformers configured it (serialized
by ``tokenizers``), so a cached run tokenizes as the first one did. Its name hashes the model folder's non-weight
files and the transformers and tokenizers versions: an edited tokenizer or ``config.json``, or an upgrade, makes
a new entry. The cache is ``<cache root>/fronts`` (:func:`ctakes_llm.backends.model_source.cache_root`). An
unreadable entry is rebuilt; an unwritable cache costs the transformers import on every run, nothing else.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from ctakes_llm.backends.model_source import WEIGHT_SUFFIXES, cache_root
from ctakes_llm.cas.atomic import atomic_write
from ctakes_llm.errors import ModelLoadError, OutputError

logger = logging.getLogger(__name__)

#: Names the JSON layout in the cache key: change it whenever the layout changes.
_LAYOUT = "front1"


@dataclass(frozen=True)
class ModelFront:
    """A token classifier without its weights.

    Attributes:
        tokenizer: The fast (``tokenizers``) tokenizer, set to neither truncate nor pad.
        prefix: Special token ids before one sequence (``[CLS]``).
        suffix: Special token ids after it (``[SEP]``).
        pad_id: The padding token id (0 when the tokenizer names none).
        id2label: ``config.json``'s labels by id.
        max_positions: ``max_position_embeddings``, when the config has it.
    """

    tokenizer: Any
    prefix: tuple[int, ...]
    suffix: tuple[int, ...]
    pad_id: int
    id2label: dict[int, str]
    max_positions: int | None


def load_front(source: str, offline: bool, cache_dir: Path | None = None) -> ModelFront:
    """The front of the model in ``source``: from the cache, or read through transformers and then cached.

    Args:
        source: A resolved model directory (a hub id when online is read through transformers, uncached).
        offline: Passed to transformers' ``from_pretrained`` (``local_files_only``).
        cache_dir: Where fronts are kept; None means ``<cache root>/fronts``.

    Raises:
        ModelLoadError: transformers cannot load the tokenizer or config, or the tokenizer is not a fast one.
    """
    try:
        key = _front_key(Path(source))
    except OSError as err:  # a file transformers may never read, unreadable: no cache, no failure
        logger.warning("model front not cached (%s): reading %s through transformers", err, source)
        key = None
    if key is None:
        return _read_with_transformers(source, offline)
    path = (cache_dir or cache_root() / "fronts") / f"{key}.json"
    if path.is_file():
        try:
            return _from_json(path.read_text(encoding="utf-8"))
        except Exception as err:  # tokenizers raises a bare Exception on a JSON it cannot read
            logger.warning("cached model front %s is unreadable (%s): reading %s again", path, err, source)
    front = _read_with_transformers(source, offline)
    try:
        atomic_write(path, _to_json(front))
    except (OSError, OutputError) as err:
        logger.warning("model front not cached (%s): the next run reads %s through transformers again", err, source)
    return front


def _front_key(folder: Path) -> str | None:
    """A hash of the folder's top-level non-weight files (names and bytes) and of the library versions that read
    them; None for a source that is not a folder."""
    if not folder.is_dir():
        return None
    digest = hashlib.sha256(_LAYOUT.encode())
    for package in ("transformers", "tokenizers"):
        digest.update(f"\0{package}={metadata.version(package)}".encode())
    for child in sorted(folder.iterdir(), key=lambda child: child.name):
        if child.is_file() and child.suffix not in WEIGHT_SUFFIXES:
            digest.update(f"\0{child.name}\0{child.stat().st_size}\0".encode())
            digest.update(child.read_bytes())
    return digest.hexdigest()[:32]


def _read_with_transformers(source: str, offline: bool) -> ModelFront:
    tokenizer = _load_tokenizer(source, offline)
    config = _load_config(source, offline)
    backend = tokenizer.backend_tokenizer
    prefix, suffix = _special_tokens(backend)
    return ModelFront(
        tokenizer=backend,
        prefix=prefix,
        suffix=suffix,
        pad_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
        id2label={int(index): str(label) for index, label in config.id2label.items()},
        max_positions=getattr(config, "max_position_embeddings", None),
    )


def _load_tokenizer(source: str, offline: bool) -> Any:
    """The model's fast tokenizer, set to neither truncate nor pad (the backend windows and pads itself)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=offline)
    except (OSError, ValueError, KeyError) as err:
        raise ModelLoadError(cannot_load(source, err)) from err
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(
            f"[E226] The tokenizer of {source} is not a fast (Rust) tokenizer, so it gives no offset mapping. "
            "Save the model with a tokenizer.json."
        )
    backend = tokenizer.backend_tokenizer
    backend.no_truncation()
    backend.no_padding()
    return tokenizer


def _load_config(source: str, offline: bool) -> Any:
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source, local_files_only=offline)
    except (OSError, ValueError, KeyError) as err:
        raise ModelLoadError(cannot_load(source, err)) from err


def cannot_load(source: str, err: Exception) -> str:
    """The message of a model folder that transformers cannot load."""
    return (
        f"[E225] Cannot load a token-classification model and tokenizer from {source}: {err}. Pass a directory "
        "saved with save_pretrained from an AutoModelForTokenClassification and its fast tokenizer."
    )


def _special_tokens(tokenizer: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The special token ids the tokenizer puts before and after a single sequence (``[CLS]``, ``[SEP]``)."""
    probe = tokenizer.encode("a", add_special_tokens=True)
    content = [index for index, special in enumerate(probe.special_tokens_mask) if not special]
    return tuple(probe.ids[: content[0]]), tuple(probe.ids[content[-1] + 1 :])


def _to_json(front: ModelFront) -> str:
    return json.dumps(
        {
            "tokenizer": front.tokenizer.to_str(),
            "prefix": front.prefix,
            "suffix": front.suffix,
            "pad_id": front.pad_id,
            "id2label": {str(index): label for index, label in front.id2label.items()},
            "max_positions": front.max_positions,
        }
    )


def _from_json(text: str) -> ModelFront:
    from tokenizers import Tokenizer

    data = json.loads(text)
    return ModelFront(
        tokenizer=Tokenizer.from_str(data["tokenizer"]),
        prefix=tuple(int(i) for i in data["prefix"]),
        suffix=tuple(int(i) for i in data["suffix"]),
        pad_id=int(data["pad_id"]),
        id2label={int(index): str(label) for index, label in data["id2label"].items()},
        max_positions=None if data["max_positions"] is None else int(data["max_positions"]),
    )
