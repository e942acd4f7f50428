from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from ctakes_llm.cli import cli


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append(((*prefix, name), command))
        if isinstance(command, click.Group):
            found += all_commands(command, (*prefix, name))
    return found


@pytest.mark.parametrize("path", [path for path, _ in all_commands(cli)], ids=" ".join)
def test_cli_every_command_has_help_with_text(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    command = dict(all_commands(cli))[path]
    assert command.help and len(command.help.strip()) > 20, f"{' '.join(path)} lacks a real help text"


def test_cli_typesystem_list_names_all_bundled_versions() -> None:
    result = CliRunner().invoke(cli, ["typesystem", "list"])
    assert result.exit_code == 0
    names = [line.split("\t")[0] for line in result.output.splitlines()]
    assert {"4.0.0", "6.0.0", "main"} <= set(names)


def test_cli_typesystem_export_writes_the_descriptor(tmp_path) -> None:
    target = tmp_path / "ts.xml"
    result = CliRunner().invoke(cli, ["typesystem", "export", "6.0.0", str(target)])
    assert result.exit_code == 0, result.output
    assert b"org.apache.ctakes.typesystem.type.textsem.IdentifiedAnnotation" in target.read_bytes()


def test_cli_unknown_typesystem_is_a_one_line_error(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["typesystem", "export", "3.2.1", str(tmp_path / "x.xml")])
    assert result.exit_code == 1
    assert "Error:" in result.output and "3.2.1" in result.output


def test_cli_annotate_stdin_to_stdout_with_a_bsv_dictionary_and_negation(tmp_path) -> None:
    bsv = tmp_path / "terms.bsv"
    bsv.write_text("// test terms\nC0008031|T184|chest pain\nC0004057|T121|aspirin\n", encoding="utf-8")
    note = "Patient denies chest pain \U0001f642. Takes aspirin 81 mg daily.\n"
    result = CliRunner().invoke(
        cli,
        ["annotate", "-", "-o", "-", "--format", "ctakes-json", "--no-model", "--dictionary", str(bsv)],
        input=note.encode("utf-8"),
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    [pain] = payload["SignSymptomMention"]
    [aspirin] = payload["MedicationMention"]
    assert (pain["text"], pain["polarity"], pain["conceptAttributes"][0]["cui"]) == ("chest pain", -1, "C0008031")
    assert (aspirin["text"], aspirin["polarity"]) == ("aspirin", 0)
    # cTAKES REST offsets are UTF-16: the emoji before "aspirin" counts twice
    assert aspirin["begin"] == note.index("aspirin") + 1


def test_cli_annotate_folder_exits_1_and_names_the_bad_file(tmp_path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "good.txt").write_text("chest pain", encoding="utf-8")
    (notes / "bad.txt").write_bytes(b"\xff\xfe\x00chest")
    bsv = tmp_path / "terms.bsv"
    bsv.write_text("C0008031|T184|chest pain\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        ["annotate", str(notes), "-o", str(tmp_path / "out"), "--no-model", "--dictionary", str(bsv), "--no-progress"],
    )
    assert result.exit_code == 1
    assert "bad.txt" in result.stderr and "E121" in result.stderr
    assert (tmp_path / "out" / "good.txt.xmi").is_file()


def test_cli_evaluate_gold_against_itself_scores_one(shared_dir, tmp_path) -> None:
    gold = shared_dir / "data" / "maccrobat" / "brat"
    out = tmp_path / "scores.json"
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--gold",
            str(gold),
            "--pred",
            str(gold),
            "--label-map",
            "maccrobat",
            "--pred-label-map",
            "maccrobat",
            "--split",
            "test",
            "--bootstrap",
            "0",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    assert scores["strict"]["micro"]["f1"] == 1.0


def test_cli_compare_writes_an_html_report(shared_dir, tmp_path) -> None:
    xmi = shared_dir / "ctakes" / "ctakes-run-output" / "xmi"
    html = tmp_path / "report.html"
    result = CliRunner().invoke(
        cli, ["compare", str(xmi), str(xmi), "--a-name", "cTAKES", "--b-name", "copy", "--html", str(html)]
    )
    assert result.exit_code == 0, result.output
    page = html.read_text(encoding="utf-8")
    assert "cTAKES" in page and "claudication" in page


def test_cli_kb_build_writes_an_index_that_annotate_runs_with(tmp_path) -> None:
    bsv = tmp_path / "terms.bsv"
    bsv.write_text("C0008031|T184|chest pain|Chest Pain\nC0004057|T121|aspirin|Aspirin\n", encoding="utf-8")
    index = tmp_path / "kb.sqlite"
    built = CliRunner().invoke(cli, ["kb", "build", "-o", str(index), "--bsv", str(bsv)])
    assert built.exit_code == 0, built.output
    assert json.loads(built.stderr)["terms"] == 2
    result = CliRunner().invoke(
        cli,
        ["annotate", "-", "-o", "-", "--format", "jsonl", "--no-model", "--dictionary", str(bsv), "--kb", str(index)],
        input=b"No chest pain. Takes aspirin.\n",
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    cuis = {mention["text"]: [concept["cui"] for concept in mention["concepts"]] for mention in record["mentions"]}
    assert cuis == {"chest pain": ["C0008031"], "aspirin": ["C0004057"]}


def test_cli_annotate_bad_dtype_is_a_one_line_error_naming_the_choices() -> None:
    result = CliRunner().invoke(cli, ["annotate", "-", "-o", "-", "--dtype", "float64"], input=b"chest pain\n")
    assert result.exit_code == 1
    assert "E223" in result.output and "bfloat16" in result.output


def test_python_dash_m_runs_the_cli() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "ctakes_llm", "train", "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "--device [auto|cpu|cuda]" in done.stdout
