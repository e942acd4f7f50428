"""Assertion attributes (negation, uncertainty, conditional, history, subject) by ConText-style rules or a model."""
