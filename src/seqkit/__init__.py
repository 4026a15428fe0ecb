"""seqkit: a sequence-modeling research library on PyTorch.

Notebook API::

    import seqkit

    model = seqkit.load_model("my-model")          # card name, card file, or checkpoint dir
    tokenizer = seqkit.load_tokenizer("my-model")
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from seqkit._version import __version__
from seqkit.errors import SeqkitError
from seqkit.runtime import DependencyContainer

if TYPE_CHECKING:
    import torch

    from seqkit.assets import AssetStore
    from seqkit.text import TextTokenizer

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


def load_model(
    name_or_path: str | Path,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.nn.Module:
    """Load a pretrained model in eval mode.

    ``name_or_path`` is an asset card name, a card ``.yaml`` file, a training run's output
    directory (its ``card.yaml``), a checkpoint directory written by seqkit, or a Hugging
    Face-format directory. See :class:`seqkit.models.ModelHub`.
    """
    from seqkit.models import ModelHub

    return setup().resolve(ModelHub).load(name_or_path, device=device, dtype=dtype)


def create_model(
    family: str,
    arch_or_config: str | object,
    *,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> torch.nn.Module:
    """A randomly initialized model of a registered family (built-ins and extensions),
    from an arch name (``"tiny"``) or a config dataclass."""
    from seqkit.models import ModelFamilies
    from seqkit.models import create_model as create

    families = setup().resolve(ModelFamilies)
    return create(family, arch_or_config, device=device, dtype=dtype, families=families)


def load_tokenizer(name_or_path: str | Path) -> TextTokenizer:
    """Load a tokenizer by card name, card file or local path (see ``seqkit.text.TokenizerHub``).

    A training run's output directory stands for its ``card.yaml``, as on the CLI.
    """
    from seqkit.text import TokenizerHub

    run_card = Path(name_or_path).expanduser() / "card.yaml"
    if run_card.is_file() and not (run_card.parent / "tokenizer.json").is_file():
        name_or_path = run_card
    return setup().resolve(TokenizerHub).load(name_or_path)


def get_asset_store() -> AssetStore:
    """The asset-card store with every layer (package, system, user, extensions)."""
    from seqkit.assets import AssetStore

    return setup().resolve(AssetStore)


__all__ = [
    "DependencyContainer",
    "SeqkitError",
    "__version__",
    "create_model",
    "get_asset_store",
    "load_model",
    "load_tokenizer",
    "setup",
]
