"""The LLM assertion classifier hands the caller's sentences to the rules that answer what the model does not."""

from __future__ import annotations

from ctakes_llm.assertion.llm import LlmAssertionClassifier
from ctakes_llm.ner.mention import Mention, MentionClass


def test_llm_classifier_fallback_uses_the_given_sentences() -> None:
    text = "No fever and chills today."
    chills = Mention(MentionClass.SIGN_SYMPTOM, text.index("chills"), text.index("chills") + 6, "chills")
    classifier = LlmAssertionClassifier(lambda prompt: "no answer")  # every mention falls back to the rules
    assert classifier.classify(text, [chills])[0]["polarity"] == "-1"
    cut = [(0, text.index(" and")), (text.index("and"), len(text))]  # "No" is in the first sentence only
    assert classifier.classify(text, [chills], cut)[0]["polarity"] == "1"


def test_llm_classifier_prompts_quote_the_given_sentences() -> None:
    text = "No fever and chills today."
    chills = Mention(MentionClass.SIGN_SYMPTOM, text.index("chills"), text.index("chills") + 6, "chills")
    prompts: list[str] = []
    classifier = LlmAssertionClassifier(lambda prompt: prompts.append(prompt) or "no answer")
    classifier.classify(text, [chills])
    classifier.classify(text, [chills], [(0, text.index(" and")), (text.index("and"), len(text))])
    assert f'in: "{text}"' in prompts[0]  # split by the classifier: one sentence
    assert 'in: "and chills today."' in prompts[1]  # the caller's sentence
