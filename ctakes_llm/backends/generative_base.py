"""What the generative backends (local causal LM, OpenAI-compatible server) share.

Each of them only answers chat requests and counts its own tokens; finding mentions is the
:class:`~ctakes_llm.ner.generative.GenerativeNer` driver's. This base builds that driver once, sized to the
model's context, and hands ``predict`` / ``predict_documents`` to it. ``generate`` is public because more than
NER completes prompts with these backends (the LLM assertion step asks its own questions).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Sequence

from ctakes_llm.backends.prompt_stages import build_prompt_format
from ctakes_llm.ner.formats import Request
from ctakes_llm.ner.generative import DocumentResult, Generation, GenerativeConfig, GenerativeNer, chunk_budget
from ctakes_llm.ner.mention import Mention


class GenerativeBackend(ABC):
    """A Backend that finds mentions by completing prompts; subclasses implement :meth:`generate`."""

    name: str
    #: The NER driver's running totals (see :mod:`ctakes_llm.ner.generative`); a subclass may add its own keys.
    counters: Counter[str]

    def __init__(
        self,
        generative: GenerativeConfig,
        *,
        count_tokens: Callable[[str], int],
        prompt_tokens: Callable[[Request], int],
        context_tokens: int | None,
        max_new_tokens: int,
    ) -> None:
        """Build the NER driver; a subclass calls this last, once its tokenizer or token counter is ready.

        Args:
            generative: prompt format, entity types, chunking and grounding.
            count_tokens: tokens of a piece of note text, in the model's tokenizer (or an estimate).
            prompt_tokens: tokens of a whole rendered request, chat template included.
            context_tokens: the model's context length, to size windows; None when unknown.
            max_new_tokens: the answer's token limit, kept free in every window.

        Raises:
            ConfigError: the context leaves too little room for note text (see :func:`chunk_budget`).
        """
        fmt = build_prompt_format(generative)
        budget = chunk_budget(fmt, prompt_tokens, context_tokens, max_new_tokens)
        self._ner = GenerativeNer(self.generate, count_tokens, generative, max_chunk_tokens=budget, prompt_format=fmt)
        self.counters = self._ner.counters

    @abstractmethod
    def generate(self, requests: Sequence[Request]) -> list[Generation]:
        """Answer chat requests with the model, one generation per request, in order.

        Args:
            requests: the prompts (messages, and the JSON schema the answer should follow, if any).

        Returns:
            Each answer's text, and whether the output token limit cut it off.

        Raises:
            BackendError: the model could not answer (the NER driver then fails that document and goes on).
        """

    def predict(self, texts: Sequence[str]) -> list[list[Mention]]:
        """Return the grounded mentions of each text (see :meth:`GenerativeNer.predict`)."""
        return self._ner.predict(texts)

    def predict_documents(self, texts: Sequence[str]) -> list[DocumentResult]:
        """Per-document mentions, counts, ungrounded strings and errors."""
        return self._ner.predict_documents(texts)
