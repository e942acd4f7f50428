"""Distillation: soft targets from teacher ensembles, their loss, and a training run that uses them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ctakes_llm.corpora.aci_bench import read_aci_bench_notes
from ctakes_llm.errors import ConfigError, CorpusError, ModelLoadError
from ctakes_llm.ner.bio import BIO_LABELS
from ctakes_llm.training.config import TrainConfig
from ctakes_llm.training.data import unlabelled_windows
from ctakes_llm.training.distill import load_teachers, soft_cross_entropy, teacher_distributions
from ctakes_llm.training.loop import train_student
from ctakes_llm.training.model_io import load_student, save_model

NOTES = [
    "CHIEF COMPLAINT\n\nChest pain.\n\nHISTORY OF PRESENT ILLNESS\n\nHe denies fever. Takes aspirin daily.",
    "ASSESSMENT AND PLAN\n\nPneumonia of the left lung. Start amoxicillin and order a chest x-ray.",
]


def _teacher(folder: Path, base: Path, seed: int) -> Path:
    import torch

    torch.manual_seed(seed)
    model, tokenizer = load_student(base)
    save_model(model, tokenizer, folder)
    return folder


def _aci_bench(data: Path) -> None:
    corpus = data / "aci_bench"
    corpus.mkdir(parents=True)
    with (corpus / "train.csv").open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=["dataset", "encounter_id", "dialogue", "note"])
        writer.writeheader()
        for index, note in enumerate(NOTES):
            writer.writerow({"dataset": "aci", "encounter_id": f"e{index}", "dialogue": "[doctor] hi", "note": note})
        writer.writerow({"dataset": "aci", "encounter_id": "blank", "dialogue": "", "note": "  "})
    (corpus / "split.json").write_text(json.dumps({"train": ["train.csv"], "dev": [], "test": []}))


def test_soft_cross_entropy_is_cross_entropy_for_one_hot_targets_and_skips_zero_rows() -> None:
    import torch

    logits = torch.randn(2, 3, len(BIO_LABELS))
    labels = torch.randint(0, len(BIO_LABELS), (2, 3))
    targets = torch.nn.functional.one_hot(labels, len(BIO_LABELS)).float()
    targets[1, 2] = 0  # a special token: no target
    expected = torch.nn.functional.cross_entropy(logits.view(-1, len(BIO_LABELS))[:5], labels.view(-1)[:5])
    assert torch.allclose(soft_cross_entropy(logits, targets, torch.ones(2)), expected)


def test_teacher_distributions_average_the_teachers_and_leave_special_tokens_empty(
    tmp_path, tiny_base, tokenizer
) -> None:  # type: ignore[no-untyped-def]
    import torch

    paths = [_teacher(tmp_path / f"t{seed}", tiny_base, seed) for seed in (1, 2)]
    teachers = load_teachers(paths, tokenizer)
    windows = unlabelled_windows(NOTES, tokenizer, max_wordpieces=16)
    assert len(windows) > len(NOTES)  # the notes need several windows each
    mean = teacher_distributions(teachers, windows, batch_size=3)
    for window, target in zip(windows, mean, strict=True):
        ids = torch.tensor([window.input_ids])
        single = [torch.softmax(teacher(input_ids=ids).logits, -1)[0].detach().numpy() for teacher in teachers]
        assert target.shape == (len(window.input_ids), len(BIO_LABELS))
        assert not target[0].any() and not target[-1].any()
        assert target[1:-1].sum(-1) == pytest.approx(1.0, abs=1e-5)
        assert target[1:-1] == pytest.approx((single[0][1:-1] + single[1][1:-1]) / 2, abs=1e-5)


def test_teachers_give_no_target_where_the_gold_label_is_unknown(tmp_path, tiny_base, tokenizer) -> None:  # type: ignore[no-untyped-def]
    from ctakes_llm.corpora.document import GoldDocument
    from ctakes_llm.corpora.label_map import load_label_map
    from ctakes_llm.training.data import ANY_LABEL, label_windows

    doc = GoldDocument("h", "History of gout. Fever.", (), ((0, 15),))
    (window,) = label_windows([doc], load_label_map("maccrobat"), tokenizer, 32)
    (target,) = teacher_distributions(load_teachers([_teacher(tmp_path / "t", tiny_base, 1)], tokenizer), [window])
    unknown = [allowed == ANY_LABEL for allowed in window.allowed]
    assert sum(unknown) == 4  # history of go ##ut
    assert not target[unknown].any()
    assert target[[not flag for flag in unknown]][1:-1].sum(-1) == pytest.approx(1.0, abs=1e-5)  # ". fever ."


def test_load_teachers_refuses_other_labels(tmp_path, tiny_base, tokenizer) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoModelForTokenClassification

    other = AutoModelForTokenClassification.from_pretrained(str(tiny_base), num_labels=3)
    other.save_pretrained(str(tmp_path / "other"))
    tokenizer.save_pretrained(str(tmp_path / "other"))
    with pytest.raises(ModelLoadError, match=r"\[E592\]"):
        load_teachers([tmp_path / "other"], tokenizer)


def _renumbered(teacher_dir: Path, folder: Path, tokenizer, lowercase: bool = True) -> Path:  # type: ignore[no-untyped-def]
    """The same teacher under MPNet-style numbering: ``<s> <pad> </s> <mask>`` first, then the vocabulary reversed."""
    from transformers import AutoModelForTokenClassification, BertTokenizerFast

    vocab = tokenizer.get_vocab()
    roles = {"<s>": tokenizer.cls_token_id, "<pad>": tokenizer.pad_token_id, "</s>": tokenizer.sep_token_id}
    roles["<mask>"] = tokenizer.mask_token_id
    ordinary = sorted(vocab, key=vocab.__getitem__, reverse=True)
    old_ids = [*roles.values(), *(vocab[token] for token in ordinary)]
    BertTokenizerFast(
        vocab={token: index for index, token in enumerate([*roles, *ordinary])},
        do_lower_case=lowercase,
        cls_token="<s>",
        sep_token="</s>",
        pad_token="<pad>",
        mask_token="<mask>",
    ).save_pretrained(str(folder))
    model = AutoModelForTokenClassification.from_pretrained(str(teacher_dir))
    embeddings = model.get_input_embeddings().weight.detach()[old_ids].clone()
    model.resize_token_embeddings(len(old_ids))
    model.get_input_embeddings().weight.data.copy_(embeddings)
    model.save_pretrained(str(folder))
    return folder


def test_a_teacher_numbering_the_same_wordpieces_otherwise_labels_as_the_original(
    tmp_path, tiny_base, tokenizer
) -> None:  # type: ignore[no-untyped-def]
    import torch

    original = _teacher(tmp_path / "original", tiny_base, seed=5)
    renumbered = _renumbered(original, tmp_path / "renumbered", tokenizer)
    windows = unlabelled_windows(NOTES, tokenizer, max_wordpieces=16)
    expected = teacher_distributions(load_teachers([original], tokenizer), windows, batch_size=3)
    (translated,) = load_teachers([renumbered], tokenizer)
    got = teacher_distributions([translated], windows, batch_size=3)
    for want, have in zip(expected, got, strict=True):
        assert have == pytest.approx(want, abs=1e-6)
    raw = translated.teacher(input_ids=torch.tensor([windows[0].input_ids])).logits.softmax(-1)[0, 1:-1]
    assert not torch.allclose(raw, torch.from_numpy(expected[0][1:-1]), atol=1e-3)  # the ids really differ


def test_load_teachers_refuses_a_teacher_that_cuts_other_wordpieces(tmp_path, tiny_base, tokenizer) -> None:  # type: ignore[no-untyped-def]
    original = _teacher(tmp_path / "original", tiny_base, seed=5)
    cased = _renumbered(original, tmp_path / "cased", tokenizer, lowercase=False)
    with pytest.raises(ModelLoadError, match=r"\[E593\].*cased"):
        load_teachers([cased], tokenizer)


def test_training_with_teachers_on_unlabelled_notes(tmp_path, tiny_base, tiny_data) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoModelForTokenClassification

    _aci_bench(tiny_data)
    teacher = _teacher(tmp_path / "teacher", tiny_base, seed=3)
    config = TrainConfig(
        output_dir=tmp_path / "student",
        base_model=teacher,
        data_dir=tiny_data,
        epochs=1,
        batch_size=4,
        threads=1,
        max_wordpieces=32,
        teachers=(teacher,),
        unlabelled_corpora=("aci_bench",),
        student_layers=1,
    )
    result = train_student(config)
    log = (tmp_path / "student" / "train.log").read_text()
    assert "aci_bench train (unlabelled): 2 texts" in log
    assert "soft targets from 1 teachers" in log
    student = AutoModelForTokenClassification.from_pretrained(str(result.best_model_dir))
    assert student.config.num_hidden_layers == 1


def test_student_layers_keep_first_and_last(tiny_base) -> None:  # type: ignore[no-untyped-def]
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig.from_pretrained(str(tiny_base))
    config.num_hidden_layers = 5
    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(tiny_base))
    full, _ = load_student(tiny_base)
    small, _ = load_student(tiny_base, layers=3)
    kept = [layer.attention.self.query.weight for layer in small.base_model.encoder.layer]
    originals = [full.base_model.encoder.layer[index].attention.self.query.weight for index in (0, 2, 4)]
    assert all(torch.equal(a, b) for a, b in zip(kept, originals, strict=True))
    with pytest.raises(ModelLoadError, match=r"\[E597\]"):
        load_student(tiny_base, layers=6)


def test_config_needs_teachers_for_unlabelled_corpora(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[E595\]"):
        TrainConfig(output_dir=tmp_path, unlabelled_corpora=("aci_bench",))
    with pytest.raises(ConfigError, match=r"\[E594\]"):
        TrainConfig(output_dir=tmp_path, teachers=(tmp_path,), unlabelled_corpora=("mimic",))
    TrainConfig(output_dir=tmp_path, teachers=(tmp_path,), unlabelled_corpora=("aci_bench", "aci_bench_dialogues"))
    with pytest.raises(ConfigError, match=r"\[E596\]"):
        TrainConfig(output_dir=tmp_path, distill_weight=0)


def test_read_aci_bench_notes_skips_blank_notes_and_names_a_bad_file(tmp_path: Path) -> None:
    _aci_bench(tmp_path)
    assert read_aci_bench_notes(tmp_path / "aci_bench", "train") == NOTES
    assert read_aci_bench_notes(tmp_path / "aci_bench", "train", "dialogue") == ["[doctor] hi"] * len(NOTES)
    (tmp_path / "aci_bench" / "train.csv").write_text("dataset,dialogue\naci,hello\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"\[E542\].*train\.csv"):
        read_aci_bench_notes(tmp_path / "aci_bench", "train")


def test_students_and_teachers_load_float32_from_bfloat16_weights(tmp_path, tiny_base, tokenizer) -> None:  # type: ignore[no-untyped-def]
    import torch

    model, _ = load_student(tiny_base)
    save_model(model, tokenizer, tmp_path / "shipped", "bfloat16")  # as the package ships its student
    student, _ = load_student(tmp_path / "shipped")
    (teacher,) = load_teachers([tmp_path / "shipped"], tokenizer)
    assert {p.dtype for p in student.parameters()} == {p.dtype for p in teacher.parameters()} == {torch.float32}
