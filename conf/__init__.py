"""Hydra configuration of tunebench (config groups method/ and benchmark/)."""
