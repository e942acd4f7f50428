"""A recall proxy on clinical visit notes: how many chief and secondary complaints does a model tag?

MACCROBAT (case reports) is the only entity gold here, and the student is meant for clinical notes too. ACI-bench
has no entity gold, but its metadata names each encounter's chief complaint (``cc``) and secondary complaints
(``2nd_complaints``, ``;``-separated). Every case-insensitive, whole-word occurrence of such a complaint phrase in
the note counts as one target; it is *found* when a predicted mention overlaps it (any class: "hx appendectomy" is
a procedure, "knee pain" a symptom). Complaint phrases that are not conditions ("annual exam", "follow-up of chronic
problems") are dropped. This measures recall only, on phrases a clinician chose, not the exact spans.

Only the dev and test splits are read (``split.json``): distilled students saw the train notes.

Example: python benchmarks/bench_aci_complaints.py ctakes_llm/models/default runs/seed13/best
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

from results_log import append_result

from ctakes_llm.backends.token_classifier import TokenClassifierBackend, TokenClassifierConfig

REPO = Path(__file__).resolve().parents[1]
ACI_DIR = REPO.parent / "shared" / "data" / "aci_bench"
_NOT_CONDITIONS = re.compile(r"\b(exam|follow[- ]?up|physical|check[- ]?up|visit|consult|establish|results?)\b", re.I)


@dataclass(frozen=True)
class Target:
    """One occurrence of a complaint phrase in one note."""

    note: int
    begin: int
    end: int


def complaint_phrases(metadata: dict[str, str]) -> list[str]:
    """The condition phrases of one encounter's ``cc`` and ``2nd_complaints``, ``hx`` prefixes removed."""
    raw = [*metadata.get("cc", "").split(","), *metadata.get("2nd_complaints", "").split(";")]
    phrases = [re.sub(r"^(hx|history) (of )?", "", phrase.strip().lower()) for phrase in raw]
    return [phrase for phrase in phrases if len(phrase) > 2 and not _NOT_CONDITIONS.search(phrase)]


def load_targets(aci_dir: Path, splits: tuple[str, ...]) -> tuple[list[str], list[Target]]:
    """Notes of the splits and every occurrence of their complaint phrases."""
    files = [entry for split in splits for entry in json.loads((aci_dir / "split.json").read_text())[split]]
    notes: list[str] = []
    targets: list[Target] = []
    for entry in files:
        path = aci_dir / entry
        metadata_path = path.with_name(path.stem + "_metadata.csv")
        with metadata_path.open(newline="", encoding="utf-8") as stream:
            metadata = {row["encounter_id"]: row for row in csv.DictReader(stream)}
        with path.open(newline="", encoding="utf-8") as stream:
            for row in csv.DictReader(stream):
                note = row["note"]
                for phrase in complaint_phrases(metadata.get(row["encounter_id"], {})):
                    for match in re.finditer(rf"(?<!\w){re.escape(phrase)}(?!\w)", note, re.IGNORECASE):
                        targets.append(Target(len(notes), match.start(), match.end()))
                notes.append(note)
    return notes, targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="token-classifier model folders")
    parser.add_argument("--aci-dir", type=Path, default=ACI_DIR)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runtime", default="torch", choices=["auto", "torch", "openvino"])
    args = parser.parse_args()

    notes, targets = load_targets(args.aci_dir, ("dev", "test"))
    print(f"{len(notes)} notes, {len(targets)} complaint occurrences")
    for model in args.models:
        options = TokenClassifierConfig(model=model, num_threads=args.threads, runtime=args.runtime)
        backend = TokenClassifierBackend(options)
        predicted = backend.predict(notes)
        found = sum(
            any(m.begin < target.end and target.begin < m.end for m in predicted[target.note]) for target in targets
        )
        mentions = sum(len(per_note) for per_note in predicted)
        recall = found / len(targets) if targets else 0.0
        print(
            f"{model}: {found}/{len(targets)} complaint occurrences tagged (recall {recall:.3f}); {mentions} mentions"
        )
        append_result(
            "aci_complaints",
            {
                "model": model,
                "dataset": "aci_bench dev+test notes, metadata cc and 2nd_complaints",
                "notes": len(notes),
                "targets": len(targets),
                "found": found,
                "recall": round(recall, 4),
                "mentions": mentions,
            },
        )


if __name__ == "__main__":
    main()
