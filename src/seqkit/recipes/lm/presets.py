"""Named starting configs of ``seqkit lm train``, ``lm finetune`` and ``lm preference-finetune``."""

from __future__ import annotations

from seqkit.config import PresetRegistry
from seqkit.recipes.lm.config import (
    FinetuneDataSection,
    LmDataSection,
    LmFinetuneConfig,
    LmPreferenceConfig,
    LmTrainConfig,
    PreferenceDataSection,
    SampleSection,
)
from seqkit.recipes.sections import ModelSection, OptimSection, TokenizerSection, TrainSection

# The World English Bible writes "Yahweh" for "the LORD" and modern verb forms.
BIBLE_PROMPTS = [
    "In the beginning",
    "Yahweh said to Moses,",
    "Blessed are the",
    "The kingdom of heaven is like",
]


def _seconds_run(max_steps: int, batch_size: int, *, every: int, log_every: int) -> TrainSection:
    """A run of seconds (tests, trying a command out): validated and checkpointed every
    ``every`` steps, no TensorBoard."""
    return TrainSection(
        max_steps=max_steps,
        batch_size=batch_size,
        validate_every_n_steps=every,
        checkpoint_every_n_steps=every,
        log_every_n_steps=log_every,
        tensorboard=False,
    )


def _tiny() -> LmTrainConfig:
    # Seconds on one CPU core: for tests and for trying a command out.
    return LmTrainConfig(
        # The llama "tiny" arch at half width, with MHA.
        model=ModelSection(
            family="llama",
            arch="tiny",
            config={
                "model_dim": 32,
                "num_attn_heads": 2,
                "num_key_value_heads": 2,
                "ffn_inner_dim": 64,
            },
        ),
        tokenizer=TokenizerSection(vocab_size=200, max_training_lines=2000),
        data=LmDataSection(max_seq_len=32, max_documents=400, valid_fraction=0.05),
        optim=OptimSection(
            optimizer={"name": "adamw", "lr": 3e-3, "weight_decay": 0.0},
            lr_scheduler={"name": "cosine", "warmup_steps": 2},
        ),
        train=_seconds_run(20, 8, every=10, log_every=5),
    )


def _demo() -> LmTrainConfig:
    # Tuned for `make demo`: 450 steps take about 90 s on 2 idle CPU cores (~5 steps/s). A
    # 2k-piece unigram vocabulary keeps the softmax cheap; 4 layers of width 128 gave the
    # best loss per second we measured. The wall-time cap ends the run on a slower machine.
    return LmTrainConfig(
        # The llama "small" arch at quarter width, 4 layers of 4 MHA heads.
        model=ModelSection(
            family="llama",
            arch="small",
            config={
                "model_dim": 128,
                "num_layers": 4,
                "num_attn_heads": 4,
                "num_key_value_heads": 4,
                "ffn_inner_dim": 352,
            },
        ),
        tokenizer=TokenizerSection(vocab_size=2000, max_training_lines=40_000),
        data=LmDataSection(max_seq_len=64, valid_fraction=0.01),
        optim=OptimSection(
            optimizer={"name": "adamw", "lr": 3e-3, "weight_decay": 0.01, "betas": [0.9, 0.98]},
            lr_scheduler={"name": "cosine", "warmup_steps": 30, "min_lr": 3e-4},
        ),
        train=TrainSection(
            max_steps=450,
            batch_size=32,
            validate_every_n_steps=150,
            checkpoint_every_n_steps=150,
            log_every_n_steps=10,
            max_wall_seconds=150.0,
            console_metrics=False,
        ),
        sample=SampleSection(prompts=list(BIBLE_PROMPTS), max_new_tokens=40, temperature=0.8),
    )


def _small() -> LmTrainConfig:
    # ~10M parameters: an hour or two on a workstation CPU, minutes on one GPU.
    return LmTrainConfig(
        # The llama "small" arch at half width.
        model=ModelSection(
            family="llama", arch="small", config={"model_dim": 256, "ffn_inner_dim": 704}
        ),
        tokenizer=TokenizerSection(vocab_size=8000),
        data=LmDataSection(max_seq_len=256),
        optim=OptimSection(
            optimizer={"name": "adamw", "lr": 1e-3, "weight_decay": 0.1, "betas": [0.9, 0.95]},
            lr_scheduler={"name": "cosine", "warmup_steps": 200, "min_lr": 1e-4},
        ),
        train=TrainSection(
            max_steps=5000, batch_size=32, validate_every_n_steps=500, checkpoint_every_n_steps=500
        ),
        sample=SampleSection(prompts=list(BIBLE_PROMPTS)),
    )


