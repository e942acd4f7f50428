"""``python -m ctakes_llm.training OUTPUT_DIR [--field value ...]``: run ``train_student`` from a shell.

Every ``TrainConfig`` field is an option (``--epochs 10 --extra-corpora ncbi_disease,bc5cdr``).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from typing import Any

from ctakes_llm.training.config import TrainConfig
from ctakes_llm.training.loop import train_student


def main() -> None:
    """Parse options into a ``TrainConfig`` and train."""
    parser = argparse.ArgumentParser(prog="python -m ctakes_llm.training", description=__doc__)
    parser.add_argument("output_dir")
    for field in dataclasses.fields(TrainConfig):
        if field.name != "output_dir":
            parser.add_argument(f"--{field.name.replace('_', '-')}", dest=field.name)
    args = parser.parse_args()
    defaults = TrainConfig(output_dir=args.output_dir)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(TrainConfig):
        raw = getattr(args, field.name)
        if field.name == "output_dir" or raw is None:
            continue
        default = getattr(defaults, field.name)
        if field.name == "extra_corpora":
            values[field.name] = tuple(name for name in raw.split(",") if name)
        elif isinstance(default, bool):
            values[field.name] = raw.lower() in ("1", "true", "yes")
        elif isinstance(default, (int, float)) and not isinstance(default, bool):
            values[field.name] = type(default)(raw)
        elif field.name == "max_steps":
            values[field.name] = int(raw)
        else:
            values[field.name] = raw
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    train_student(dataclasses.replace(defaults, **values))


if __name__ == "__main__":
    main()
