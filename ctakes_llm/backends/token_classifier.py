"""Token-classification backend: a Hugging Face encoder tags wordpieces with BIO labels over the five classes.

Each text is tokenized once with the fast tokenizer's offset mapping, then cut into windows of at most
``max_length`` wordpieces (special tokens included) that overlap by ``overlap`` wordpieces and end on sentence or
word boundaries where one is near. Nothing is truncated: every wordpiece of every text is in some window. Windows
of all texts in one call are sorted by length and batched, so little compute goes to padding. A wordpiece seen by
two windows takes the prediction of the window where it sits farthest from a cut edge; BIO decoding then runs
once over the whole text, so overlaps produce no duplicate mentions. A span that cuts a word is widened to the
whole word, then trimmed of edge white space and punctuation. Offsets come from the tokenizer, so every
mention's ``text`` is exactly ``note[begin:end]`` (grounding ``MODEL_OFFSETS``).

torch and transformers are imported when a backend needs them, never at module import. A backend whose
OpenVINO model and front (:mod:`ctakes_llm.backends.model_front`) are cached needs neither: its start-up is about
1 s instead of 3.3.
"""

from __future__ import annotations

import logging
import sys
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ctakes_llm.backends import openvino_runtime
from ctakes_llm.backends.model_front import cannot_load, load_front
from ctakes_llm.backends.model_source import default_model_dir, resolve_model, weights_sha256
from ctakes_llm.errors import ConfigError, ModelLoadError
from ctakes_llm.ner.bio import OUTSIDE, decode_bio, viterbi_tags
from ctakes_llm.ner.mention import Grounding, Mention, MentionClass

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

logger = logging.getLogger(__name__)

Dtype = Literal["auto", "float32", "bfloat16", "int8"]
Device = Literal["auto", "cpu", "cuda"]
Decoding = Literal["viterbi", "argmax"]
Runtime = Literal["auto", "torch", "openvino"]
_DECODINGS: tuple[str, ...] = ("viterbi", "argmax")
_RUNTIMES: tuple[str, ...] = ("auto", "torch", "openvino")
_DTYPES: tuple[str, ...] = ("auto", "float32", "bfloat16", "int8")
_DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")

#: How far back from the longest possible window a cut may move to land on a better boundary, as a share of
#: the window.
_BOUNDARY_SEARCH_SHARE = 4
#: Batch widths are rounded up to a multiple of this many wordpieces. OpenVINO compiles and keeps kernels for each
#: input shape it meets: on the ACI-bench notes this cut the distinct shapes from 48 to 15 and the int8 model's peak
#: memory from 902 to 658 MB, at the same speed.
_WIDTH_MULTIPLE = 16
_SENTENCE_END = frozenset(".!?;")
_CLOSING = {")": "(", "]": "[", "}": "{"}
_OPENING = {opening: closing for closing, opening in _CLOSING.items()}


