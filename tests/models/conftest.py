from __future__ import annotations

import pytest
import torch

from seqkit.models import ModelFamilies
from seqkit.models.llama import create_llama_family
from seqkit.models.transformer import create_transformer_family


@pytest.fixture
def families() -> ModelFamilies:
    return ModelFamilies([create_llama_family(), create_transformer_family()])


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
