"""``python -m ctakes_llm``: the CLI, where the ``ctakes-llm`` script is not on the PATH (a source checkout)."""

from ctakes_llm.cli import main

main()
