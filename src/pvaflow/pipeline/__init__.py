"""Pipelines: a TOML file of stages (spec), run as supervised processes (runner) with a live view (view)."""
