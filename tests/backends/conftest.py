"""Tiny token-classification models built in the test run: a WordPiece tokenizer trained here and BERT weights.

``tiny_token_model`` has random weights (any prediction is possible). ``keyword_token_model`` is wired by hand so
that each wordpiece's label depends on that wordpiece alone, never on its context or position: predictions are
then known in advance and must not change with how a text is cut into windows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ctakes_llm.ner.bio import BIO_LABELS, LABEL_TO_ID

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CORPUS = [
    "The patient reports chest pain and fever since Monday.",
    "Started aspirin 81 mg daily; pneumonia resolved after the x-ray.",
    "Denies shortness of breath. Abdomen soft, non-tender.",
    "History of diabetes mellitus type 2, on metformin 500 mg twice a day.",
    "Plan: follow up in two weeks, repeat CBC and chest x-ray.",
]
#: Whole words of the tokenizer's vocabulary and the tag the keyword model gives them.
KEYWORD_TAGS = {
    "aspirin": "B-Medication",
    "metformin": "B-Medication",
    "pneumonia": "B-DiseaseDisorder",
    "fever": "B-SignSymptom",
    "chest": "B-SignSymptom",
    "pain": "I-SignSymptom",
    "abdomen": "B-AnatomicalSite",
    "cbc": "B-Procedure",
}


def _train_tokenizer(directory: Path) -> int:
    """Train a small lowercasing WordPiece tokenizer, save it as a transformers fast tokenizer; return its size."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(CORPUS * 20, trainers.WordPieceTrainer(vocab_size=300, special_tokens=SPECIAL_TOKENS))
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    tokenizer.decoder = decoders.WordPiece()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    fast.save_pretrained(directory)
    for keyword in KEYWORD_TAGS:
        assert tokenizer.token_to_id(keyword) is not None, f"{keyword!r} must be one wordpiece of the test vocabulary"
    return int(tokenizer.get_vocab_size())


def _bert_config(vocab_size: int, hidden_size: int, heads: int) -> object:
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=2,
        num_attention_heads=heads,
        intermediate_size=hidden_size * 2,
        max_position_embeddings=512,
        id2label=dict(enumerate(BIO_LABELS)),
        label2id=dict(LABEL_TO_ID),
    )


@pytest.fixture(scope="session")
def tiny_token_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight 2-layer BERT token classifier with BIO labels over the five classes, and its tokenizer."""
    import torch
    from transformers import BertForTokenClassification

    directory = tmp_path_factory.mktemp("tiny_token_model")
    vocab_size = _train_tokenizer(directory)
    torch.manual_seed(0)
    BertForTokenClassification(_bert_config(vocab_size, hidden_size=32, heads=2)).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def keyword_token_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BERT token classifier that tags each wordpiece by its identity alone (see KEYWORD_TAGS), else ``O``.

    Each keyword's word embedding is its own one-hot row, every other embedding (word, position, segment) is
    zero, and every layer adds nothing to the residual stream, so a wordpiece's hidden state is the normalized
    one-hot vector of its keyword, or zero.
    """
    import torch
    from transformers import AutoTokenizer, BertForTokenClassification

    directory = tmp_path_factory.mktemp("keyword_token_model")
    vocab_size = _train_tokenizer(directory)
    vocab = AutoTokenizer.from_pretrained(directory, local_files_only=True).get_vocab()
    hidden_size = 16
    model = BertForTokenClassification(_bert_config(vocab_size, hidden_size=hidden_size, heads=1))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        for name, parameter in model.named_parameters():
            if "LayerNorm.weight" in name:
                parameter.fill_(1.0)
        model.classifier.bias[LABEL_TO_ID["O"]] = 5.0
        for dimension, (keyword, tag) in enumerate(KEYWORD_TAGS.items()):
            model.bert.embeddings.word_embeddings.weight[vocab[keyword], dimension] = 1.0
            model.classifier.weight[LABEL_TO_ID[tag], dimension] = 3.0
    model.save_pretrained(directory)
    return directory
