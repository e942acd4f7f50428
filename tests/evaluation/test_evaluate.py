"""evaluate(): reading both sides, pairing ids, aligning texts, restricting and merging classes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctakes_llm.cas.ctakes_types import DISCOVERY_EXPLICIT
from ctakes_llm.cas.jsonl import mention_to_dict
from ctakes_llm.cas.mentions import write_mentions
from ctakes_llm.cas.readers import cas_from_text
from ctakes_llm.cas.xmi import write_xmi
from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.corpora.splits import read_split
from ctakes_llm.errors import ConfigError, InputError
from ctakes_llm.evaluation.evaluate import EvaluateConfig, evaluate, pair_documents, score_documents
from ctakes_llm.ner.mention import Mention, MentionClass

SS, MED, DD = MentionClass.SIGN_SYMPTOM, MentionClass.MEDICATION, MentionClass.DISEASE_DISORDER
NOTE_A = "No chest pain. Aspirin daily for asthma."
NOTE_B = "Fever and cough since Monday."
QUICK = EvaluateConfig(bootstrap=0)


def mention(text: str, needle: str, cls: MentionClass, **attributes: str) -> Mention:
    begin = text.index(needle)
    return Mention(cls, begin, begin + len(needle), needle, attributes=attributes)


def write_gold_brat(folder: Path) -> None:
    folder.mkdir()
    (folder / "a.txt").write_text(NOTE_A)
    (folder / "a.ann").write_text(
        "T1\tSignSymptom 3 13\tchest pain\nT2\tMedication 15 22\tAspirin\nT3\tDiseaseDisorder 33 39\tasthma\n"
    )
    (folder / "b.txt").write_text(NOTE_B)
    (folder / "b.ann").write_text("T1\tSignSymptom 0 5\tFever\nT2\tSignSymptom 10 15\tcough\n")


def write_pred_xmi(folder: Path, mentions: dict[str, tuple[str, list[Mention]]]) -> None:
    for name, (text, found) in mentions.items():
        cas = cas_from_text(text)
        write_mentions(cas, found, discovery_technique=DISCOVERY_EXPLICIT)
        write_xmi(cas, folder / f"{name}.txt.xmi")


def test_evaluate_brat_gold_against_xmi_predictions(tmp_path: Path) -> None:
    write_gold_brat(tmp_path / "gold")
    write_pred_xmi(
        tmp_path / "pred",
        {
            "a": (NOTE_A, [mention(NOTE_A, "chest pain", SS), mention(NOTE_A, "Aspirin daily", MED)]),
            "b": (NOTE_B, [mention(NOTE_B, "Fever", DD), mention(NOTE_B, "cough", SS), mention(NOTE_B, "Monday", SS)]),
        },
    )
    result = evaluate(tmp_path / "gold", tmp_path / "pred", QUICK)
    # strict: chest pain, cough | lenient adds Aspirin daily | Fever is a class error, Monday a false positive
    assert (result["strict"]["micro"]["tp"], result["strict"]["micro"]["fp"], result["strict"]["micro"]["fn"]) == (
        2,
        3,
        3,
    )
    assert (result["lenient"]["micro"]["tp"], result["lenient"]["micro"]["fp"], result["lenient"]["micro"]["fn"]) == (
        3,
        2,
        2,
    )
    assert result["span_only"]["strict"]["tp"] == 3
    assert result["pairs"] == {"a": "a.txt", "b": "b.txt"}
    assert result["n_documents"] == 2
    assert "micro" in result["table"]
    json.dumps(result)


def test_evaluate_gold_against_itself_is_perfect_on_maccrobat_test(shared_dir: Path) -> None:
    corpus = shared_dir / "data" / "maccrobat" / "brat"
    test_ids = frozenset(read_split(corpus.parent, "test"))
    config = EvaluateConfig(label_map="maccrobat", pred_label_map="maccrobat", doc_ids=test_ids, bootstrap=100)
    result = evaluate(corpus, corpus, config)
    assert result["n_documents"] == 20
    assert result["strict"]["micro"]["tp"] > 100
    for mode in ("strict", "lenient"):
        assert result[mode]["micro"]["f1"] == 1.0 and result[mode]["macro"]["f1"] == 1.0
    assert result["polarity"]["accuracy"] == 1.0 and result["polarity"]["negated"]["f1"] == 1.0
    assert result["intervals"]["strict.micro.f1"] == {"low": 1.0, "high": 1.0}


def test_evaluate_ctakes_xmi_against_itself_is_perfect(shared_dir: Path) -> None:
    folder = shared_dir / "ctakes" / "ctakes-run-output" / "xmi"
    result = evaluate(folder, folder, QUICK)
    assert result["n_documents"] == 21
    assert result["strict"]["micro"]["f1"] == 1.0 and result["span_only"]["strict"]["f1"] == 1.0
    assert result["cui"]["agreement"] == 1.0


def test_evaluate_lists_unpaired_documents_or_ignores_them(tmp_path: Path) -> None:
    write_gold_brat(tmp_path / "gold")
    write_pred_xmi(tmp_path / "pred", {"a": (NOTE_A, [mention(NOTE_A, "chest pain", SS)])})
    with pytest.raises(InputError, match=r"E614.*1 documents only in gold \['b'\]"):
        evaluate(tmp_path / "gold", tmp_path / "pred", QUICK)
    result = evaluate(tmp_path / "gold", tmp_path / "pred", EvaluateConfig(bootstrap=0, ignore_unpaired=True))
    assert result["n_documents"] == 1 and result["unpaired"] == {"gold": ["b"], "pred": []}


def test_score_documents_aligns_crlf_and_refuses_other_texts() -> None:
    crlf = "Line one.\r\nNo fever.\r\n"
    lf = crlf.replace("\r\n", "\n")
    gold = [GoldDocument("n", crlf, (mention(crlf, "fever", SS),))]
    pred = [GoldDocument("n", lf, (mention(lf, "fever", SS),))]
    assert score_documents(gold, pred, QUICK).micro("strict").f1 == 1.0
    other = [GoldDocument("n", "Line one.\nNo fever!\n", (mention(lf, "fever", SS),))]
    with pytest.raises(InputError, match=r"E618.*first difference at 18"):
        score_documents(gold, other, QUICK)


def test_evaluate_bc5cdr_map_merges_alternatives_and_restricts_classes(tmp_path: Path) -> None:
    gold = tmp_path / "cdr.txt"
    gold.write_text(
        "1|t|Aspirin caused rash.\n1|a|Nothing else.\n1\t0\t7\tAspirin\tChemical\tD001241\n"
        "1\t15\t19\trash\tDisease\tD005076\n\n"
    )
    text = "Aspirin caused rash. Nothing else."
    found = [
        mention(text, "Aspirin", MED),
        mention(text, "rash", SS),
        Mention(MentionClass.ANATOMICAL_SITE, 21, 28, "Nothing"),
    ]
    pred = tmp_path / "annotations.jsonl"
    pred.write_text(json.dumps({"id": "1", "text": text, "mentions": [mention_to_dict(m) for m in found]}) + "\n")
    result = evaluate(gold, pred, EvaluateConfig(label_map="bc5cdr", bootstrap=0))
    assert result["classes"] == ["Medication", "DiseaseDisorder"]
    assert result["merge"] == {"SignSymptom": "DiseaseDisorder"}
    assert (result["strict"]["micro"]["tp"], result["strict"]["micro"]["fp"], result["strict"]["micro"]["fn"]) == (
        2,
        0,
        0,
    )
    plain = evaluate(
        gold,
        pred,
        EvaluateConfig(label_map="bc5cdr", bootstrap=0, merge_alternatives=False, restrict_to_annotated=False),
    )
    assert plain["strict"]["micro"]["tp"] == 1 and plain["strict"]["micro"]["fp"] == 2


def test_pair_documents_matches_ctakes_names_to_ours() -> None:
    pairing = pair_documents(
        ["examples__small__claudication", "examples__small__dr_nutritious_1.txt", "examples__smoker__x.txt"],
        ["small/claudication", "small/dr_nutritious_1.txt", "y.txt"],
    )
    assert pairing.pairs == [
        ("examples__small__claudication", "small/claudication"),
        ("examples__small__dr_nutritious_1.txt", "small/dr_nutritious_1.txt"),
    ]
    assert pairing.only_a == ["examples__smoker__x.txt"] and pairing.only_b == ["y.txt"]


def test_pair_documents_leaves_ambiguous_suffixes_unpaired() -> None:
    pairing = pair_documents(["a__note", "b__note"], ["note"])
    assert pairing.pairs == [] and pairing.only_b == ["note"]


def test_evaluate_config_validates() -> None:
    with pytest.raises(ConfigError, match="E610"):
        EvaluateConfig(gold_format="conll")
    with pytest.raises(ConfigError, match="E613"):
        EvaluateConfig(merge={SS: DD, DD: MED})


def test_score_documents_accepts_replacement_characters_for_undecodable_bytes() -> None:
    ctakes_text = "Quit \ufffdsmoking\ufffd in 2001."  # cp1252 quotes read as UTF-8 with replacement, as cTAKES does
    our_text = "Quit \u201csmoking\u201d in 2001."
    gold = [GoldDocument("n", ctakes_text, (mention(ctakes_text, "smoking", SS),))]
    pred = [GoldDocument("n", our_text, (mention(our_text, "smoking", SS),))]
    assert score_documents(gold, pred, QUICK).micro("strict").f1 == 1.0
    other = [GoldDocument("n", our_text.replace("2001", "2002"), ())]
    with pytest.raises(InputError, match="E618"):
        score_documents(gold, other, QUICK)
