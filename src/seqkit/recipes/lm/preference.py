"""``seqkit lm preference-finetune``: DPO, SimPO or ORPO on JSONL preference pairs.

The recipe follows the shared skeleton (:class:`~seqkit.recipes.skeleton.TrainingRecipe`):
the model starts from ``model.checkpoint`` and its tokenizer, the pairs are tokenized once
into a token dataset (:mod:`seqkit.recipes.lm.preference_data`), and each batch is one
forward pass over its chosen and rejected sequences together.

DPO's reference log-probs are computed on the fly, batch by batch, under ``no_grad`` and
in eval mode (nothing is cached, so resuming needs nothing more than the policy's
checkpoint): from a frozen copy of the starting model, or, with LoRA, from the same model
with its adapters switched off (the frozen base *is* the starting model; no copy).
SimPO and ORPO need no reference.

Training metrics (``metrics.jsonl``, section ``train``) and validation metrics (``valid``)
add, per pair: ``reward_chosen``, ``reward_rejected``, ``reward_margin`` (their
difference), ``reward_accuracy`` (share of pairs whose chosen reward is higher),
``logp_chosen``/``logp_rejected`` (summed response log-probs) and, for ORPO, ``nll``,
``or_loss`` and ``log_odds_ratio``; ``loss`` is the preference loss.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import final

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from typing_extensions import override

from seqkit.data import MaskedBatch
from seqkit.gang import Gang, ReduceOperation
from seqkit.nn import BatchLayout
from seqkit.nn.lora import has_lora, lora_disabled, merge_lora
from seqkit.recipes.data_prep import DataPreparation
from seqkit.recipes.errors import RecipeError
from seqkit.recipes.finish import RunResult, report_run
from seqkit.recipes.lm.config import LmPreferenceConfig, PreferenceSection
from seqkit.recipes.lm.finetune import add_lora, check_lora, lora_card
from seqkit.recipes.lm.instructions import format_prompt
from seqkit.recipes.lm.preference_data import (
    PreferenceBatch,
    preference_readers,
    prepare_preference_data,
)
from seqkit.recipes.lm.preference_losses import PairLosses, dpo_loss, orpo_loss, simpo_loss
from seqkit.recipes.lm.samples import print_samples
from seqkit.recipes.loss_units import LossFn
from seqkit.recipes.model_ref import resolve_model_ref
from seqkit.recipes.run_context import RunContext
from seqkit.recipes.sections import ModelSection, TokenizerSection
from seqkit.recipes.skeleton import RecipeData, TrainingRecipe
from seqkit.recipes.tokenizer_setup import RunTokenizer, prepare_tokenizer
from seqkit.trainer import ValidationScorer

SequenceLogps = tuple[Tensor, Tensor, Tensor, Tensor]
"""``(chosen logp, rejected logp, chosen tokens, rejected tokens)``, each ``[B]``."""

ReferenceFn = Callable[[PreferenceBatch], tuple[Tensor, Tensor]]
"""``reference(batch) -> (chosen logp, rejected logp)`` of the reference model."""


def _pad_to(t: Tensor, width: int, value: int) -> Tensor:
    return F.pad(t, (0, width - t.shape[1]), value=value) if t.shape[1] < width else t


def sequence_logps(model: nn.Module, batch: PreferenceBatch, device: torch.device) -> SequenceLogps:
    """Summed log-probs of the masked (response) tokens of both sides, in one forward."""
    chosen, rejected = batch.chosen, batch.rejected
    width = max(chosen.seqs.shape[1], rejected.seqs.shape[1])

    def cat(get: Callable[[MaskedBatch], Tensor], pad: int) -> Tensor:
        return torch.cat([_pad_to(get(chosen), width, pad), _pad_to(get(rejected), width, pad)])

    seqs = cat(lambda b: b.seqs, 0).to(device, non_blocking=True)
    targets = cat(lambda b: b.targets, 0).to(device, non_blocking=True)
    mask = cat(lambda b: b.loss_mask.long(), 0).to(device, non_blocking=True)
    seq_lens = torch.cat([chosen.seq_lens, rejected.seq_lens]).to(device)
    logits = model(seqs, BatchLayout(seq_lens))
    token_logps = -F.cross_entropy(
        logits.flatten(0, 1).float(), targets.flatten(), reduction="none"
    ).view_as(targets)
    maskf = mask.float()
    logps = (token_logps * maskf).sum(-1)
    counts = maskf.sum(-1)
    n = chosen.seqs.shape[0]
    return logps[:n], logps[n:], counts[:n], counts[n:]


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    was = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was)


def frozen_reference(model: nn.Module, device: torch.device) -> ReferenceFn:
    """A frozen copy of ``model`` as it is now, in eval mode."""
    reference = copy.deepcopy(model).eval().requires_grad_(False)

    def logps(batch: PreferenceBatch) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            c, r, _, _ = sequence_logps(reference, batch, device)
        return c, r

    return logps


def adapters_off_reference(model: nn.Module, device: torch.device) -> ReferenceFn:
    """``model`` (with LoRA adapters) computed with its adapters switched off, in eval mode."""

    def logps(batch: PreferenceBatch) -> tuple[Tensor, Tensor]:
        with torch.no_grad(), lora_disabled(model), _eval_mode(model):
            c, r, _, _ = sequence_logps(model, batch, device)
        return c, r

    return logps


METRICS = ("reward_chosen", "reward_rejected", "reward_margin", "reward_accuracy",
           "logp_chosen", "logp_rejected")  # fmt: skip
ORPO_METRICS = ("nll", "or_loss", "log_odds_ratio")


@final
class PreferenceLoss:
    """The recipe's loss function: ``(summed pair losses, number of pairs)``; it sums the
    per-pair metrics as it goes, which :meth:`extra_metrics` (training) or
    :class:`PreferenceScorer` (validation) turn into means."""

    def __init__(
        self, section: PreferenceSection, device: torch.device, reference: ReferenceFn | None
    ) -> None:
        if section.loss == "dpo" and reference is None:
            raise ValueError("DPO needs a reference model")
        self._section = section
        self._device = device
        self._reference = reference
        self.names = METRICS + (ORPO_METRICS if section.loss == "orpo" else ())
        self._sums = torch.zeros(len(self.names), dtype=torch.float64, device=device)
        self._pairs = 0

    def pair_losses(self, model: nn.Module, batch: PreferenceBatch) -> PairLosses:
        """The loss and rewards of every pair of ``batch``."""
        s = self._section
        chosen, rejected, n_chosen, n_rejected = sequence_logps(model, batch, self._device)
        if s.loss == "dpo":
            assert self._reference is not None
            ref_chosen, ref_rejected = self._reference(batch)
            out = dpo_loss(
                chosen, rejected, ref_chosen, ref_rejected,
                beta=s.beta, label_smoothing=s.label_smoothing,
            )  # fmt: skip
        else:
            chosen_avg = chosen / n_chosen.clamp(min=1)
            rejected_avg = rejected / n_rejected.clamp(min=1)
            out = (
                simpo_loss(chosen_avg, rejected_avg, beta=s.beta, gamma=s.simpo_gamma)
                if s.loss == "simpo"
                else orpo_loss(chosen_avg, rejected_avg, lam=s.orpo_lambda)
            )
        logps = {"logp_chosen": chosen.detach(), "logp_rejected": rejected.detach()}
        return replace(out, extra={**out.extra, **logps})

    def __call__(self, model: nn.Module, batch: PreferenceBatch) -> tuple[Tensor, int]:
        out = self.pair_losses(model, batch)
        self._accumulate(out)
        return out.losses.sum(), batch.num_pairs

    def _accumulate(self, out: PairLosses) -> None:
        c, r = out.chosen_rewards, out.rejected_rewards
        values = {
            "reward_chosen": c,
            "reward_rejected": r,
            "reward_margin": c - r,
            "reward_accuracy": (c > r).double(),
            **out.extra,
        }
        with torch.no_grad():
            row = torch.stack([values[k].detach().double().sum() for k in self.names])
            self._sums += row
        self._pairs += int(c.shape[0])

    def drain(self) -> tuple[Tensor, int]:
        """The metric sums and pair count since the last drain; resets them."""
        sums, pairs = self._sums, self._pairs
        self._sums = torch.zeros_like(sums)
        self._pairs = 0
        return sums, pairs

    def extra_metrics(self) -> dict[str, float]:
        """Per-pair means of the metrics since the last call (this rank's pairs)."""
        sums, pairs = self.drain()
        if pairs == 0:
            return {}
        return {k: v / pairs for k, v in zip(self.names, sums.tolist(), strict=True)}


@final
class PreferenceScorer(ValidationScorer):
    """The validation pass's preference metrics, from what the validation loss summed
    (over every rank's pairs): no extra forward pass."""

    def __init__(self, loss: PreferenceLoss) -> None:
        self._loss = loss

    @override
    def __call__(self, step: int, gang: Gang) -> Mapping[str, float]:
        sums, pairs = self._loss.drain()
        packed = torch.cat(
            [sums, torch.tensor([float(pairs)], dtype=sums.dtype, device=sums.device)]
        )
        if gang.size > 1:
            packed = packed.to(gang.device)
            gang.all_reduce(packed, ReduceOperation.SUM)
        values = packed.tolist()
        total = max(values[-1], 1.0)
        return {k: v / total for k, v in zip(self._loss.names, values[:-1], strict=True)}


@final
class LmPreferenceRecipe(TrainingRecipe[LmPreferenceConfig, PreferenceBatch]):
    """Pretrained model + its tokenizer -> preference pairs -> DPO/SimPO/ORPO -> trainer."""

    name = "lm.preference"
    task = "lm"

    _reference: ReferenceFn | None = None
    _valid_loss: PreferenceLoss | None = None

    @override
    def check(self, config: LmPreferenceConfig) -> None:
        if config.model.checkpoint is None:
            raise RecipeError(
                "lm preference-finetune needs a model to start from: set model.checkpoint to "
                "a card name, a card file or a run directory (e.g. --config "
                "model.checkpoint=runs/sft/card.yaml)."
            )
        if not config.data.train_files:
            raise RecipeError(
                "No training data: set data.train_files to JSONL files of "
                '{"prompt", "chosen", "rejected"}, e.g. --config '
                "'data.train_files=[pairs.jsonl]'."
            )
        check_lora(config.lora, config.train)

    def _ref(self, config: LmPreferenceConfig) -> str:
        assert config.model.checkpoint is not None
        return resolve_model_ref(config.model.checkpoint)

    @override
    def model_section(self, config: LmPreferenceConfig) -> ModelSection:
        return replace(config.model, checkpoint=self._ref(config))

    @override
    def prepare_model(self, ctx: RunContext, config: LmPreferenceConfig, model: nn.Module) -> None:
        add_lora(ctx, config.lora, model, seed=config.train.seed)
        self._reference = None
        if config.preference.loss != "dpo":
            return
        # Before any checkpoint is loaded: the model is the starting model, DPO's reference.
        if has_lora(model):
            self._reference = adapters_off_reference(model, ctx.device)
            ctx.say("DPO reference: the starting model (the adapters switched off).")
        else:
            self._reference = frozen_reference(model, ctx.device)
            ctx.say("DPO reference: a frozen copy of the starting model.")

    @override
    def tokenizer(self, ctx: RunContext, config: LmPreferenceConfig) -> RunTokenizer:
        section = TokenizerSection(name=self._ref(config))
        return prepare_tokenizer(ctx, section, self._tokenizer_hub, corpora=[])

    @override
    def data(
        self, ctx: RunContext, config: LmPreferenceConfig, prep: DataPreparation
    ) -> RecipeData[PreferenceBatch]:
        prepared = prepare_preference_data(prep, config.data, seed=config.train.seed)
        pad = prep.tokenizer.vocab_info.pad_idx
        train, valid = preference_readers(
            ctx, prepared, config.train, pad if pad is not None else 0
        )
        num_train = sum(ds.num_documents for ds in prepared.train)
        num_valid = sum(ds.num_documents for ds in prepared.valid)
        return RecipeData(
            train=train,
            valid=valid,
            prepared=prepared,
            forced={"vocab_size": prep.tokenizer.vocab_info.size},
            description=(
                f"{config.preference.loss.upper()} on {num_train} preference pairs "
                f"({num_valid} held out), starting from {self._ref(config)}."
            ),
        )

    @override
    def losses(
        self, ctx: RunContext, config: LmPreferenceConfig
    ) -> tuple[LossFn[PreferenceBatch], LossFn[PreferenceBatch]]:
        train = PreferenceLoss(config.preference, ctx.device, self._reference)
        self._valid_loss = PreferenceLoss(config.preference, ctx.device, self._reference)
        return train, self._valid_loss

    @override
    def valid_scorers(
        self,
        ctx: RunContext,
        config: LmPreferenceConfig,
        model: nn.Module,
        tokenizer: RunTokenizer,
        data: RecipeData[PreferenceBatch],
    ) -> Sequence[ValidationScorer]:
        if data.valid is None or self._valid_loss is None:
            return ()
        return (PreferenceScorer(self._valid_loss),)

    @override
    def card_extra(self, config: LmPreferenceConfig) -> dict[str, object]:
        p = config.preference
        extra: dict[str, object] = {
            "prompt_template": config.data.prompt_template,
            "finetuned_from": self._ref(config),
            "preference": {"loss": p.loss, "beta": p.beta},
        }
        return extra | lora_card(config.lora)

    @override
    def after_training(
        self,
        ctx: RunContext,
        config: LmPreferenceConfig,
        model: nn.Module,
        tokenizer: RunTokenizer,
        result: RunResult,
    ) -> None:
        merge_lora(model)  # the saved model is merged already; now generation can fuse
        self._reference = None
        template = config.data.prompt_template
        example_prompt = format_prompt(template, "Who was Moses?")
        report_run(ctx, result, usage=[f"seqkit lm generate {result.card_path} {example_prompt!r}"])
        if ctx.is_main and config.sample.prompts:
            prompts = [format_prompt(template, p) for p in config.sample.prompts]
            sample = replace(config.sample, prompts=prompts)
            print_samples(model, tokenizer.tokenizer, sample, seed=config.train.seed)
