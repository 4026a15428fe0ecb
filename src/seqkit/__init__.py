"""seqkit: a sequence-modeling research library on PyTorch.

Notebook API::

    import seqkit
    container = seqkit.setup()
"""

from __future__ import annotations

import threading

from seqkit.errors import SeqkitError
from seqkit.runtime import DependencyContainer

__version__ = "0.1.0"

_setup_lock = threading.Lock()
_container: DependencyContainer | None = None


def setup() -> DependencyContainer:
    """Build the default container once (built-ins, then extensions) and return it.

    Idempotent and thread-safe: later calls return the same container.
    """
    global _container
    with _setup_lock:
        if _container is None:
            from seqkit.composition import create_container

            _container = create_container()
        return _container


__all__ = ["DependencyContainer", "SeqkitError", "__version__", "setup"]