@dataclass(frozen=True)
class TokenClassifierConfig:
    """How to load and run a token-classification model.

    Attributes:
        model: A model directory or hub id; None means the student shipped in the package.
        offline: Load only local files (``local_files_only``); a hub id must already be in the local cache.
        batch_size: Windows per forward pass.
        max_length: Wordpieces per window, special tokens included; at most the model's position limit.
        overlap: Wordpieces two neighbouring windows share; at most a quarter of ``max_length``. 16 costs 7% more
            model time than none on ACI-bench notes (32: 15%); on MACCROBAT test, strict F1 is 0.582 with 16 or 32
            and 0.566 with none.
        dtype: ``"float32"``, ``"bfloat16"``, ``"int8"`` (CPU only: on OpenVINO, NNCF's static quantization
            calibrated on shipped notes, the rest in bfloat16 where the CPU runs it fast; on torch, dynamic
            quantization of the linear layers, 2.4 points of strict F1 lost), or ``"auto"``: int8 on OpenVINO when
            nncf is installed, else bfloat16 where the hardware runs it fast (CUDA with bf16, or a CPU with AMX or
            AVX512-BF16), else float32.
        num_threads: CPU threads of the forward pass (OpenVINO's own; for torch, the process-wide
            ``torch.set_num_threads``); None leaves the runtime's default.
        device: ``"cpu"``, ``"cuda"``, or ``"auto"`` (CUDA when available).
        bucket_by_length: Sort windows by length before batching (less padding). Off only to measure its worth.
        snap_to_words: Widen a span that starts or ends inside a word (as the tokenizer's pre-tokenizer splits
            words: at white space and punctuation) to the whole word, so a mention never cuts a word in two.
        decoding: ``"viterbi"``: the most probable valid BIO sequence (mentions keep their boundaries where one
            wordpiece's best tag is off; +0.5 to +3 strict F1 on MACCROBAT test for the students shipped so far);
            ``"argmax"``: each wordpiece's best tag.
        runtime: ``"torch"``; ``"openvino"``: the forward pass compiled by OpenVINO for the CPU, in ``dtype``'s
            precision (see :mod:`ctakes_llm.backends.openvino_runtime`); or ``"auto"``: OpenVINO on the CPU when
            it is installed (and nncf too, for int8), falling back to torch with a warning if it cannot compile
            or quantize the model; else torch.
        calibration_text: A UTF-8 text file of notes like yours, paragraphs split by blank lines, that int8 on
            OpenVINO calibrates on instead of the shipped English clinical notes (a model of another domain or
            language); each text gets its own cached int8 model.
    """

    model: str | None = None
    offline: bool = True
    batch_size: int = 8
    max_length: int = 256
    overlap: int = 16
    dtype: Dtype = "auto"
    num_threads: int | None = None
    device: Device = "auto"
    bucket_by_length: bool = True
    snap_to_words: bool = True
    decoding: Decoding = "viterbi"
    runtime: Runtime = "auto"
    calibration_text: str | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"[E223] batch_size={self.batch_size} must be at least 1.")
        if self.max_length < 8:
            raise ConfigError(f"[E223] max_length={self.max_length} wordpieces is too short; use 8 or more.")
        if not 0 <= self.overlap <= self.max_length // 4:
            raise ConfigError(
                f"[E223] overlap={self.overlap} must be in [0, {self.max_length // 4}] (a quarter of max_length)."
            )
        if self.dtype not in _DTYPES:
            raise ConfigError(f"[E223] dtype={self.dtype!r} is not one of {', '.join(_DTYPES)}.")
        if self.device not in _DEVICES:
            raise ConfigError(f"[E223] device={self.device!r} is not one of {', '.join(_DEVICES)}.")
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"[E223] num_threads={self.num_threads} must be at least 1, or None.")
        if self.decoding not in _DECODINGS:
            raise ConfigError(f"[E223] decoding={self.decoding!r} is not one of {', '.join(_DECODINGS)}.")
        if self.dtype == "int8" and self.device == "cuda":
            raise ConfigError("[E223] dtype='int8' runs on the CPU only; use it with device='cpu'.")
        if self.runtime not in _RUNTIMES:
            raise ConfigError(f"[E223] runtime={self.runtime!r} is not one of {', '.join(_RUNTIMES)}.")
        if self.runtime == "openvino" and self.device == "cuda":
            raise ConfigError("[E223] runtime='openvino' runs on the CPU; device='cuda' needs runtime='torch'.")


@dataclass(frozen=True, slots=True)
class Window:
    """Wordpieces ``[start, end)`` of one text's tokenization, run through the model together."""

    text_index: int
    start: int
    end: int


