from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ctakes_llm.cli import cli
from ctakes_llm.ner.mention import MentionClass
from ctakes_llm.training.data import label_windows


def test_cli_train_runs_resumes_and_exports_a_loadable_student(tmp_path: Path, tiny_base, tiny_data) -> None:  # type: ignore[no-untyped-def]
    out, export = tmp_path / "run", tmp_path / "student"
    args = [
        "train",
        str(out),
        "--base-model",
        str(tiny_base),
        "--data-dir",
        str(tiny_data),
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--threads",
        "1",
    ]
    first = CliRunner().invoke(cli, [*args, "--max-steps", "1"])
    assert first.exit_code == 0, first.output
    assert (out / "checkpoint.pt").is_file()
    second = CliRunner().invoke(cli, [*args, "--export", str(export)])
    assert second.exit_code == 0, second.output
    assert "best dev strict F1" in second.stderr
    config = json.loads((export / "config.json").read_text())
    assert config["id2label"]["0"] == "O" and len(config["id2label"]) == 11

    from ctakes_llm.backends.token_classifier import load

    backend = load(str(export), {"max_length": 64, "overlap": 8})
    assert isinstance(backend.predict(["Chest pain and fever."])[0], list)


def test_cli_train_distils_a_smaller_student_from_teachers_on_unlabelled_notes(
    tmp_path: Path, tiny_base, tiny_data
) -> None:  # type: ignore[no-untyped-def]
    from test_distill import _aci_bench, _teacher

    _aci_bench(tiny_data)
    teacher = _teacher(tmp_path / "teacher", tiny_base, seed=5)
    out = tmp_path / "student"
    common = ["--data-dir", str(tiny_data), "--epochs", "1", "--threads", "1", "--max-wordpieces", "32"]
    distil = ["--teacher", str(teacher), "--unlabelled-corpora", "aci_bench", "--distill-weight", "0.7"]
    small = ["--student-layers", "1", "--bf16-autocast"]
    result = CliRunner().invoke(cli, ["train", str(out), "--base-model", str(teacher), *common, *distil, *small])
    assert result.exit_code == 0, result.output
    logged = json.loads((out / "train.log").read_text().split(" config ", 1)[1].split("; ", 1)[0])
    assert logged["teachers"] == [str(teacher)] and logged["distill_weight"] == 0.7
    assert logged["unlabelled_corpora"] == ["aci_bench"] and logged["student_layers"] == 1 and logged["bf16_autocast"]
    missing = CliRunner().invoke(cli, ["train", str(tmp_path / "x"), *common, "--unlabelled-corpora", "aci_bench"])
    assert missing.exit_code != 0 and "E595" in missing.output


def test_cli_train_adds_llm_silver_windows_and_refuses_a_dev_text(
    tmp_path: Path, tiny_base, tiny_data, fake_backend, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from test_silver import NOTE, annotate

    from ctakes_llm.training import loop

    weights: dict[str, set[float]] = {}

    def spy(docs, label_map, *args, **kwargs):  # type: ignore[no-untyped-def]
        windows = label_windows(docs, label_map, *args, **kwargs)
        weights.setdefault(label_map.corpus, set()).update(window.weight for window in windows)
        return windows

    monkeypatch.setattr(loop, "label_windows", spy)
    silver = annotate(tmp_path, fake_backend, {"a.txt": NOTE})
    out = tmp_path / "run"
    common = ["--base-model", str(tiny_base), "--data-dir", str(tiny_data), "--threads", "1", "--max-wordpieces", "32"]
    fit = ["--epochs", "1", "--batch-size", "1", "--max-steps", "2"]
    result = CliRunner().invoke(
        cli, ["train", str(out), *common, *fit, "--silver", str(silver), "--silver-weight", "0.5"]
    )
    assert result.exit_code == 0, result.output
    log = (out / "train.log").read_text()
    assert f"silver {silver}: 1 docs, 2 mentions, 1 windows (weight 0.5)" in log
    logged = json.loads(log.split(" config ", 1)[1].split("; ", 1)[0])
    assert logged["silver"] == [str(silver)] and logged["silver_weight"] == 0.5
    assert "; 3 steps (3 per epoch)" in log  # two MACCROBAT train windows and the silver one, one per batch
    assert weights == {"maccrobat": {1.0}, "silver": {0.5}}

    fake_backend.terms = {"pain": MentionClass.SIGN_SYMPTOM}
    leaky = annotate(
        tmp_path / "leak", fake_backend, {"b.txt": (tiny_data / "maccrobat" / "brat" / "b.txt").read_text()}
    )
    refused = CliRunner().invoke(cli, ["train", str(tmp_path / "leak-run"), *common, "--silver", str(leaky)])
    assert refused.exit_code == 1 and "[E522]" in refused.output and "dev document 'b'" in refused.output
