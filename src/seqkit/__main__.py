"""``python -m seqkit`` runs the CLI (this is what ``torchrun -m seqkit`` uses)."""

from __future__ import annotations

import sys

from seqkit.cli.main import main

sys.exit(main())
