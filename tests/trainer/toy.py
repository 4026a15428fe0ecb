"""A tiny deterministic language-model setup shared by the trainer tests and the resume driver."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from seqkit.checkpoint import StandardCheckpointManager
from seqkit.gang import FakeGang, Gang
from seqkit.metrics import MetricRecorder
from seqkit.optim import AdamWConfig, CosineConfig, create_lr_scheduler, create_optimizer
from seqkit.trainer import DataReader, EvalUnit, Trainer, TrainerConfig, TrainUnit

VOCAB = 23
SEQ_LEN = 9

Batch = dict[str, Tensor]


def make_examples(num: int, seed: int = 0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, VOCAB, (num, SEQ_LEN), generator=g)


class ToyReader:
    """Shuffled per epoch, sharded by rank; the position is a global example count."""

    def __init__(
        self,
        examples: Tensor,
        batch_size: int,
        *,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
    ) -> None:
        self.examples = examples
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.seed = seed
        self.epoch = 0
        self.position = 0

    def _order(self) -> Tensor:
        g = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
        return torch.randperm(len(self.examples), generator=g)

    def __iter__(self) -> Iterator[Batch]:
        order = self._order()
        step = self.world_size * self.batch_size
        while self.position + step <= len(self.examples):
            start = self.position + self.rank * self.batch_size
            ids = order[start : start + self.batch_size]
            self.position += step
            yield {"seqs": self.examples[ids], "ids": ids}

    def reset(self) -> None:
        self.epoch += 1
        self.position = 0

    def state_dict(self) -> dict[str, object]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        self.epoch = int(str(state["epoch"]))
        self.position = int(str(state["position"]))

    global_state_dict = state_dict
    load_global_state_dict = load_state_dict


class ListReader:
    """A fixed list of batches (validation data)."""

    def __init__(self, batches: Sequence[Batch]) -> None:
        self.batches = list(batches)
        self.position = 0

    def __iter__(self) -> Iterator[Batch]:
        while self.position < len(self.batches):
            self.position += 1
            yield self.batches[self.position - 1]

    def reset(self) -> None:
        self.position = 0

    def state_dict(self) -> dict[str, object]:
        return {"position": self.position}

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        self.position = int(str(state["position"]))


class TinyLM(nn.Module):
    def __init__(self, dim: int = 16, dropout: float = 0.1) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, dim)
        self.hidden = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)  # consumes RNG, so exact resume must restore it
        self.out = nn.Linear(dim, VOCAB)

    def forward(self, seqs: Tensor) -> Tensor:
        return self.out(self.dropout(torch.tanh(self.hidden(self.embed(seqs)))))


def lm_loss(model: nn.Module, batch: Batch) -> tuple[Tensor, int]:
    seqs = batch["seqs"]
    logits = model(seqs[:, :-1])
    targets = seqs[:, 1:]
    loss = nn.functional.cross_entropy(
        logits.float().reshape(-1, VOCAB), targets.reshape(-1), reduction="sum"
    )
    return loss, targets.numel()


class ToyTrainUnit(TrainUnit[Batch]):
    def __init__(self, model: nn.Module) -> None:
        self._model = model
        self.seen_ids: list[int] = []

    @property
    def model(self) -> nn.Module:
        return self._model

    def __call__(self, batch: Batch) -> tuple[Tensor, int]:
        self.seen_ids.extend(batch["ids"].tolist())
        return lm_loss(self._model, batch)


class ToyEvalUnit(EvalUnit[Batch]):
    def __init__(self, model: nn.Module) -> None:
        self._model = model

    @property
    def model(self) -> nn.Module:
        return self._model

    def __call__(self, batch: Batch) -> tuple[Tensor, int]:
        return lm_loss(self._model, batch)


def build_trainer(
    out_dir: Path | None,
    *,
    max_num_steps: int | None = 12,
    checkpoint_every: int | None = 3,
    recorders: Sequence[MetricRecorder] = (),
    gang: Gang | None = None,
    num_examples: int = 40,
    batch_size: int = 4,
    dropout: float = 0.1,
    wrap: Callable[[nn.Module], nn.Module] | None = None,
    reader: DataReader[Batch] | None = None,
    schedule_steps: int | None = None,
    **config_overrides: object,
) -> Trainer[Batch]:
    """The same training run every time it is called with the same arguments."""
    gang = gang or FakeGang()
    torch.manual_seed(1234)
    model = TinyLM(dropout=dropout)
    if wrap is not None:  # before the optimizer: FSDP swaps the parameters for DTensors
        model = wrap(model)
    optimizer = create_optimizer(AdamWConfig(lr=1e-2, weight_decay=0.01), model.parameters())
    scheduler = create_lr_scheduler(
        CosineConfig(
            warmup_steps=2, total_steps=schedule_steps or (max_num_steps or 100) + 1, min_lr=1e-4
        ),
        optimizer,
    )
    reader = reader or ToyReader(
        make_examples(num_examples), batch_size, rank=gang.rank, world_size=gang.size
    )
    valid = ListReader([{"seqs": make_examples(8, seed=99), "ids": torch.arange(8)}])
    config = TrainerConfig(
        max_num_steps=max_num_steps,
        checkpoint_every_n_steps=checkpoint_every,
        progress_bar=False,
        **config_overrides,  # type: ignore[arg-type]
    )
    manager = (
        StandardCheckpointManager(out_dir / "checkpoints", gang, keep_last_n=2)
        if out_dir is not None
        else None
    )
    return Trainer(
        config,
        ToyTrainUnit(model),
        reader,
        optimizer,
        lr_scheduler=scheduler,
        gang=gang,
        checkpoint_manager=manager,
        recorders=recorders,
        valid_unit=ToyEvalUnit(model),
        valid_reader=valid,
    )
