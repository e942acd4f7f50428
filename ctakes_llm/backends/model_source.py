"""Where a model's files are: a local directory, a hub id in the local cache, or the shipped default student.

Models load the transformers way, from a directory or a hub id, with no network unless the caller allows it
(``offline=False``). Shared by every backend that loads weights; nothing here imports torch or transformers.
"""

from __future__ import annotations

import hashlib
import os
from importlib.resources import files
from pathlib import Path

from ctakes_llm.errors import ModelLoadError

#: File suffixes that hold weights, hashed for the run manifest (top-level files of a model directory only,
#: as transformers loads them).
WEIGHT_SUFFIXES: frozenset[str] = frozenset(
    {".safetensors", ".bin", ".pt", ".pth", ".gguf", ".onnx", ".h5", ".msgpack", ".ckpt"}
)

_HASH_BLOCK_BYTES = 1 << 20


def default_model_dir() -> str:
    """Return the directory of the token-classification student shipped in the package.

    Returns:
        The absolute path of ``ctakes_llm/models/default``.

    Raises:
        ModelLoadError: the package was installed without the default model.
    """
    resource = files("ctakes_llm") / "models" / "default"
    if not (resource / "config.json").is_file():
        raise ModelLoadError(
            f"[E219] The shipped default model is missing: no config.json in {resource}. "
            "Reinstall ctakes-llm from a wheel that includes ctakes_llm/models/default, or pass a model "
            "directory to --model."
        )
    return str(Path(str(resource)).resolve())


def cache_root() -> Path:
    """Where files derived from models are kept (converted models, tokenizer snapshots): ``$CTAKES_LLM_CACHE``,
    else ``$XDG_CACHE_HOME/ctakes-llm``, else ``~/.cache/ctakes-llm``."""
    if root := os.environ.get("CTAKES_LLM_CACHE"):
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ctakes-llm"


def resolve_model(path_or_id: str, *, offline: bool = True, cache_dir: str | Path | None = None) -> str:
    """Find a model the way ``from_pretrained`` does: a local directory first, else a Hugging Face hub id.

    Args:
        path_or_id: A directory holding ``config.json`` and weights, or a hub id (``org/name``).
        offline: Use only local files. A hub id must then already be in the local cache.
        cache_dir: The hub cache to look in; None means the usual one (``HF_HUB_CACHE``).

    Returns:
        An absolute directory path (a local directory, or the cached snapshot of a hub id when offline), or,
        when ``offline`` is False, the hub id itself for ``from_pretrained`` to fetch or refresh.

    Raises:
        ModelLoadError: the directory lacks ``config.json``, the path does not exist, or the id is not cached
            while offline.
    """
    candidate = Path(path_or_id).expanduser()
    if candidate.is_dir():
        if not (candidate / "config.json").is_file():
            raise ModelLoadError(
                f"[E215] The model directory {candidate} has no config.json. Pass a directory saved with "
                "save_pretrained (config.json, weights and tokenizer files)."
            )
        return str(candidate.resolve())
    if candidate.exists() or not _looks_like_hub_id(path_or_id):
        raise ModelLoadError(
            f"[E216] No model directory at {path_or_id!r}. Pass an existing directory saved with "
            "save_pretrained, or a hub id such as 'org/name'."
        )
    return _cached_snapshot(path_or_id, offline=offline, cache_dir=cache_dir)


def weights_sha256(path_or_id: str | Path) -> str:
    """Hash a model's weights for the run manifest.

    For a directory, the hash is the SHA-256 of ``sha256sum``'s output over its top-level weight files (sorted
    by name), so ``cd DIR && sha256sum model.safetensors | sha256sum`` reproduces it. A single file is hashed
    directly. A hub id is looked up in the local cache.

    Args:
        path_or_id: A model directory, a weights file (a GGUF, say), or a cached hub id.

    Returns:
        A lowercase hex digest.

    Raises:
        ModelLoadError: there is no such file or directory, or the directory holds no weight files.
    """
    path = Path(path_or_id).expanduser()
    if not path.exists():
        path = Path(resolve_model(str(path_or_id), offline=True))
    if path.is_file():
        return _file_sha256(path)
    weights = sorted(
        (child for child in path.iterdir() if child.is_file() and child.suffix in WEIGHT_SUFFIXES),
        key=lambda child: child.name,
    )
    if not weights:
        known = ", ".join(sorted(WEIGHT_SUFFIXES))
        raise ModelLoadError(f"[E218] No weight files ({known}) in {path}. Pass the directory that holds the weights.")
    listing = "".join(f"{_file_sha256(weight)}  {weight.name}\n" for weight in weights)
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(_HASH_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _looks_like_hub_id(name: str) -> bool:
    """True for ``name`` or ``org/name``: no drive, no leading dot or slash, at most one slash."""
    if not name or name.startswith((".", "/", "~")) or "\\" in name or ":" in name:
        return False
    parts = name.split("/")
    return len(parts) <= 2 and all(parts)


def _cached_snapshot(repo_id: str, *, offline: bool, cache_dir: str | Path | None) -> str:
    if not offline:
        return repo_id
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        snapshot = snapshot_download(repo_id, local_files_only=True, cache_dir=cache_dir)
    except LocalEntryNotFoundError as err:
        raise ModelLoadError(
            f"[E217] No files for {repo_id!r} in the local model cache and offline mode is on. "
            "Pass a local directory to --model."
        ) from err
    return str(Path(str(snapshot)).resolve())
