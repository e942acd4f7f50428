"""OpenVINO as the CPU runtime of a token classifier: the same weights, compiled for this CPU by OpenVINO.

Why: on the 2-core AVX512-BF16 machines (no AMX) where this project measures, OpenVINO's bf16 kernels run the
shipped student's forward pass 1.4 times as fast as torch's bf16 path, and its int8 kernels (after NNCF's
post-training quantization) 2 times as fast, each with F1 within 0.2 point (README, speed levers). Torch's own
int8 costs 2.4 points. The backend keeps its tokenizer, windows and decoding; only the forward pass moves.

Converting the torch model takes seconds and quantizing it a few more, so both results (OpenVINO IR) are cached:
the float32 conversion under ``<cache>/<weights key>-<openvino version>/`` and the int8 model under the same name
plus ``-int8-<recipe>-nncf<version>-<calibration key>``. Later runs read them in well under a second. The cache is
``$CTAKES_LLM_CACHE/openvino``, else ``$XDG_CACHE_HOME/ctakes-llm/openvino``, else ``~/.cache/ctakes-llm/openvino``.
A cache that cannot be written costs the conversion on every run, nothing else. openvino and nncf are imported
when a backend is built, never at module import.

int8 calibrates on ``calibration_notes.txt`` beside this module: twelve short clinical paragraphs this team wrote
(no corpus text), cut into windows and batches by the backend itself. On MACCROBAT test they calibrate as well as
32 windows of MACCROBAT train (strict F1 0.647 against 0.645). A model of another domain or language calibrates on
its user's own notes instead (``calibration_text``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctakes_llm.backends.model_source import cache_root
from ctakes_llm.errors import ConfigError, ModelLoadError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    #: One model input batch: ``input_ids`` and ``attention_mask``, int64 arrays of the same shape.
    Batch = dict[str, npt.NDArray[np.int64]]

logger = logging.getLogger(__name__)

#: The backend's resolved dtype to OpenVINO's inference precision hint.
PRECISIONS = {"bfloat16": "bf16", "float32": "f32"}
_INPUTS = ("input_ids", "attention_mask")
#: Names the quantization settings in the int8 cache folder: change it whenever ``quantized_model`` quantizes
#: differently, so no run reads a model quantized the old way. (NNCF's default model type, which also quantizes the
#: attention products, took MACCROBAT dev strict F1 from 0.679 to 0.247.)
INT8_RECIPE = "transformer1"


def installed(package: str) -> bool:
    """True when ``package`` can be imported (without importing it: nncf alone takes 1.5 s)."""
    return importlib.util.find_spec(package) is not None


def calibration_texts(path: str | Path | None = None) -> list[str]:
    """The paragraphs int8 calibrates on: a UTF-8 file's, split at blank lines, or with None the shipped notes
    (see the module docstring).

    Raises:
        ConfigError: the file cannot be read as UTF-8, or holds no text.
    """
    if path is None:
        text = resources.files(__package__).joinpath("calibration_notes.txt").read_text(encoding="utf-8")
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"[E259] cannot read the calibration text {str(path)!r}: {err}") from err
    paragraphs = [paragraph for paragraph in text.split("\n\n") if paragraph.strip()]
    if not paragraphs:
        raise ConfigError(
            f"[E259] the calibration text {str(path)!r} is empty; give notes like yours, paragraphs split by blank "
            "lines."
        )
    return paragraphs


def default_cache_dir() -> Path:
    """Where converted models are kept (see the module docstring)."""
    return cache_root() / "openvino"


class OpenVinoForward:
    """A compiled token classifier: numpy ``input_ids`` and ``attention_mask`` in, float32 logits out (no torch).
    ``int8_identity`` is :func:`int8_identity` of its calibration, or None for a float model."""

    def __init__(self, compiled: Any, int8_identity: dict[str, str] | None) -> None:
        self._request = compiled.create_infer_request()
        self._output = compiled.output(0)
        self.int8_identity = int8_identity

    def logits(
        self, input_ids: npt.NDArray[np.int64], attention_mask: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        import numpy as np

        results = self._request.infer({"input_ids": input_ids, "attention_mask": attention_mask})
        # the request reuses its output buffer on the next call
        return np.array(results[self._output], dtype=np.float32)


def cpu_has_fast_bf16() -> bool:
    """True when OpenVINO computes bfloat16 natively on this CPU (AMX tiles or AVX512-BF16)."""
    return "BF16" in _import_openvino().Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def compile_token_classifier(
    load_model: Callable[[], Any],
    weights_key: str,
    dtype: str,
    num_threads: int | None,
    cache_dir: Path | None = None,
    calibration: Sequence[Batch] | None = None,
) -> OpenVinoForward:
    """Convert (or read from the cache), optionally quantize, and compile a float32 torch token classifier.

    Args:
        load_model: Loads the ``AutoModelForTokenClassification`` in float32, in eval mode; called only when the
            cache lacks the model (loading the torch weights is a third of a cached start-up).
        weights_key: Names the weights in the cache (the backend passes their sha256).
        dtype: ``"bfloat16"`` or ``"float32"``: the precision OpenVINO computes in (where it is not int8).
        num_threads: Inference threads; None lets OpenVINO use every core.
        cache_dir: Where converted models are kept; None means :func:`default_cache_dir`.
        calibration: Input batches as the backend feeds them. Given, NNCF quantizes the model to int8 on them
            (its transformer preset: SmoothQuant, fast bias correction, sensitive operations left in ``dtype``).

    Raises:
        ConfigError: openvino (or, for int8, nncf) is not installed, or ``dtype`` has no OpenVINO precision.
        ModelLoadError: OpenVINO cannot convert or compile the model, or NNCF cannot quantize it.
    """
    if dtype not in PRECISIONS:
        raise ConfigError(
            f"[E256] runtime='openvino' computes in {' or '.join(PRECISIONS)} (int8 through calibration), not {dtype}."
        )
    openvino = _import_openvino()
    folder = cache_dir or default_cache_dir()
    identity = None
    try:
        if calibration is None:
            ir = converted_model(load_model, weights_key, folder)
        else:
            identity = int8_identity(calibration)
            ir = quantized_model(load_model, weights_key, calibration, identity, folder)
        compiled = openvino.Core().compile_model(ir, "CPU", cpu_properties(dtype, num_threads))
    except (RuntimeError, ValueError, TypeError) as err:
        raise ModelLoadError(f"[E257] OpenVINO cannot convert or compile the model: {err}") from err
    return OpenVinoForward(compiled, identity)


def cpu_properties(dtype: str, num_threads: int | None) -> dict[str, object]:
    """How the backend compiles for the CPU: ``dtype``'s precision, one stream tuned for latency, the thread count
    (None: every core)."""
    return {
        "INFERENCE_PRECISION_HINT": PRECISIONS[dtype],
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": 1,
        "INFERENCE_NUM_THREADS": num_threads or 0,
    }


def converted_model(load_model: Callable[[], Any], weights_key: str, cache_dir: Path | None = None) -> Any:
    """The torch model (``load_model()``) as an OpenVINO ``Model`` in float32: read from the cache, or converted
    and then cached.

    Raises:
        ConfigError: openvino is not installed.
    """
    openvino = _import_openvino()

    def convert() -> Any:
        import torch

        example = torch.ones((2, 16), dtype=torch.long)
        with torch.inference_mode(), warnings.catch_warnings():
            # tracing warns of shapes read as constants (the converted model takes any batch and width: tested) and
            # touches deprecated transformers attributes; neither concerns the user
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # type: ignore[attr-defined]  # public, unstubbed
            warnings.simplefilter("ignore", FutureWarning)
            return openvino.convert_model(load_model(), example_input={name: example for name in _INPUTS})

    folder = (cache_dir or default_cache_dir()) / _model_name(openvino, weights_key)
    return _cached(openvino, folder, convert)


def quantized_model(
    load_model: Callable[[], Any],
    weights_key: str,
    calibration: Sequence[Batch],
    identity: dict[str, str],
    cache_dir: Path | None = None,
) -> Any:
    """The torch model (``load_model()``) as an int8 OpenVINO ``Model`` calibrated on ``calibration``: from the
    cache, or quantized by NNCF and then cached under a name made of ``identity`` (``int8_identity(calibration)``,
    which the caller keeps for the run manifest: the calibration batches' hash, NNCF's version, the recipe).

    Raises:
        ConfigError: openvino or nncf is not installed.
        ModelLoadError: NNCF cannot quantize the model.
    """
    openvino = _import_openvino()
    if not installed("nncf"):
        raise ConfigError(
            "[E258] int8 on runtime='openvino' needs the nncf package (installed with ctakes-llm on x86-64): "
            "pip install nncf. Or use dtype bfloat16 or float32."
        )
    cache = cache_dir or default_cache_dir()
    name = (
        f"{_model_name(openvino, weights_key)}-int8-{identity['recipe']}-nncf{identity['nncf']}"
        f"-{identity['calibration_key']}"
    )

    def quantize() -> Any:
        float_model = converted_model(load_model, weights_key, cache)
        logger.info("quantizing the OpenVINO model to int8 on %d calibration batches", len(calibration))
        try:
            import nncf  # an install broken for this numpy or openvino fails here, and auto falls back

            with _stdout_kept_clean():
                return nncf.quantize(
                    float_model,
                    nncf.Dataset(list(calibration)),
                    model_type=nncf.ModelType.TRANSFORMER,
                    subset_size=len(calibration),
                )
        except Exception as err:  # NNCF's own errors derive from Exception directly
            raise ModelLoadError(f"[E258] NNCF cannot quantize the model to int8: {err}") from err

    return _cached(openvino, cache / name, quantize)


@contextlib.contextmanager
def _stdout_kept_clean() -> Iterator[None]:
    """Send NNCF's log lines and progress bars to stderr: stdout may carry the annotations (``-o -``)."""
    handlers = [h for h in logging.getLogger("nncf").handlers if isinstance(h, logging.StreamHandler)]
    streams = [handler.setStream(sys.stderr) for handler in handlers]
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for handler, stream in zip(handlers, streams, strict=True):
            handler.setStream(stream)


def _model_name(openvino: Any, weights_key: str) -> str:
    return f"{weights_key[:32]}-{openvino.__version__.split('-')[0]}"


def int8_identity(calibration: Sequence[Batch]) -> dict[str, str]:
    """What makes one int8 model differ from another: the recipe, NNCF's version and a short hash of the calibration
    batches (other notes, tokenizer or windows give another model). The cache folder and the run manifest name it.
    """
    return {"recipe": INT8_RECIPE, "nncf": metadata.version("nncf"), "calibration_key": _calibration_key(calibration)}


def _calibration_key(calibration: Sequence[Batch]) -> str:
    digest = hashlib.sha256()
    for batch in calibration:
        for name in _INPUTS:
            digest.update(repr(batch[name].shape).encode())
            digest.update(batch[name].astype("<i8").tobytes())
    return digest.hexdigest()[:16]


def _cached(openvino: Any, folder: Path, build: Callable[[], Any]) -> Any:
    """The model cached in ``folder``, or ``build()``'s, cached there on the way."""
    cached = folder / "model.xml"
    if cached.is_file():
        logger.info("OpenVINO model read from %s", folder)
        return openvino.Core().read_model(str(cached))
    built = build()
    _save_atomically(openvino, built, folder)
    return built


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
