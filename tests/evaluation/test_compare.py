"""compare(): real cTAKES XMI against itself and against a copy changed with cassis, with expected counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctakes_llm.corpora.document import GoldDocument
from ctakes_llm.errors import ConfigError, InputError
from ctakes_llm.evaluation.compare import CompareConfig, Status, align_mentions, compare, compare_documents
from ctakes_llm.ner.mention import Mention, MentionClass

DD, SS, PROC = MentionClass.DISEASE_DISORDER, MentionClass.SIGN_SYMPTOM, MentionClass.PROCEDURE


def test_compare_ctakes_output_with_itself_agrees_everywhere(ctakes_xmi_dir: Path) -> None:
    result = compare(ctakes_xmi_dir, ctakes_xmi_dir, CompareConfig(a_name="cTAKES", b_name="again"))
    total = result.totals()
    assert len(result.documents) == 21 and total.a == total.b == total.same == 256
    assert (total.overlap, total.other_class, total.only_a, total.only_b) == (0, 0, 0, 0)
    assert result.polarity_pairs == result.polarity_agree == 256
    assert result.cui_pairs == result.cui_agree == 256
    assert result.agreement.micro("strict").f1 == 1.0
    assert all(a == b for a, b in result.confusion)


def test_compare_ctakes_output_with_a_changed_copy(ctakes_xmi_dir: Path, modified_copy) -> None:
    other, plan = modified_copy
    assert sum(plan.dropped.values()) >= 10 and sum(plan.relabelled.values()) >= 10 and plan.added >= 5
    result = compare(ctakes_xmi_dir, other, CompareConfig(a_name="cTAKES", b_name="changed"))
    assert len(result.documents) == 21
    a_counts = {cls: c.a for cls, c in result.per_class.items()}
    assert sum(a_counts.values()) == plan.total == 256
    for cls, counts in result.per_class.items():
        assert counts.only_a == plan.dropped[cls]
        assert counts.other_class == plan.relabelled[cls]
        assert counts.same == counts.a - plan.dropped[cls] - plan.relabelled[cls]
        assert counts.overlap == 0
        expected_b = counts.a - plan.dropped[cls] - plan.relabelled[cls] + plan.relabelled_to[cls]
        assert counts.b == expected_b + (plan.added if cls is PROC else 0)
        assert counts.only_b == (plan.added if cls is PROC else 0)
    same = result.totals().same
    assert result.polarity_pairs == same
    assert result.polarity_agree == same - sum(plan.negated.values())
    assert result.cui_pairs == result.cui_agree == same
    relabel_pairs = {pair: n for pair, n in result.confusion.items() if pair[0] != pair[1]}
    assert sum(relabel_pairs.values()) == sum(plan.relabelled.values())
    assert all(b in (DD, SS) for _, b in relabel_pairs)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["total"]["only_a"] == sum(plan.dropped.values())
    assert "only A" in result.format_table()


def test_align_mentions_rounds_same_then_overlap_then_other_class() -> None:
    a = [Mention(SS, 0, 10, "chest pain"), Mention(DD, 20, 26, "asthma"), Mention(PROC, 30, 35, "x-ray")]
    b = [
        Mention(SS, 6, 10, "pain", attributes={"polarity": "-1"}),
        Mention(SS, 20, 26, "asthma"),
        Mention(PROC, 40, 44, "scan"),
    ]
    rows = align_mentions(a, b)
    assert [(r.status, r.a.text if r.a else None, r.b.text if r.b else None) for r in rows] == [
        (Status.OVERLAP, "chest pain", "pain"),
        (Status.OTHER_CLASS, "asthma", "asthma"),
        (Status.ONLY_A, "x-ray", None),
        (Status.ONLY_B, None, "scan"),
    ]
    assert rows[0].polarity_differs and rows[0].disagrees
    assert not rows[1].polarity_differs


def test_compare_documents_merges_and_restricts_classes() -> None:
    text = "chest pain and asthma"
    a = [GoldDocument("n", text, (Mention(SS, 0, 10, "chest pain"), Mention(DD, 15, 21, "asthma")))]
    b = [GoldDocument("n", text, (Mention(DD, 0, 10, "chest pain"), Mention(DD, 15, 21, "asthma")))]
    merged = compare_documents(a, b, CompareConfig(merge={SS: DD}))
    assert merged.totals().same == 2 and list(merged.per_class) == [DD]
    only_dd = compare_documents(a, b, CompareConfig(classes=(DD,)))
    assert only_dd.totals().a == 1 and only_dd.totals().b == 2 and only_dd.totals().only_b == 1


def test_compare_refuses_unpaired_notes_unless_asked(ctakes_xmi_dir: Path, tmp_path: Path) -> None:
    one = tmp_path / "one"
    one.mkdir()
    (one / "examples__small__claudication.xmi").write_bytes(
        (ctakes_xmi_dir / "examples__small__claudication.xmi").read_bytes()
    )
    with pytest.raises(InputError, match="E614"):
        compare(ctakes_xmi_dir, one)
    result = compare(ctakes_xmi_dir, one, CompareConfig(ignore_unpaired=True))
    assert len(result.documents) == 1 and len(result.pairing.only_a) == 20


def test_compare_config_validates() -> None:
    with pytest.raises(ConfigError, match="E620"):
        CompareConfig(a_name="same", b_name="same")
    with pytest.raises(ConfigError, match="E621"):
        CompareConfig(b_format="csv")
    with pytest.raises(ConfigError, match="E622"):
        CompareConfig(classes=(SS,), merge={SS: DD})
