"""The translation recipes: ``seqkit mt train``, ``translate`` and ``eval``."""
