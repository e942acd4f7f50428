from __future__ import annotations

from typing import ClassVar

import pytest
from cassis import Cas

from ctakes_llm.errors import ConfigError
from ctakes_llm.pipeline import Pipeline


def make_step(name: str, requires: tuple[str, ...], produces: tuple[str, ...], log: list[str]) -> object:
    cls = type(name, (), {"requires": requires, "produces": produces, "process": lambda self, cas: log.append(name)})
    return cls()


def test_pipeline_rejects_step_whose_requirement_nobody_produces() -> None:
    log: list[str] = []
    with pytest.raises(ConfigError, match="E401"):
        Pipeline([make_step("Ner", ("Sentence",), ("Mention",), log), make_step("Pre", (), ("Sentence",), log)])


def test_pipeline_rejects_objects_that_are_not_annotators() -> None:
    with pytest.raises(ConfigError, match="E400"):
        Pipeline([object()])  # type: ignore[list-item]


def test_pipeline_runs_steps_in_order_and_batches_where_supported() -> None:
    log: list[str] = []

    class Batching:
        requires: ClassVar[tuple[str, ...]] = ("Sentence",)
        produces: ClassVar[tuple[str, ...]] = ()

        def process(self, cas: Cas) -> None:
            log.append("one")

        def process_batch(self, cases: list[Cas]) -> None:
            log.append(f"batch{len(cases)}")

    pipeline = Pipeline([make_step("Pre", (), ("Sentence",), log), Batching()])
    pipeline.process_batch([Cas(), Cas(), Cas()])
    assert log == ["Pre", "Pre", "Pre", "batch3"]
    assert [step["annotator"] for step in pipeline.describe()] == ["Pre", "Batching"]
