"""The language-model recipes: ``seqkit lm train``, ``finetune``, ``generate`` and ``eval``."""
