"""Mentions and everything between a model's raw output and them (no CAS here)."""
