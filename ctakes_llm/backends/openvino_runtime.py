"""OpenVINO as the CPU runtime of a token classifier: the same weights, compiled for this CPU by OpenVINO.

Why: on the 2-core AVX512-BF16 machines (no AMX) where this project measures, OpenVINO's bf16 kernels run the
shipped student's forward pass 1.4 times as fast as torch's bf16 path, with F1 within 0.1 point (README, speed
levers). The backend keeps its tokenizer, windows and decoding; only the forward pass moves to OpenVINO.

Converting the torch model takes seconds, so the converted model (OpenVINO IR, float32 weights) is cached under
``<cache>/<weights key>-<openvino version>/``; later runs read it in well under a second. The cache is
``$CTAKES_LLM_CACHE/openvino``, else ``$XDG_CACHE_HOME/ctakes-llm/openvino``, else ``~/.cache/ctakes-llm/openvino``.
A cache that cannot be written costs the conversion on every run, nothing else. openvino is imported when a
backend is built, never at module import.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ctakes_llm.errors import ConfigError, ModelLoadError

logger = logging.getLogger(__name__)

#: The backend's resolved dtype to OpenVINO's inference precision hint.
PRECISIONS = {"bfloat16": "bf16", "float32": "f32"}
_INPUTS = ("input_ids", "attention_mask")


def default_cache_dir() -> Path:
    """Where converted models are kept (see the module docstring)."""
    if root := os.environ.get("CTAKES_LLM_CACHE"):
        return Path(root) / "openvino"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ctakes-llm" / "openvino"


class OpenVinoForward:
    """Stands in for the torch token classifier: called with ``input_ids=`` and ``attention_mask=`` tensors, it
    returns an object whose ``logits`` is a float32 tensor; ``config`` is the torch model's config."""

    def __init__(self, compiled: Any, config: Any) -> None:
        self._request = compiled.create_infer_request()
        self._output = compiled.output(0)
        self.config = config

    def __call__(self, *, input_ids: Any, attention_mask: Any) -> SimpleNamespace:
        import numpy as np
        import torch

        results = self._request.infer({"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy()})
        # the request reuses its output buffer on the next call
        return SimpleNamespace(logits=torch.from_numpy(np.array(results[self._output], dtype=np.float32)))


def compile_token_classifier(
    model: Any, weights_key: str, dtype: str, num_threads: int | None, cache_dir: Path | None = None
) -> OpenVinoForward:
    """Convert (or read from the cache) and compile a float32 torch token classifier for this CPU.

    Args:
        model: An ``AutoModelForTokenClassification`` in float32, in eval mode.
        weights_key: Names the weights in the cache (the backend passes their sha256).
        dtype: ``"bfloat16"`` or ``"float32"``: the precision OpenVINO computes in.
        num_threads: Inference threads; None lets OpenVINO use every core.
        cache_dir: Where converted models are kept; None means :func:`default_cache_dir`.

    Raises:
        ConfigError: openvino is not installed, or ``dtype`` has no OpenVINO precision (int8).
        ModelLoadError: OpenVINO cannot convert or compile the model.
    """
    if dtype not in PRECISIONS:
        raise ConfigError(
            f"[E256] runtime='openvino' computes in {' or '.join(PRECISIONS)}, not {dtype}. "
            "Use dtype auto, bfloat16 or float32, or runtime='torch' for int8."
        )
    openvino = _import_openvino()
    properties = cpu_properties(dtype, num_threads)
    try:
        compiled = openvino.Core().compile_model(converted_model(model, weights_key, cache_dir), "CPU", properties)
    except (RuntimeError, ValueError, TypeError) as err:
        raise ModelLoadError(f"[E257] OpenVINO cannot convert or compile the model: {err}") from err
    return OpenVinoForward(compiled, model.config)


def cpu_properties(dtype: str, num_threads: int | None) -> dict[str, object]:
    """How the backend compiles for the CPU: ``dtype``'s precision, one stream tuned for latency, the thread count
    (None: every core)."""
    return {
        "INFERENCE_PRECISION_HINT": PRECISIONS[dtype],
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": 1,
        "INFERENCE_NUM_THREADS": num_threads or 0,
    }


def converted_model(model: Any, weights_key: str, cache_dir: Path | None = None) -> Any:
    """The torch model as an OpenVINO ``Model``: read from the cache, or converted and then cached.

    Raises:
        ConfigError: openvino is not installed.
    """
    import torch

    openvino = _import_openvino()
    folder = (cache_dir or default_cache_dir()) / f"{weights_key[:32]}-{openvino.__version__.split('-')[0]}"
    cached = folder / "model.xml"
    if cached.is_file():
        logger.info("OpenVINO model read from %s", folder)
        return openvino.Core().read_model(str(cached))
    example = torch.ones((2, 16), dtype=torch.long)
    with torch.inference_mode():
        converted = openvino.convert_model(model, example_input={name: example for name in _INPUTS})
    _save_atomically(openvino, converted, folder)
    return converted


def _import_openvino() -> Any:
    try:
        import openvino
    except ImportError as err:
        raise ConfigError(
            "[E256] runtime='openvino' needs the openvino package (installed with ctakes-llm on x86-64): "
            "pip install openvino."
        ) from err
    return openvino


def _save_atomically(openvino: Any, converted: Any, folder: Path) -> None:
    """Write the IR into a temporary folder beside ``folder`` and rename it, so no reader sees half a model."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    except OSError as err:
        logger.warning("OpenVINO model not cached (%s): the next run converts it again", err)
        return
    try:
        openvino.save_model(converted, str(partial / "model.xml"), compress_to_fp16=False)
        partial.rename(folder)
        logger.info("OpenVINO model cached in %s", folder)
    except OSError as err:  # another process cached it first, or the disk is full
        logger.warning("OpenVINO model not cached in %s (%s)", folder, err)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
