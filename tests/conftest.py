"""Shared fixtures: paths to the shared reference data and the bundled cTAKES type systems."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from ctakes_llm.ner.mention import Grounding, Mention, MentionClass

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Converted models (the OpenVINO runtime) go to a folder of this session, not the user's cache."""
    folder = tmp_path_factory.mktemp("ctakes_llm_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CTAKES_LLM_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only reference data folder that CI places beside the repository."""
    if not SHARED.is_dir():
        pytest.fail(f"../shared not found at {SHARED}: the suite needs the shared reference data beside the repo")
    return SHARED


class FakeBackend:
    """A backend that finds canned strings (every occurrence) and labels them with a fixed class."""

    name = "fake"

    def __init__(self, terms: dict[str, MentionClass]) -> None:
        self.terms = terms
        self.counters: dict[str, int] = {}
        self.calls: list[int] = []

    def predict(self, texts: Sequence[str]) -> list[list[Mention]]:
        self.calls.append(len(texts))
        results = []
        for text in texts:
            found = []
            for term, cls in self.terms.items():
                for match in re.finditer(re.escape(term), text):
                    found.append(
                        Mention(cls, match.start(), match.end(), term, score=0.9, grounding=Grounding.MODEL_OFFSETS)
                    )
            results.append(sorted(found, key=lambda mention: mention.begin))
        return results


@pytest.fixture()
def fake_backend() -> FakeBackend:
    return FakeBackend({"chest pain": MentionClass.SIGN_SYMPTOM, "aspirin": MentionClass.MEDICATION})
