"""The training loop: seeded, resumable from periodic checkpoints, logged, dev-selected."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from ctakes_llm.backends.token_classifier import pick_device
from ctakes_llm.cas.atomic import atomic_open, atomic_write
from ctakes_llm.corpora.aci_bench import read_aci_bench_notes
from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.ner.bio import BIO_LABELS
from ctakes_llm.training.config import PRIMARY_CORPUS, UNLABELLED_CORPORA, EpochScore, TrainConfig, TrainResult
from ctakes_llm.training.data import LabelledWindow, label_windows, load_corpus, padded_inputs, unlabelled_windows
from ctakes_llm.training.distill import (
    SoftTargets,
    load_teachers,
    padded_targets,
    soft_cross_entropy,
    teacher_distributions,
)
from ctakes_llm.training.model_io import default_base_model, load_student, save_model
from ctakes_llm.training.predict import dev_f1, predict_spans
from ctakes_llm.training.silver import SILVER_LABEL_MAP, read_silver

logger = logging.getLogger("ctakes_llm.training")

CHECKPOINT = "checkpoint.pt"
BEST = "best"
_MASKED_LOGIT = -1e4


def train_student(config: TrainConfig) -> TrainResult:
    """Fine-tune a token-classification student on the MACCROBAT train split (plus optional extra and silver corpora).

    The dev split picks the best epoch; the test split is read only to keep its texts out of silver corpora.
    Progress goes to ``train.log`` and ``metrics.jsonl`` in ``config.output_dir``; a checkpoint is written every
    ``config.checkpoint_every`` steps and after each epoch, and a rerun with ``resume=True`` continues from it with
    the same data order.
    """
    import torch

    torch.set_num_threads(config.threads)
    config.output_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(config.output_dir / "train.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        return _train(config, torch)
    finally:
        logger.removeHandler(handler)
        handler.close()


def partial_label_loss(logits: Any, allowed: Any, weights: Any) -> Any:
    """Mean over scored tokens of ``-log P(label in allowed set)``, each token weighted by its window's weight.

    Args:
        logits: ``[batch, length, labels]`` float tensor.
        allowed: ``[batch, length, labels]`` bool tensor; rows with no allowed label are not scored.
        weights: ``[batch]`` float tensor.
    """
    import torch

    scored = allowed.any(-1)
    log_total = torch.logsumexp(logits, -1)
    log_allowed = torch.logsumexp(logits.masked_fill(~allowed, _MASKED_LOGIT), -1)
    per_token = torch.where(scored, log_total - log_allowed, torch.zeros_like(log_total))
    token_weights = weights[:, None] * scored
    return (per_token * token_weights).sum() / token_weights.sum().clamp(min=1e-9)


def _train(config: TrainConfig, torch: Any) -> TrainResult:
    started = time.monotonic()
    torch.manual_seed(config.seed)
    base = config.base_model or default_base_model()
    device = pick_device(config.device)
    model, tokenizer = load_student(base, config.student_layers)
    model.to(device)
    train_docs, label_map = load_corpus(config.data_dir, PRIMARY_CORPUS, "train")
    dev_docs, _ = load_corpus(config.data_dir, PRIMARY_CORPUS, "dev")
    windows = label_windows(train_docs, label_map, tokenizer, config.max_wordpieces)
    logger.info(
        "base %s on %s; %s train: %d docs, %d windows", base, device, PRIMARY_CORPUS, len(train_docs), len(windows)
    )
    for corpus in config.extra_corpora:
        docs, extra_map = load_corpus(config.data_dir, corpus, "train")
        extra = label_windows(docs, extra_map, tokenizer, config.max_wordpieces, config.extra_weight)
        logger.info("%s train: %d docs, %d windows (weight %s)", corpus, len(docs), len(extra), config.extra_weight)
        windows.extend(extra)
    if config.silver:
        windows.extend(_silver_windows(config, tokenizer, dev_docs))
    for corpus in config.unlabelled_corpora:
        folder, column = UNLABELLED_CORPORA[corpus]
        notes = read_aci_bench_notes(config.data_dir / folder, "train", column)
        unlabelled = unlabelled_windows(notes, tokenizer, config.max_wordpieces)
        logger.info("%s train (unlabelled): %d texts, %d windows", corpus, len(notes), len(unlabelled))
        windows.extend(unlabelled)
    soft: list[SoftTargets] = []
    if config.teachers:
        teachers = [teacher.to(device) for teacher in load_teachers(config.teachers, tokenizer)]
        soft = teacher_distributions(teachers, windows, bf16_autocast=config.bf16_autocast)
        del teachers
        logger.info("soft targets from %d teachers on %d windows", len(config.teachers), len(windows))

    steps_per_epoch = math.ceil(len(windows) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    stop_at = total_steps if config.max_steps is None else min(total_steps, config.max_steps)
    optimizer, scheduler = _optimizer(model, config, total_steps, torch)
    state: dict[str, Any] = {"step": 0, "epoch": 0, "batch": 0, "best_f1": -1.0, "best_epoch": 0, "history": []}
    checkpoint_path = config.output_dir / CHECKPOINT
    if config.resume and checkpoint_path.is_file():
        saved = torch.load(checkpoint_path, weights_only=False, map_location="cpu")
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["rng"])
        if device == "cuda" and saved.get("cuda_rng") is not None:
            torch.cuda.set_rng_state_all(saved["cuda_rng"])
        state = saved["state"]
        logger.info(
            "resumed from %s at step %d (epoch %d, batch %d)",
            checkpoint_path,
            state["step"],
            state["epoch"] + 1,
            state["batch"],
        )
    logger.info(
        "config %s; %d steps (%d per epoch)", json.dumps(asdict(config), default=str), total_steps, steps_per_epoch
    )

    def checkpoint() -> None:
        payload = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if device == "cuda" else None,
            "state": state,
        }
        with atomic_open(checkpoint_path, "wb", encoding=None) as handle:
            torch.save(payload, handle)

    while state["epoch"] < config.epochs and state["step"] < stop_at:
        epoch = state["epoch"]
        order = torch.randperm(len(windows), generator=torch.Generator().manual_seed(config.seed * 1000 + epoch))
        model.train()
        running = 0.0
        for batch_index in range(state["batch"], steps_per_epoch):
            chosen = order[batch_index * config.batch_size : (batch_index + 1) * config.batch_size].tolist()
            rows = [windows[i] for i in chosen]
            with torch.autocast(device, dtype=torch.bfloat16, enabled=config.bf16_autocast):
                logits, allowed, weights = _forward_inputs(model, rows, torch, device)
            logits = logits.float()
            loss = partial_label_loss(logits, allowed, weights)
            if soft:
                targets = padded_targets([soft[i] for i in chosen], logits.shape[1]).to(device)
                distilled = soft_cross_entropy(logits, targets, weights)
                loss = (1 - config.distill_weight) * loss + config.distill_weight * distilled
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            state["step"] += 1
            state["batch"] = batch_index + 1
            running += loss.item()
            if state["step"] % 10 == 0:
                logger.info(
                    "epoch %d step %d/%d loss %.4f lr %.2e %.0fs",
                    epoch + 1,
                    state["step"],
                    total_steps,
                    loss.item(),
                    scheduler.get_last_lr()[0],
                    time.monotonic() - started,
                )
            if state["step"] % config.checkpoint_every == 0:
                checkpoint()
            if state["step"] >= stop_at:
                break
        if state["batch"] < steps_per_epoch:
            checkpoint()
            logger.info("stopped at step %d (max_steps); rerun with resume to continue", state["step"])
            break
        with torch.autocast(device, dtype=torch.bfloat16, enabled=config.bf16_autocast):
            predicted = predict_spans(model, tokenizer, [d.text for d in dev_docs], config.max_wordpieces)
        strict, lenient = dev_f1(dev_docs, predicted)
        score = EpochScore(epoch + 1, state["step"], strict, lenient, running / max(1, state["batch"]))
        state["history"].append(asdict(score))
        logger.info("epoch %d dev strict F1 %.4f lenient F1 %.4f", epoch + 1, strict, lenient)
        with (config.output_dir / "metrics.jsonl").open("a", encoding="utf-8") as metrics:
            metrics.write(json.dumps(asdict(score)) + "\n")
        if strict > state["best_f1"]:
            state["best_f1"], state["best_epoch"] = strict, epoch + 1
            save_model(model, tokenizer, config.output_dir / BEST, config.save_dtype)
            logger.info("new best model saved to %s", config.output_dir / BEST)
        state["epoch"], state["batch"] = epoch + 1, 0
        checkpoint()
    result = TrainResult(
        best_model_dir=config.output_dir / BEST,
        best_epoch=state["best_epoch"],
        best_dev_strict_f1=state["best_f1"],
        history=tuple(EpochScore(**entry) for entry in state["history"]),
        steps=state["step"],
    )
    atomic_write(config.output_dir / "result.json", json.dumps(asdict(result), default=str, indent=2) + "\n")
    logger.info(
        "done in %.0fs: best epoch %d, dev strict F1 %.4f",
        time.monotonic() - started,
        result.best_epoch,
        result.best_dev_strict_f1,
    )
    return result


def _silver_windows(config: TrainConfig, tokenizer: Any, dev_docs: Sequence[GoldDocument]) -> list[LabelledWindow]:
    """Windows of every silver corpus; MACCROBAT test is read here only so that no silver text repeats it."""
    test_docs, _ = load_corpus(config.data_dir, PRIMARY_CORPUS, "test")
    held_out = {"dev": dev_docs, "test": test_docs}
    windows: list[LabelledWindow] = []
    for path in config.silver:
        docs = read_silver(path, held_out)
        silver = label_windows(docs, SILVER_LABEL_MAP, tokenizer, config.max_wordpieces, config.silver_weight)
        mentions = sum(len(doc.mentions) for doc in docs)
        logger.info(
            "silver %s: %d docs, %d mentions, %d windows (weight %s)",
            path,
            len(docs),
            mentions,
            len(silver),
            config.silver_weight,
        )
        windows.extend(silver)
    return windows


def _optimizer(model: Any, config: TrainConfig, total_steps: int, torch: Any) -> tuple[Any, Any]:
    decay: list[Any] = []
    no_decay: list[Any] = []
    for name, parameter in model.named_parameters():
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(parameter)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate,
    )
    warmup = max(1, int(total_steps * config.warmup_ratio))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


def _forward_inputs(model: Any, rows: Sequence[LabelledWindow], torch: Any, device: str) -> tuple[Any, Any, Any]:
    ids, attention = padded_inputs([row.input_ids for row in rows])
    masks, _ = padded_inputs([row.allowed for row in rows])
    allowed = ((masks[..., None] >> torch.arange(len(BIO_LABELS))) & 1).bool().to(device)
    weights = torch.tensor([row.weight for row in rows], dtype=torch.float, device=device)
    logits = model(input_ids=ids.to(device), attention_mask=attention.to(device)).logits
    return logits, allowed, weights
