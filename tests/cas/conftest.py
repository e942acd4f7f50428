"""Fixtures for the CAS-layer tests: the cTAKES 4.0.0 type system and CASes holding given mentions."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cassis
import pytest

from ctakes_llm.cas.mentions import write_mentions
from ctakes_llm.cas.typesystem import load_typesystem
from ctakes_llm.ner.mention import Mention


@pytest.fixture(scope="session")
def ts() -> cassis.TypeSystem:
    return load_typesystem("4.0.0")


@pytest.fixture(scope="session")
def annotated_cas(ts: cassis.TypeSystem) -> Callable[[str, Sequence[Mention]], cassis.Cas]:
    """A factory: a CAS of ``text`` with ``mentions`` written as model predictions (discoveryTechnique 3)."""

    def build(text: str, mentions: Sequence[Mention]) -> cassis.Cas:
        cas = cassis.Cas(typesystem=ts)
        cas.sofa_string = text
        write_mentions(cas, mentions, discovery_technique=3)
        return cas

    return build