def _base() -> LmTrainConfig:
    # The llama family's "small" arch (~30M parameters, 8k vocabulary, 1k context) on GPUs:
    # bf16 autocast, gradient accumulation for ~0.5M tokens per step on 8 ranks.
    return LmTrainConfig(
        model=ModelSection(family="llama", arch="small"),
        tokenizer=TokenizerSection(vocab_size=8192),
        data=LmDataSection(max_seq_len=1024),
        optim=OptimSection(
            optimizer={"name": "adamw", "lr": 6e-4, "weight_decay": 0.1, "betas": [0.9, 0.95]},
            lr_scheduler={"name": "cosine", "warmup_steps": 1000, "min_lr": 6e-5},
        ),
        train=TrainSection(
            max_steps=20_000,
            batch_size=16,
            grad_accumulation=4,
            dtype="bfloat16",
            validate_every_n_steps=1000,
            checkpoint_every_n_steps=1000,
            keep_last_checkpoints=2,
        ),
    )


def lm_train_presets() -> PresetRegistry[LmTrainConfig]:
    """The presets of ``seqkit lm train``."""
    registry = PresetRegistry("lm.train", LmTrainConfig, default="small")
    registry.register("tiny", _tiny, "2-layer width-32 model, 20 steps: tests, seconds")
    registry.register(
        "demo", _demo, "4-layer width-128 model, ~90 s on 2 idle CPU cores (make demo)"
    )
    registry.register("small", _small, "6-layer width-256 model, 5k steps, 256-token rows")
    registry.register("base", _base, "llama 'small' arch (~30M), 1k context, bf16, for GPUs")
    return registry


# Fine-tuning starts from a pretrained model: a small LR (3e-3 wrecked a 135M model in two
# steps) and a warmup that fits short runs (run_training shortens one that would not fit).
FINETUNE_LR = 1e-4
TINY_FINETUNE_LR = 3e-4


def _finetune_tiny() -> LmFinetuneConfig:
    return LmFinetuneConfig(
        data=FinetuneDataSection(max_seq_len=64, valid_fraction=0.1),
        optim=OptimSection(
            optimizer={"name": "adamw", "lr": TINY_FINETUNE_LR, "weight_decay": 0.0},
            lr_scheduler={"name": "constant", "warmup_steps": 2},
        ),
        train=_seconds_run(20, 4, every=10, log_every=5),
    )


def _finetune_default() -> LmFinetuneConfig:
    return LmFinetuneConfig(
        data=FinetuneDataSection(max_seq_len=512),
        optim=OptimSection(
            optimizer={"name": "adamw", "lr": FINETUNE_LR, "weight_decay": 0.0},
            lr_scheduler={"name": "cosine", "warmup_steps": 10, "min_lr": FINETUNE_LR / 10},
        ),
        train=TrainSection(
            max_steps=1000, batch_size=8, validate_every_n_steps=100, checkpoint_every_n_steps=200
        ),
    )


def lm_finetune_presets() -> PresetRegistry[LmFinetuneConfig]:
    """The presets of ``seqkit lm finetune``."""
    registry = PresetRegistry("lm.finetune", LmFinetuneConfig, default="default")
    registry.register("tiny", _finetune_tiny, "20 steps of batch 4, lr 3e-4: tests, seconds")
    registry.register("default", _finetune_default, "1k steps, lr 1e-4, 512-token examples")
    return registry


def _preference_tiny() -> LmPreferenceConfig:
    return LmPreferenceConfig(
        data=PreferenceDataSection(max_seq_len=64, valid_fraction=0.1),
        optim=OptimSection(
            optimizer={"name": "adamw", "lr": 1e-3, "weight_decay": 0.0},
            lr_scheduler={"name": "constant", "warmup_steps": 0},
        ),
        train=_seconds_run(10, 4, every=5, log_every=1),
    )


def _preference_default() -> LmPreferenceConfig:
    return LmPreferenceConfig(
        data=PreferenceDataSection(max_seq_len=512),
        train=TrainSection(
            max_steps=1000, batch_size=8, validate_every_n_steps=100, checkpoint_every_n_steps=200
        ),
    )


def lm_preference_presets() -> PresetRegistry[LmPreferenceConfig]:
    """The presets of ``seqkit lm preference-finetune``."""
    registry = PresetRegistry("lm.preference", LmPreferenceConfig, default="default")
    registry.register("tiny", _preference_tiny, "10 steps of 4 pairs: tests, seconds")
    registry.register("default", _preference_default, "1k steps of 8 pairs, DPO, lr 5e-6")
    return registry
