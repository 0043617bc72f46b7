"""Schedulers: how many epochs each trial trains (continue, stop, pause and resume)."""