def load(model: str | None, config: TokenClassifierConfig | Mapping[str, Any] | None = None) -> TokenClassifierBackend:
    """Registry entry point: build a token-classifier backend.

    Args:
        model: A model directory or hub id; overrides ``config.model``. None keeps ``config.model`` (and None
            there means the shipped default student).
        config: Run options, as a config or as a mapping of its field names (what pipeline files and the CLI
            pass, e.g. ``{"offline": True, "batch_size": 16}``); None means the defaults.

    Raises:
        ConfigError: ``config`` is neither, or names fields that TokenClassifierConfig lacks.
        ModelLoadError: the model cannot be found or loaded, or its labels are not BIO over the five classes.
    """
    if config is None:
        config = TokenClassifierConfig()
    elif isinstance(config, Mapping):
        known = {item.name for item in fields(TokenClassifierConfig)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ConfigError(
                f"[E229] The token backend has no option {', '.join(map(repr, unknown))}. "
                f"Its options are: {', '.join(sorted(known))}."
            )
        config = TokenClassifierConfig(**config)
    if not isinstance(config, TokenClassifierConfig):
        raise ConfigError(
            f"[E228] The token backend needs a TokenClassifierConfig or a mapping of its options, got "
            f"{type(config).__name__}. Build one with ctakes_llm.backends.token_classifier.TokenClassifierConfig."
        )
    if model is not None:
        config = replace(config, model=model)
    return TokenClassifierBackend(config)


class TokenClassifierBackend:
    """Finds mentions with an ``AutoModelForTokenClassification`` whose labels are BIO over the five classes."""

    name = "token"

    def __init__(self, config: TokenClassifierConfig) -> None:
        """Load the tokenizer and the model.

        Raises:
            ModelLoadError: see :func:`load`.
            ConfigError: ``device='cuda'`` without CUDA, or ``max_length`` beyond the model's positions.
        """
        self.config = config
        self.source = resolve_model(config.model or default_model_dir(), offline=config.offline)
        self.device = "cpu" if config.runtime == "openvino" else pick_device(config.device)
        self.runtime = _pick_runtime(config.runtime, self.device, config.dtype)
        self.dtype = _pick_dtype(config.dtype, self.device, self.runtime)
        self._weights_sha256: str | None = None
        self._int8_calibration: dict[str, str] | None = None
        front = load_front(self.source, config.offline)
        self._tokenizer = front.tokenizer
        self._prefix, self._suffix, self._pad_id = list(front.prefix), list(front.suffix), front.pad_id
        self._content_length = config.max_length - len(self._prefix) - len(self._suffix)
        if self.runtime == "openvino":
            self._model = self._load_openvino(config)
        else:
            self._model = _load_model(self.source, config.offline, self.dtype, self.device, config.num_threads)
        self._tags = _bio_tags(front.id2label, self.source)
        self._label_index = {tag: index for index, tag in enumerate(self._tags)}
        if front.max_positions is not None and config.max_length > front.max_positions:
            raise ConfigError(
                f"[E223] max_length={config.max_length} exceeds the {front.max_positions} positions of "
                f"{self.source}. Use max_length <= {front.max_positions}."
            )
        self.counters: dict[str, int] = {
            "texts": 0,
            "windows": 0,
            "multi_window_texts": 0,
            "trimmed_spans": 0,
            "word_snapped_spans": 0,
            "punctuation_only_spans": 0,
        }
        logger.info("loaded %s on %s as %s (%s)", self.source, self.device, self.dtype, self.runtime)
        if config.calibration_text is not None and (self.dtype, self.runtime) != ("int8", "openvino"):
            logger.warning(
                "calibration_text %s is unused: it calibrates int8 on OpenVINO, and this run is %s on %s",
                config.calibration_text,
                self.dtype,
                self.runtime,
            )

    def _load_openvino(self, config: TokenClassifierConfig) -> Any:
        """The OpenVINO-compiled model (int8 calibrated on the shipped notes or ``calibration_text``, windowed as
        this backend does); the torch weights load only when the cache lacks it. With ``runtime='auto'``, torch's
        model if OpenVINO or NNCF fails."""
        self._weights_sha256 = weights_sha256(self.source)
        calibration = None
        if self.dtype == "int8":
            calibration = self.model_inputs(openvino_runtime.calibration_texts(config.calibration_text))
        float_dtype = self.dtype if calibration is None else _cpu_float_dtype(self.runtime)
        try:
            forward = openvino_runtime.compile_token_classifier(
                lambda: _load_model(self.source, config.offline, "float32", self.device, None),
                self._weights_sha256,
                float_dtype,
                config.num_threads,
                calibration=calibration,
            )
        except ModelLoadError as err:
            if config.runtime != "auto":
                raise
            self.runtime = "torch"
            self.dtype = _pick_dtype(config.dtype, self.device, self.runtime)
            logger.warning("%s; running %s with torch in %s", err, self.source, self.dtype)
            return _load_model(self.source, config.offline, self.dtype, self.device, config.num_threads)
        self._int8_calibration = forward.int8_identity
        return forward

    def describe(self) -> dict[str, object]:
        """Backend identity for the run manifest: model, weights hash and run options."""
        if self._weights_sha256 is None:
            self._weights_sha256 = weights_sha256(self.source)
        return {
            "name": self.name,
            "model": self.source,
            "weights_sha256": self._weights_sha256,
            "dtype": self.dtype,
            "device": self.device,
            "max_length": self.config.max_length,
            "overlap": self.config.overlap,
            "batch_size": self.config.batch_size,
            "snap_to_words": self.config.snap_to_words,
            "decoding": self.config.decoding,
            "runtime": self.runtime,
            **({"int8_calibration": self._int8_calibration} if self._int8_calibration else {}),
        }

    def predict(self, texts: Sequence[str]) -> list[list[Mention]]:
        """Return the mentions of each text, in the order of ``texts``; offsets index into each text."""
        import numpy as np

        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        token_ids = [encoding.ids for encoding in encodings]
        offsets = [encoding.offsets for encoding in encodings]
        word_ids = [encoding.word_ids for encoding in encodings]
        windows = self._windows(texts, offsets)
        self.counters["texts"] += len(texts)
        self.counters["windows"] += len(windows)
        self.counters["multi_window_texts"] += len({window.text_index for window in windows if window.start > 0})

        best = [np.full(len(ids), -1, dtype=np.int64) for ids in token_ids]
        log_probs = [np.zeros((len(ids), len(self._tags)), dtype=np.float32) for ids in token_ids]
        for window, window_log_probs in self._run_windows(windows, token_ids):
            total = len(token_ids[window.text_index])
            centrality = _centrality(window, total)
            chosen = centrality > best[window.text_index][window.start : window.end]
            best[window.text_index][window.start : window.end][chosen] = centrality[chosen]
            log_probs[window.text_index][window.start : window.end][chosen] = window_log_probs[chosen]
        return [
            self._mentions(text, *per_text) for text, *per_text in zip(texts, offsets, word_ids, log_probs, strict=True)
        ]

    def model_inputs(self, texts: Sequence[str]) -> list[dict[str, npt.NDArray[np.int64]]]:
        """The input batches (``input_ids``, ``attention_mask``) that :meth:`predict` feeds the model for
        ``texts``, in the order it feeds them: what int8 calibrates on and what benchmarks replay."""
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        windows = self._windows(texts, [encoding.offsets for encoding in encodings])
        token_ids = [encoding.ids for encoding in encodings]
        return [
            {"input_ids": input_ids, "attention_mask": attention_mask}
            for _, input_ids, attention_mask in self._batches(windows, token_ids)
        ]

    def _windows(self, texts: Sequence[str], offsets: Sequence[Sequence[tuple[int, int]]]) -> list[Window]:
        windows: list[Window] = []
        for index, (text, text_offsets) in enumerate(zip(texts, offsets, strict=True)):
            spans = plan_windows(text, text_offsets, self._content_length, self.config.overlap)
            windows.extend(Window(index, start, end) for start, end in spans)
        return windows

    def _batches(
        self, windows: list[Window], token_ids: list[list[int]]
    ) -> Iterator[tuple[list[Window], npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
        """Windows in batches of ``batch_size``, length-sorted unless bucketing is off, as model inputs padded to a
        multiple of ``_WIDTH_MULTIPLE`` wordpieces (at most ``max_length``)."""
        import numpy as np

        order = sorted(windows, key=lambda w: w.end - w.start) if self.config.bucket_by_length else windows
        prefix, suffix = self._prefix, self._suffix
        for first in range(0, len(order), self.config.batch_size):
            batch = order[first : first + self.config.batch_size]
            width = max(w.end - w.start for w in batch) + len(prefix) + len(suffix)
            width = min(-(-width // _WIDTH_MULTIPLE) * _WIDTH_MULTIPLE, self.config.max_length)
            input_ids = np.full((len(batch), width), self._pad_id, dtype=np.int64)
            attention_mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, window in enumerate(batch):
                ids = prefix + token_ids[window.text_index][window.start : window.end] + suffix
                input_ids[row, : len(ids)] = ids
                attention_mask[row, : len(ids)] = 1
            yield batch, input_ids, attention_mask

    def _run_windows(
        self, windows: list[Window], token_ids: list[list[int]]
    ) -> Iterator[tuple[Window, npt.NDArray[np.float32]]]:
        """Run the model over all windows in batches; yield each window's label log-probabilities per wordpiece."""
        content_start = len(self._prefix)
        for batch, input_ids, attention_mask in self._batches(windows, token_ids):
            log_probs = self._log_probs(input_ids, attention_mask)
            for row, window in enumerate(batch):
                yield window, log_probs[row, content_start : content_start + window.end - window.start]

    def _log_probs(
        self, input_ids: npt.NDArray[np.int64], attention_mask: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        """One batch's label log-probabilities per wordpiece; the OpenVINO path runs without torch."""
        import numpy as np

        if self.runtime == "openvino":
            logits = self._model.logits(input_ids, attention_mask)
            shifted = logits - logits.max(axis=-1, keepdims=True)
            return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # type: ignore[no-any-return]
        import torch

        with torch.inference_mode():
            logits = self._model(
                input_ids=torch.from_numpy(input_ids).to(self.device),
                attention_mask=torch.from_numpy(attention_mask).to(self.device),
            ).logits
            return torch.log_softmax(logits.float(), dim=-1).cpu().numpy()

    def _mentions(
        self,
        text: str,
        offsets: Sequence[tuple[int, int]],
        word_ids: Sequence[int | None],
        log_probs: npt.NDArray[np.float32],
    ) -> list[Mention]:
        import numpy as np

        if self.config.decoding == "viterbi":
            tags = viterbi_tags(log_probs.tolist(), self._tags)
        else:
            tags = [self._tags[label] for label in log_probs.argmax(axis=1).tolist()]
        chosen = [self._label_index[tag] for tag in tags]
        scores = np.exp(log_probs[np.arange(len(chosen)), chosen]) if chosen else np.zeros(0, dtype=np.float32)
        words = _WordExtents(offsets, word_ids) if self.config.snap_to_words else None
        mentions = []
        for span in decode_bio(tags, offsets, scores.tolist()):
            begin, end = span.begin, span.end
            if words is not None:
                begin, end = words.widen(begin, end)
                self.counters["word_snapped_spans"] += (begin, end) != (span.begin, span.end)
            trimmed_begin, trimmed_end = trim_span(text, begin, end)
            if trimmed_begin >= trimmed_end:
                self.counters["punctuation_only_spans"] += 1
                continue
            self.counters["trimmed_spans"] += (trimmed_begin, trimmed_end) != (begin, end)
            mentions.append(
                Mention(
                    span.cls,
                    trimmed_begin,
                    trimmed_end,
                    text[trimmed_begin:trimmed_end],
                    score=span.score,
                    grounding=Grounding.MODEL_OFFSETS,
                )
            )
        return mentions


class _WordExtents:
    """Character extents of the pre-tokenizer's words, to widen spans that cut a word."""

    def __init__(self, offsets: Sequence[tuple[int, int]], word_ids: Sequence[int | None]) -> None:
        self._word_of_begin: dict[int, int] = {}
        self._word_of_end: dict[int, int] = {}
        self._extent: dict[int, tuple[int, int]] = {}
        for (begin, end), word in zip(offsets, word_ids, strict=True):
            if word is None or end <= begin:
                continue
            self._word_of_begin.setdefault(begin, word)
            self._word_of_end[end] = word
            first, last = self._extent.get(word, (begin, end))
            self._extent[word] = (min(first, begin), max(last, end))

    def widen(self, begin: int, end: int) -> tuple[int, int]:
        """The span grown to the start of the word it begins in and the end of the word it ends in."""
        first_word, last_word = self._word_of_begin.get(begin), self._word_of_end.get(end)
        if first_word is not None:
            begin = min(begin, self._extent[first_word][0])
        if last_word is not None:
            end = max(end, self._extent[last_word][1])
        return begin, end


def plan_windows(
    text: str, offsets: Sequence[tuple[int, int]], content_length: int, overlap: int
) -> list[tuple[int, int]]:
    """Cut a tokenization into overlapping windows of wordpiece indexes ``[start, end)`` that cover every piece.

    A window holds at most ``content_length`` pieces. Cuts go, in order of preference, where a sentence ends
    (a line break, or ``.!?;`` then white space), between words (white space), or anywhere, searching the last
    quarter of the window; the next window starts ``overlap`` to ``2 * overlap`` pieces before the cut, on the
    best boundary there.

    Args:
        text: The tokenized text, to see what lies between pieces.
        offsets: Character offsets of each wordpiece.
        content_length: The most pieces per window (the model window less its special tokens).
        overlap: Pieces shared by neighbouring windows, at most ``content_length // 4``.

    Returns:
        Windows in text order; none for a text without pieces.
    """
    total = len(offsets)
    if total == 0:
        return []
    windows: list[tuple[int, int]] = []
    start = 0
    while start + content_length < total:
        latest = start + content_length
        end = _best_cut(text, offsets, max(start + 1, latest - content_length // _BOUNDARY_SEARCH_SHARE), latest)
        windows.append((start, end))
        if overlap == 0:
            start = end
        else:
            start = _best_cut(text, offsets, max(start + 1, end - 2 * overlap), max(start + 1, end - overlap))
    windows.append((start, total))
    return windows


def _best_cut(text: str, offsets: Sequence[tuple[int, int]], lowest: int, highest: int) -> int:
    """The cut index in ``[lowest, highest]`` with the best boundary; the highest such index on ties."""
    best_index, best_rank = highest, -1
    for index in range(highest, lowest - 1, -1):
        rank = _boundary_rank(text, offsets, index)
        if rank > best_rank:
            best_index, best_rank = index, rank
            if rank == 2:
                break
    return best_index


def _boundary_rank(text: str, offsets: Sequence[tuple[int, int]], index: int) -> int:
    """2 for a sentence boundary before piece ``index``, 1 for a word boundary, 0 inside a word."""
    previous_end, next_begin = offsets[index - 1][1], offsets[index][0]
    gap = text[previous_end:next_begin]
    if "\n" in gap or (gap.strip() == "" and gap and text[previous_end - 1 : previous_end] in _SENTENCE_END):
        return 2
    return 1 if gap else 0


def _centrality(window: Window, total: int) -> npt.NDArray[np.int64]:
    """Each piece's distance to the nearest cut edge of its window; the text's own ends are no cut."""
    import numpy as np

    positions = np.arange(window.start, window.end, dtype=np.int64)
    far = np.int64(total + 1)
    left = positions - window.start if window.start > 0 else np.full_like(positions, far)
    right = window.end - 1 - positions if window.end < total else np.full_like(positions, far)
    return np.minimum(left, right)


def trim_span(text: str, begin: int, end: int) -> tuple[int, int]:
    """Drop white space and punctuation from both edges of ``text[begin:end]``.

    A bracket stays when its partner is inside the span (``"disease (CD)"`` keeps its ``)``), unless the pair
    encloses the whole span (``"(pain)"`` becomes ``"pain"``). The result may be empty (``begin >= end``) when
    the span held nothing else.
    """
    while True:
        while begin < end and _trimmable(text, begin, end, text[begin], first=True):
            begin += 1
        while begin < end and _trimmable(text, begin, end, text[end - 1], first=False):
            end -= 1
        opening = text[begin] if begin < end else ""
        if opening not in _OPENING or text[end - 1] != _OPENING[opening] or end - begin < 2:
            return begin, end
        inner = text[begin + 1 : end - 1]
        if opening in inner or _OPENING[opening] in inner:
            return begin, end
        begin, end = begin + 1, end - 1


def _trimmable(text: str, begin: int, end: int, char: str, *, first: bool) -> bool:
    if char.isspace():
        return True
    if not unicodedata.category(char).startswith("P"):
        return False
    if first and char in _OPENING:
        return _OPENING[char] not in text[begin + 1 : end]
    if not first and char in _CLOSING:
        return _CLOSING[char] not in text[begin : end - 1]
    return True


def pick_device(device: str) -> str:
    """Resolve ``auto`` to CUDA when torch sees one, else CPU.

    Raises:
        ConfigError: ``cuda`` asked for but torch sees no CUDA device.
    """
    if device == "cpu" or (device == "auto" and not _gpu_driver_possible()):
        return "cpu"
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("[E227] device='cuda' but torch sees no CUDA device. Use device='cpu' or 'auto'.")
    return device


def _gpu_driver_possible() -> bool:
    """False where no GPU driver is loaded, so torch can see no CUDA device and need not be imported (1.5 s):
    Linux lists NVIDIA's driver in /proc and ROCm's in /dev. Elsewhere, only torch can tell."""
    if not sys.platform.startswith("linux"):
        return True
    return Path("/proc/driver/nvidia").exists() or Path("/dev/kfd").exists()


def _pick_runtime(runtime: str, device: str, dtype: str) -> str:
    """``runtime``, or for ``"auto"``: OpenVINO on the CPU when it is installed (and nncf, for int8), else torch."""
    if runtime != "auto":
        return runtime
    if device != "cpu" or not openvino_runtime.installed("openvino"):
        return "torch"
    return "openvino" if dtype != "int8" or openvino_runtime.installed("nncf") else "torch"


def _pick_dtype(dtype: str, device: str, runtime: str) -> str:
    """``dtype``, or for ``"auto"``: int8 on OpenVINO with nncf (F1 within 0.2 point), else bfloat16 where the
    hardware runs it fast, else float32."""
    if dtype != "auto":
        return dtype
    if device == "cuda":
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    if runtime == "openvino" and openvino_runtime.installed("nncf"):
        return "int8"
    return _cpu_float_dtype(runtime)


def _cpu_float_dtype(runtime: str) -> str:
    """bfloat16 where ``runtime`` runs it fast on this CPU, else float32: what auto picks, and what int8 leaves
    unquantized runs in. Each runtime is asked itself, so the OpenVINO path never imports torch."""
    fast = openvino_runtime.cpu_has_fast_bf16() if runtime == "openvino" else cpu_has_fast_bf16()
    return "bfloat16" if fast else "float32"


def cpu_has_fast_bf16() -> bool:
    """True when the CPU has AMX tiles or AVX512-BF16, so bfloat16 matmuls beat float32 (without them, oneDNN
    emulates bfloat16 and runs about three times slower than float32)."""
    import torch

    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, probe, lambda: False)()) for probe in probes)


def _load_model(source: str, offline: bool, dtype: str, device: str, num_threads: int | None) -> Any:
    """The token-classification model in eval mode, in ``dtype`` (int8: torch's dynamic quantization), on ``device``;
    ``num_threads`` (None: unchanged) is torch's process-wide thread count."""
    import torch
    from transformers import AutoModelForTokenClassification

    if num_threads is not None:
        torch.set_num_threads(num_threads)
    weights_dtype = torch.bfloat16 if dtype == "bfloat16" else torch.float32
    try:
        model = AutoModelForTokenClassification.from_pretrained(source, local_files_only=offline, dtype=weights_dtype)
    except (OSError, ValueError, KeyError) as err:
        raise ModelLoadError(cannot_load(source, err)) from err
    model.eval()
    if dtype == "int8":
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)  # type: ignore[no-untyped-call]
    return model.to(device)


def _bio_tags(id2label: dict[int, str], source: str) -> list[str]:
    """Canonical BIO tags indexed by label id; every label must be ``O`` or ``B-``/``I-`` of one of the classes."""
    tags: list[str] = []
    for index in range(len(id2label)):
        label = id2label.get(index, id2label.get(str(index), ""))  # type: ignore[call-overload]
        prefix, _, cls_name = str(label).partition("-")
        if label == OUTSIDE:
            tags.append(OUTSIDE)
            continue
        try:
            cls = MentionClass.from_label(cls_name)
        except ValueError:
            cls = None
        if prefix not in ("B", "I") or cls is None:
            known = ", ".join(member.label for member in MentionClass)
            raise ModelLoadError(
                f"[E224] The model {source} has label {label!r} (id {index}); a token classifier here needs BIO "
                f"labels O, B-X, I-X over the classes {known} in config.json's id2label. Train or relabel it."
            )
        tags.append(f"{prefix}-{cls.label}")
    if OUTSIDE not in tags:
        raise ModelLoadError(
            f"[E224] The model {source} has no 'O' label in config.json's id2label. Train or relabel it."
        )
    return tags
