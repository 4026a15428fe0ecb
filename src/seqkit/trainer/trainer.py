"""The training loop."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Generic, Protocol

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from tqdm import tqdm

from seqkit.checkpoint import CheckpointManager, CheckpointState, LoadedCheckpoint
from seqkit.gang import (
    FakeGang,
    Gang,
    ReduceOperation,
    ShardedModule,
    fsdp_config,
    get_consolidated_state_dict,
    load_consolidated_state_dict,
)
from seqkit.gang.grad_norm import clip_grad_norm
from seqkit.gang.optimizer_state import (
    get_consolidated_optimizer_state,
    is_consolidated_optimizer_state,
    load_consolidated_optimizer_state,
)
from seqkit.metrics import LossMeter, MetricRecorder, record_all
from seqkit.trainer.config import DTYPES, TrainerConfig
from seqkit.trainer.early_stopping import EarlyStopper
from seqkit.trainer.errors import NonFiniteError, TrainerError
from seqkit.trainer.rng import capture_rng_state, restore_rng_state, seed_everything
from seqkit.trainer.signals import GracefulStop
from seqkit.trainer.summary import StopReason, TrainSummary, unwrap_model
from seqkit.trainer.throughput import device_peak_flops, throughput_metrics
from seqkit.trainer.units import (
    BatchT,
    DataReader,
    EvalUnit,
    GlobalPositionReader,
    TrainUnit,
    ValidationScorer,
)
from seqkit.trainer.validation import evaluate

log = logging.getLogger(__name__)


class Trainer(Generic[BatchT]):
    """Drives a :class:`TrainUnit` over a data reader; see ``docs/trainer.md``.

    :param gang: the data-parallel gang; the model must already synchronize gradients
        across it (a DDP/FSDP wrapper). Defaults to a one-process ``FakeGang``.
    :param root_gang: all processes (defaults to ``gang``); with tensor parallelism the
        model is consolidated over it for checkpoints.
    :param valid_scorers: extra validation metrics (e.g. BLEU), computed after the eval
        unit's pass at every validation; see :class:`ValidationScorer`.
    """

    def __init__(
        self,
        config: TrainerConfig,
        unit: TrainUnit[BatchT],
        reader: DataReader[BatchT],
        optimizer: Optimizer,
        *,
        lr_scheduler: LRScheduler | None = None,
        gang: Gang | None = None,
        checkpoint_manager: CheckpointManager | None = None,
        recorders: Sequence[MetricRecorder] = (),
        valid_unit: EvalUnit[BatchT] | None = None,
        valid_reader: DataReader[BatchT] | None = None,
        root_gang: Gang | None = None,
        valid_scorers: Sequence[ValidationScorer] = (),
    ) -> None:
        if config.validate_every_n_steps is not None and (valid_unit is None or not valid_reader):
            raise TrainerError(
                "trainer.validate_every_n_steps is set but no valid_unit/valid_reader was given."
            )
        if valid_scorers and valid_unit is None:
            raise TrainerError("valid_scorers run during validation; give a valid_unit too.")
        self.config = config
        self.unit = unit
        self.reader = reader
        self.optimizer = optimizer
        self.lr_scheduler = lr_scheduler
        self.gang = gang or FakeGang()
        self.root_gang = root_gang or self.gang
        self.checkpoint_manager = checkpoint_manager
        self.recorders = list(recorders) if self.gang.rank == 0 else []
        self.valid_unit = valid_unit
        self.valid_reader = valid_reader
        self.valid_scorers = list(valid_scorers)
        self._dtype = DTYPES[config.dtype]
        # FSDP2 with a mixed-precision policy already computes in the policy's dtype (bf16
        # copies of fp32 shards, fp32 gradient reduction): autocast on top is redundant.
        sharded_with = fsdp_config(unwrap_model(unit.model))
        self._policy_casts = sharded_with is not None and sharded_with.param_dtype == self._dtype
        self.grad_scaler = (
            torch.amp.GradScaler(self.gang.device.type) if config.dtype == "float16" else None
        )
        self.early_stopper = (
            EarlyStopper(config.early_stopping) if config.early_stopping is not None else None
        )
        self.step = 0
        self.epoch = 0
        self.num_skipped_steps = 0
        self._consecutive_nonfinite = 0
        self._elapsed_before = 0.0
        self._started: float | None = None
        self._valid_metrics: dict[str, float] = {}
        self._valid_step: int | None = None
        self._last_metrics: dict[str, float] = {}
        self._iterator: Iterator[BatchT] | None = None
        self._step_lr = 0.0
        self._step_data_wait = 0.0  # seconds the current step spent in _next_batch
        self._params = [p for p in unwrap_model(unit.model).parameters() if p.requires_grad]
        self._peak_flops = config.peak_flops_per_s or device_peak_flops(self.gang.device)
        # Tensor-parallel slices have no layout to re-derive a full tensor from, so their
        # optimizer state is saved per rank (same topology to resume). Everything else,
        # FSDP's DTensor shards included, is consolidated and loads into any world size.
        self._sharded_optimizer = self.root_gang.size != self.gang.size or any(
            isinstance(m, ShardedModule) for m in unwrap_model(unit.model).modules()
        )

    # ----------------------------------------------------------------- the loop
    def run(self) -> TrainSummary:
        """Train until a stop condition; checkpoints (if configured) and returns a summary."""
        if self.config.deterministic:
            torch.use_deterministic_algorithms(True)
        resumed = self._resume()
        if resumed is None:
            seed_everything(self.config.seed + self.gang.rank)
        self.unit.model.train()  # validation switches to eval and back
        self._started = time.perf_counter()
        meter, window_time, window_wait = LossMeter(), 0.0, 0.0
        stop_reason: StopReason | None = None
        bar = tqdm(
            total=self.config.max_num_steps,
            initial=self.step,
            disable=not self.config.progress_bar or self.gang.rank != 0,
            dynamic_ncols=True,
            desc="train",
        )
        with GracefulStop(self.config.handle_signals) as stop, self._profiler() as profiler:
            while stop_reason is None:
                if self.config.max_num_steps is not None and self.step >= self.config.max_num_steps:
                    stop_reason = "max_steps"
                    break
                t0 = time.perf_counter()
                wall = self._elapsed()
                over_time = self.config.max_wall_time_s is not None and (
                    wall >= self.config.max_wall_time_s
                )
                result = self._train_step(stop_flag=stop.requested or over_time)
                if result is None:
                    stop_reason = "max_epochs"
                    break
                loss_sum, num_targets, grad_norm, stop_requested = result
                bar.update(1)
                if profiler is not None:
                    profiler.step()
                if num_targets == 0.0:  # skipped non-finite step: nothing to record
                    continue
                meter.update(loss_sum, num_targets)
                window_time += time.perf_counter() - t0
                window_wait += self._step_data_wait
                if self.step % self.config.publish_metrics_every_n_steps == 0:
                    self._publish(meter, window_time, window_wait, grad_norm)
                    bar.set_postfix(loss=f"{self._last_metrics['loss']:.3f}", refresh=False)
                    meter, window_time, window_wait = LossMeter(), 0.0, 0.0
                if stop_requested:
                    stop_reason = "signal" if stop.requested else "wall_time"
                if self._due(self.config.validate_every_n_steps) and self._validate():
                    stop_reason = stop_reason or "early_stopping"
                if stop_reason is None and self._due(self.config.checkpoint_every_n_steps):
                    self._checkpoint()
        bar.close()
        self._elapsed_before, self._started = self._elapsed(), None
        if (
            self.valid_unit is not None
            and self.config.validate_every_n_steps is not None
            and not self._due(self.config.validate_every_n_steps)
            and stop_reason in ("max_steps", "max_epochs")
        ):
            self._validate()
        self._checkpoint()
        return TrainSummary(
            step=self.step,
            epoch=self.epoch,
            stop_reason=stop_reason,
            num_skipped_steps=self.num_skipped_steps,
            resumed_from=resumed,
            corrupt_checkpoints=self._corrupt_checkpoints(),
            last_metrics=dict(self._last_metrics),
            valid_metrics=dict(self._valid_metrics),
        )

    def _elapsed(self) -> float:
        """Training seconds so far, including runs before a resume (for the wall budget)."""
        running = 0.0 if self._started is None else time.perf_counter() - self._started
        return self._elapsed_before + running

    def _due(self, every: int | None) -> bool:
        return every is not None and self.step > 0 and self.step % every == 0

    def _next_batch(self) -> BatchT | None:
        """The next batch, starting new epochs as needed; None once max epochs are done."""
        for _ in range(2):
            if self._iterator is None:
                self._iterator = iter(self.reader)
            try:
                return next(self._iterator)
            except StopIteration:
                self._iterator = None
                self.epoch += 1
                self.reader.reset()
                if (
                    self.config.max_num_epochs is not None
                    and self.epoch >= self.config.max_num_epochs
                ):
                    return None
        raise TrainerError(
            f"The data reader yielded no batch in epoch {self.epoch}; check the dataset "
            "and the per-rank sharding (too few examples for the number of ranks?)."
        )

    def _train_step(self, *, stop_flag: bool) -> tuple[float, float, float, bool] | None:
        """One optimizer step; ``(loss_sum, targets, grad_norm, stop)``, None at data end."""
        gang = self.gang
        # With one micro-batch on one rank the target count is known before backward, so
        # the loss is normalized directly instead of rescaling every gradient afterwards.
        normalize_loss = self.config.grad_accumulation == 1 and gang.size == 1
        accumulated = self._forward_backward(normalize_loss)
        if accumulated is None:
            return None
        loss_sum, num_targets = accumulated
        max_norm = self.config.max_grad_norm if self.config.max_grad_norm is not None else math.inf
        if gang.size == 1 and self.grad_scaler is None:
            return self._single_rank_update(
                loss_sum, num_targets, normalize_loss, max_norm, stop_flag
            )
        if gang.size == 1:
            # No collective: one host sync, as a hand-written loop's ``loss.item()``.
            values = [float(loss_sum), float(num_targets), float(stop_flag)]
            bad_ranks = [] if math.isfinite(values[0]) else [0]
        else:
            values, bad_ranks = self._all_reduce_step(loss_sum, num_targets, stop_flag)
        stop = values[2] > 0
        if bad_ranks:
            return self._skip_nonfinite("loss", bad_ranks, stop)
        if self.grad_scaler is not None:
            self.grad_scaler.unscale_(self.optimizer)
        if not normalize_loss:
            grads = [p.grad for p in self._params if p.grad is not None]
            # DDP averages gradients over ranks; undo the average and divide by all targets.
            torch._foreach_mul_(grads, gang.size / max(values[1], 1.0))
        grad_norm = float(clip_grad_norm(self.unit.model, self._params, max_norm))
        if not math.isfinite(grad_norm) and self.grad_scaler is None:
            return self._skip_nonfinite("gradient norm", list(range(gang.size)), stop)
        self._optimizer_step()
        return values[0], values[1], grad_norm, stop

    def _single_rank_update(
        self,
        loss_sum: Tensor,
        num_targets: Tensor | int,
        normalize_loss: bool,
        max_norm: float,
        stop_flag: bool,
    ) -> tuple[float, float, float, bool]:
        """One process without a gradient scaler: normalize and clip on the device, then
        read loss, targets and gradient norm back in one host sync (not one per value), and
        decide on the non-finite policy from those before the optimizer step."""
        if not normalize_loss:
            grads = [p.grad for p in self._params if p.grad is not None]
            if grads:
                count = torch.as_tensor(num_targets, dtype=torch.float32, device=grads[0].device)
                torch._foreach_mul_(grads, count.clamp(min=1.0).reciprocal())
        norm = clip_grad_norm(self.unit.model, self._params, max_norm)
        packed = torch.stack(
            [
                loss_sum.float().to(norm.device),
                torch.as_tensor(num_targets, dtype=torch.float32, device=norm.device),
                norm.detach().float(),
            ]
        )
        loss, targets, grad_norm = packed.tolist()
        if not math.isfinite(loss):
            return self._skip_nonfinite("loss", [0], stop_flag)
        if not math.isfinite(grad_norm):
            return self._skip_nonfinite("gradient norm", [0], stop_flag)
        self._optimizer_step()
        return loss, targets, grad_norm, stop_flag

    def _optimizer_step(self) -> None:
        self._step_lr = float(self.optimizer.param_groups[0]["lr"])
        if self.grad_scaler is not None:
            self.grad_scaler.step(self.optimizer)
            self.grad_scaler.update()
        else:
            self.optimizer.step()
        if self.lr_scheduler is not None:
            self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self._consecutive_nonfinite = 0
        self.step += 1

    def _forward_backward(self, normalize_loss: bool) -> tuple[Tensor, Tensor | int] | None:
        """Forward and backward over the step's micro-batches; None if the data ended."""
        model, accumulation = self.unit.model, self.config.grad_accumulation
        loss_sum: Tensor | None = None
        num_targets: Tensor | int = 0
        self._step_data_wait = 0.0
        for micro in range(accumulation):
            fetch_start = time.perf_counter()
            batch = self._next_batch()
            self._step_data_wait += time.perf_counter() - fetch_start
            if batch is None:
                break
            no_sync = getattr(model, "no_sync", None)
            last = micro == accumulation - 1
            sync = no_sync() if no_sync is not None and not last else contextlib.nullcontext()
            with sync:
                with self._autocast():
                    loss, n = self.unit(batch)
                scaled: Tensor = loss / n if normalize_loss else loss
                if self.grad_scaler is not None:
                    scaled = self.grad_scaler.scale(scaled)
                torch.autograd.backward(scaled)
            detached = loss.detach().float()
            loss_sum = detached if loss_sum is None else loss_sum + detached
            num_targets = num_targets + n
        return None if loss_sum is None else (loss_sum, num_targets)

    def _all_reduce_step(
        self, loss_sum: Tensor, num_targets: Tensor | int, stop_flag: bool
    ) -> tuple[list[float], list[int]]:
        """Sum loss and targets over ranks, OR the stop requests, and find non-finite ranks.

        One collective carries it all, so every rank takes the same decision.
        """
        gang = self.gang
        packed = torch.zeros(3 + gang.size, device=gang.device)
        packed[0], packed[1] = loss_sum, num_targets
        packed[2] = float(stop_flag)
        packed[3 + gang.rank] = (~torch.isfinite(loss_sum)).float()
        gang.all_reduce(packed, ReduceOperation.SUM)
        values = packed.tolist()
        return values[:3], [r for r, flag in enumerate(values[3:]) if flag > 0]

    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.config.dtype == "float32" or self._policy_casts:
            return contextlib.nullcontext()
        return torch.autocast(self.gang.device.type, dtype=self._dtype)

    def _skip_nonfinite(
        self, what: str, ranks: list[int], stop: bool
    ) -> tuple[float, float, float, bool]:
        self.optimizer.zero_grad(set_to_none=True)
        self._consecutive_nonfinite += 1
        if self._consecutive_nonfinite > self.config.max_consecutive_nonfinite:
            raise NonFiniteError(
                what, step=self.step + 1, ranks=ranks, consecutive=self._consecutive_nonfinite
            )
        self.num_skipped_steps += 1
        log.warning("Skipped step %d: non-finite %s on ranks %s", self.step + 1, what, ranks)
        return 0.0, 0.0, math.nan, stop

    # -------------------------------------------------------------- metrics, eval
    def _publish(
        self, meter: LossMeter, window_time: float, window_wait: float, grad_norm: float
    ) -> None:
        values: dict[str, float] = meter.values()
        values["grad_norm"] = grad_norm
        values["lr"] = self._step_lr
        values["epoch"] = self.epoch
        values["skipped_steps"] = self.num_skipped_steps
        if self.grad_scaler is not None:
            values["grad_scale"] = float(self.grad_scaler.get_scale())
        values.update(self.unit.extra_metrics())
        values["step_time_s"] = window_time / self.config.publish_metrics_every_n_steps
        values["targets_per_s"] = meter.num_targets / window_time if window_time else 0.0
        # Time the steps spent waiting for their batches (the reader's iterator, epoch
        # restarts included): per step, and as a share of the step time.
        values["data_wait_s"] = window_wait / self.config.publish_metrics_every_n_steps
        values["data_wait_share"] = min(1.0, window_wait / window_time) if window_time else 0.0
        values.update(
            throughput_metrics(
                tokens_per_s=values["targets_per_s"],
                flops_per_token=self.config.model_flops_per_token,
                peak_flops_per_s=self._peak_flops,
                num_devices=self.root_gang.size,
            )
        )
        if self.gang.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(self.gang.device)
            values["peak_memory_gib"] = peak / 2**30
        values["elapsed_s"] = self._elapsed()
        self._last_metrics = values
        record_all(self.recorders, "train", self.step, values)

    def _validate(self) -> bool:
        """Run the eval unit over the validation reader; True if early stopping triggers."""
        assert self.valid_unit is not None
        assert self.valid_reader is not None
        self._valid_metrics = evaluate(
            self.valid_unit,
            self.valid_reader,
            self.gang,
            self._autocast,
            scorers=self.valid_scorers,
            step=self.step,
        )
        self._valid_step = self.step
        record_all(self.recorders, self.valid_unit.name, self.step, self._valid_metrics)
        return self.early_stopper is not None and self.early_stopper.update(self._valid_metrics)

    def _profiler(self) -> contextlib.AbstractContextManager[torch.profiler.profile | None]:
        c = self.config.profiler
        if c is None or self.gang.rank != 0:
            return contextlib.nullcontext()
        return torch.profiler.profile(
            schedule=torch.profiler.schedule(
                wait=c.skip_steps, warmup=1, active=c.active_steps, repeat=1
            ),
            on_trace_ready=torch.profiler.tensorboard_trace_handler(str(c.output_dir)),
        )

    # ------------------------------------------------------------- checkpointing
    def _checkpoint(self) -> None:
        if self.checkpoint_manager is None:
            return
        self.checkpoint_manager.save(self.step, self.state(), score=self._checkpoint_score())

    def _checkpoint_score(self) -> float | None:
        """The last validation's ``best_checkpoint_metric``, negated when higher is better
        (checkpoint managers keep the lowest scores); None unless validation ran at this
        very step (an older validation scored other weights)."""
        if not self._valid_metrics or self._valid_step != self.step:
            return None
        name = self.config.best_checkpoint_metric
        if name not in self._valid_metrics:
            raise TrainerError(
                f"trainer.best_checkpoint_metric {name!r} is not a validation metric; choose "
                f"one of {sorted(self._valid_metrics)}."
            )
        value = self._valid_metrics[name]
        return -value if self.config.best_checkpoint_mode == "max" else value

    def state(self) -> CheckpointState:
        """Everything exact resume needs, as tensors and plain values."""
        reader = self.reader
        trainer_state: dict[str, object] = {
            "step": self.step,
            "epoch": self.epoch,
            "num_skipped_steps": self.num_skipped_steps,
            "consecutive_nonfinite": self._consecutive_nonfinite,
            "elapsed_s": self._elapsed(),
            "dp_size": self.gang.size,
            "lr_scheduler": self.lr_scheduler.state_dict() if self.lr_scheduler else {},
            "grad_scaler": self.grad_scaler.state_dict() if self.grad_scaler else {},
            "early_stopping": self.early_stopper.state_dict() if self.early_stopper else {},
            "valid_metrics": dict(self._valid_metrics),
            "valid_step": self._valid_step,
            "data_global": (
                dict(reader.global_state_dict())
                if isinstance(reader, GlobalPositionReader)
                else None
            ),
        }
        rank_state: dict[str, object] = {
            "data": dict(self.reader.state_dict()),
            "rng": capture_rng_state(),
        }
        optimizer_state: dict[str, object] = {}
        if self._sharded_optimizer:
            rank_state["optimizer"] = self.optimizer.state_dict()
        else:
            optimizer_state = get_consolidated_optimizer_state(
                self.unit.model, self.optimizer, self.root_gang
            )
        return CheckpointState(
            model=get_consolidated_state_dict(self.unit.model, self.root_gang),
            optimizer=optimizer_state,
            trainer=trainer_state,
            rank=rank_state,
        )

    def _resume(self) -> int | None:
        if self.checkpoint_manager is None or not self.config.resume:
            return None
        loaded = self.checkpoint_manager.load_latest()
        # The steps after the one training continues from are recorded again: recorders
        # drop what they hold of them (metrics.jsonl rows), so none appears twice.
        for recorder in self.recorders:
            recorder.resume(0 if loaded is None else loaded.step)
        if loaded is None:
            return None
        self.load_state(loaded)
        log.info("Resumed from %s (step %d)", loaded.path, loaded.step)
        return loaded.step

    def load_state(self, loaded: LoadedCheckpoint) -> None:
        """Restore a checkpoint written by :meth:`state` (any data-parallel size)."""
        t = loaded.trainer
        load_consolidated_state_dict(self.unit.model, loaded.model)
        if self._sharded_optimizer:
            if loaded.rank is None:
                raise TrainerError(
                    f"Checkpoint {loaded.path} holds tensor-parallel optimizer state for "
                    f"{loaded.manifest.world_size} processes; resume with that many."
                )
            self.optimizer.load_state_dict(_mapping(loaded.rank["optimizer"]))  # type: ignore[arg-type]
        elif is_consolidated_optimizer_state(loaded.optimizer):
            load_consolidated_optimizer_state(self.unit.model, self.optimizer, loaded.optimizer)
        else:
            self.optimizer.load_state_dict(loaded.optimizer)
        _load_optional(self.lr_scheduler, t.get("lr_scheduler"))
        _load_optional(self.grad_scaler, t.get("grad_scaler"))
        _load_optional(self.early_stopper, t.get("early_stopping"))
        self.step = int(str(t["step"]))
        self.epoch = int(str(t["epoch"]))
        self.num_skipped_steps = int(str(t["num_skipped_steps"]))
        self._consecutive_nonfinite = int(str(t["consecutive_nonfinite"]))
        self._elapsed_before = float(str(t["elapsed_s"]))
        valid = t.get("valid_metrics")
        self._valid_metrics = dict(valid) if isinstance(valid, dict) else {}
        valid_step = t.get("valid_step")
        self._valid_step = valid_step if isinstance(valid_step, int) else None
        self._iterator = None
        if loaded.rank is not None:
            self.reader.load_state_dict(_mapping(loaded.rank["data"]))
            restore_rng_state(_mapping(loaded.rank["rng"]))
            return
        data_global = t.get("data_global")
        if not isinstance(self.reader, GlobalPositionReader) or not isinstance(data_global, dict):
            raise TrainerError(
                f"Checkpoint {loaded.path} was written by {loaded.manifest.world_size} "
                f"processes, this run has {self.gang.size}; resuming with another topology "
                "needs a data reader with global_state_dict()/load_global_state_dict() "
                "(e.g. a token dataset). Resume with the original number of processes."
            )
        self.reader.load_global_state_dict(data_global)
        # Per-rank RNG streams cannot be carried to another topology; derive fresh ones.
        seed_everything(self.config.seed + self.gang.rank + 1_000_003 * self.step)

    def _corrupt_checkpoints(self) -> list[str]:
        skipped = getattr(self.checkpoint_manager, "skipped", [])
        return [f"{path}: {reason}" for path, reason in skipped]


def _mapping(obj: object) -> Mapping[str, object]:
    if not isinstance(obj, Mapping):
        raise TrainerError(f"Checkpoint state entry is a {type(obj).__name__}, not a mapping.")
    return obj


class _Stateful(Protocol):
    def load_state_dict(self, state: Any, /) -> Any: ...


def _load_optional(target: _Stateful | None, state: object) -> None:
    if target is not None and state:
        target.load_state_dict(state)
