"""Atomic, verified training checkpoints with exact resume."""

from __future__ import annotations

from seqkit.checkpoint.errors import CheckpointError as CheckpointError
from seqkit.checkpoint.errors import CorruptCheckpointError as CorruptCheckpointError
from seqkit.checkpoint.manager import CheckpointManager as CheckpointManager
from seqkit.checkpoint.manager import CheckpointState as CheckpointState
from seqkit.checkpoint.manager import LoadedCheckpoint as LoadedCheckpoint
from seqkit.checkpoint.manager import StandardCheckpointManager as StandardCheckpointManager
from seqkit.checkpoint.manifest import MANIFEST_NAME as MANIFEST_NAME
from seqkit.checkpoint.manifest import Manifest as Manifest
from seqkit.checkpoint.manifest import read_manifest as read_manifest
