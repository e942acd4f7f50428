"""Scoring against gold and side-by-side comparison with cTAKES output."""
