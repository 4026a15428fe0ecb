"""Recipes: config dataclasses, presets and the wiring behind ``seqkit lm`` and ``seqkit mt``."""
