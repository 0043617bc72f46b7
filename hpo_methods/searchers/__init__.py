"""Searchers: which configuration to try next."""
