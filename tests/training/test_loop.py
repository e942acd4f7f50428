"""The training loop on a tiny random model: it learns, saves a loadable model, resumes to the same weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctakes_llm.errors import ConfigError
from ctakes_llm.ner.bio import BIO_LABELS
from ctakes_llm.training.config import TrainConfig
from ctakes_llm.training.loop import partial_label_loss, train_student


def _config(out: Path, base: Path, data: Path, **overrides: object) -> TrainConfig:
    values = dict(
        output_dir=out,
        base_model=base,
        data_dir=data,
        epochs=3,
        batch_size=1,
        learning_rate=1e-3,
        checkpoint_every=1,
        threads=1,
        max_wordpieces=32,
    )
    values.update(overrides)
    return TrainConfig(**values)  # type: ignore[arg-type]


def test_partial_label_loss_is_cross_entropy_for_one_allowed_label() -> None:
    import torch

    logits = torch.randn(2, 3, len(BIO_LABELS))
    targets = torch.randint(0, len(BIO_LABELS), (2, 3))
    allowed = torch.nn.functional.one_hot(targets, len(BIO_LABELS)).bool()
    allowed[1, 2] = False  # an unscored position
    expected = torch.nn.functional.cross_entropy(logits.view(-1, len(BIO_LABELS))[:5], targets.view(-1)[:5])
    assert torch.allclose(partial_label_loss(logits, allowed, torch.ones(2)), expected)
    everything = torch.ones_like(allowed)
    assert partial_label_loss(logits, everything, torch.ones(2)).abs() < 1e-5


def test_train_student_saves_loadable_model_and_resumes_identically(tmp_path, tiny_base, tiny_data) -> None:  # type: ignore[no-untyped-def]
    import torch
    from transformers import AutoModelForTokenClassification

    straight = train_student(_config(tmp_path / "straight", tiny_base, tiny_data))
    assert len(straight.history) == 3 and straight.steps == 6
    model = AutoModelForTokenClassification.from_pretrained(str(straight.best_model_dir))
    assert tuple(model.config.id2label[i] for i in range(len(BIO_LABELS))) == BIO_LABELS

    interrupted = tmp_path / "interrupted"
    partial = train_student(_config(interrupted, tiny_base, tiny_data, max_steps=3))
    assert partial.steps == 3
    resumed = train_student(_config(interrupted, tiny_base, tiny_data))
    assert resumed.steps == 6
    assert [h.strict_f1 for h in resumed.history] == [h.strict_f1 for h in straight.history]
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(interrupted / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.allclose(a[key], b[key], atol=1e-6) for key in a)
    lines = (interrupted / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    assert "resumed from" in (interrupted / "train.log").read_text()


def test_config_rejects_unknown_extra_corpus(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[E530\]"):
        TrainConfig(output_dir=tmp_path, extra_corpora=("i2b2",))


def test_config_rejects_unknown_device(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[E524\]"):
        TrainConfig(output_dir=tmp_path, device="tpu")


def test_training_on_cuda_without_cuda_is_refused(tmp_path, tiny_base, tiny_data) -> None:  # type: ignore[no-untyped-def]
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here; test_train_student_on_cuda_matches_cpu_and_resumes covers it")
    with pytest.raises(ConfigError, match=r"\[E227\]"):
        train_student(_config(tmp_path / "run", tiny_base, tiny_data, device="cuda"))
    assert not (tmp_path / "run" / "best").exists()


@pytest.mark.gpu
def test_train_student_on_cuda_matches_cpu_and_resumes(tmp_path, tiny_base, tiny_data) -> None:  # type: ignore[no-untyped-def]
    """On CUDA (bf16 autocast, teachers too) training learns what it learns on CPU, resumes, and saves CPU weights."""
    from transformers import AutoModelForTokenClassification

    teacher = train_student(_config(tmp_path / "teacher", tiny_base, tiny_data, device="cpu")).best_model_dir
    options = dict(device="cuda", bf16_autocast=True, teachers=(teacher,))
    straight = train_student(_config(tmp_path / "straight", tiny_base, tiny_data, **options))
    assert straight.steps == 6 and "on cuda" in (tmp_path / "straight" / "train.log").read_text()
    interrupted = tmp_path / "interrupted"
    train_student(_config(interrupted, tiny_base, tiny_data, max_steps=3, **options))
    resumed = train_student(_config(interrupted, tiny_base, tiny_data, **options))
    assert [h.loss for h in resumed.history][-1] == pytest.approx(straight.history[-1].loss, rel=1e-3)
    model = AutoModelForTokenClassification.from_pretrained(str(straight.best_model_dir))
    assert next(model.parameters()).device.type == "cpu"
    on_cpu = train_student(_config(tmp_path / "cpu", tiny_base, tiny_data, teachers=(teacher,), device="cpu"))
    assert straight.history[-1].loss == pytest.approx(on_cpu.history[-1].loss, rel=0.05)
