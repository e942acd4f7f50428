"""``ctakes-llm annotate`` prints what the NER side dropped, retried or could not ground in its summary."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from backends.openai_test_server import OpenAiTestServer
from click.testing import CliRunner

from ctakes_llm.cli import cli
from ctakes_llm.runner import MANIFEST_NAME


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAiTestServer]:
    running = OpenAiTestServer(model=None, tokenizer=None).start()
    yield running
    running.stop()


def notes(folder: Path) -> Path:
    folder.mkdir()
    (folder / "a.txt").write_text("Reports chest pain. Takes aspirin.\n", encoding="utf-8")
    return folder


def test_cli_summary_shows_dropped_strings_and_server_retries(tmp_path: Path, server: OpenAiTestServer) -> None:
    server.reset()
    server.answer = lambda messages: (
        '["chest pain", "unicorn horn"]' if "sign or symptom" in messages[-1]["content"] else "[]"
    )
    server.fail_next = 1  # HTTP 500 once: retried after the default 0.5 s backoff
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            *("annotate", str(notes(tmp_path / "notes")), "-o", str(out), "--no-progress"),
            *("--backend", "openai", "--base-url", server.base_url, "--model", server.model_name),
            *("--prompt-format", "universal_ner"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 written" in result.output
    assert "; NER: 1 dropped (model string not in the text, E307), 1 retried (server requests, E239)" in result.output
    counts = json.loads((out / MANIFEST_NAME).read_text())["counts"]["ner"]
    assert (counts["ungrounded"], counts["retries"]) == (1, 1)


def test_cli_summary_has_no_ner_counts_when_nothing_was_lost(tmp_path: Path) -> None:
    bsv = tmp_path / "terms.bsv"
    bsv.write_text("C0008031|T184|chest pain\n", encoding="utf-8")
    out = tmp_path / "out"
    options = ["--no-progress", "--no-model", "--dictionary", str(bsv)]
    result = CliRunner().invoke(cli, ["annotate", str(notes(tmp_path / "notes")), "-o", str(out), *options])
    assert result.exit_code == 0, result.output
    assert "1 written" in result.output and "NER:" not in result.output
