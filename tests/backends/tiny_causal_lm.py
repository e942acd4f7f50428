"""Tiny causal LMs built in the test run: a byte-level BPE tokenizer trained here and random GPT-2 weights.

Random weights answer garbage, which is exactly the "model answers garbage" case. For positive cases,
:class:`ForcedAnswer` is a logits processor that makes the real ``generate`` loop emit a canned answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CORPUS = [
    "The patient reports chest pain and fever since Monday. Started aspirin 81 mg daily.",
    "Pneumonia resolved after the chest x-ray. Denies shortness of breath. Abdomen soft.",
    "A virtual assistant answers questions from a user based on the provided text.",
    "Text: I've read this text. What describes disease or disorder in the text?",
    "What describes sign or symptom, procedure, medication, anatomical site in the text?",
    'Answer with a JSON list: ["chest pain", "fever"] [{"text": "aspirin", "type": "Medication"}] []',
    "You are a clinical named entity recognition system. Find every mention of these entity types.",
    "DiseaseDisorder SignSymptom Procedure Medication AnatomicalSite USER: ASSISTANT: system user assistant",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
EOS = "<|end|>"
PAD = "<|pad|>"


def build_tiny_causal_lm(directory: Path, *, chat_template: bool = True, n_positions: int = 2048) -> Path:
    """Save a random-weight GPT-2 and a freshly trained tokenizer to ``directory``; return it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=500, special_tokens=[EOS, PAD], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(CORPUS * 10, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOS, pad_token=PAD)
    if chat_template:
        fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(directory)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(fast),
        n_positions=n_positions,
        n_embd=32,
        n_layer=1,
        n_head=2,
        eos_token_id=fast.eos_token_id,
        bos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    GPT2LMHeadModel(config).save_pretrained(directory)
    return directory


class ForcedAnswer:
    """A logits processor that makes every sequence of a batch generate ``answer`` and then the eos token."""

    def __init__(self, tokenizer: Any, answer: str) -> None:
        self.ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
        self.eos = tokenizer.eos_token_id
        self.prompt_length = 0
        self.last_length = -1

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        length = input_ids.shape[1]
        if length != self.last_length + 1:
            self.prompt_length = length
        self.last_length = length
        step = length - self.prompt_length
        target = self.ids[step] if step < len(self.ids) else self.eos
        forced = scores.new_full(scores.shape, float("-inf"))
        forced[:, target] = 0.0
        return forced
