"""Annotators: small classes with ``process(cas) -> None`` that add cTAKES feature structures."""
