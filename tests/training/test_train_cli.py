from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ctakes_llm.cli import cli


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
