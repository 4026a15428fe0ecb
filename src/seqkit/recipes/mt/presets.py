"""Named starting configs of ``seqkit mt train``."""

from __future__ import annotations

from seqkit.config import PresetRegistry
from seqkit.recipes.mt.config import BleuSection, MtDataSection, MtTrainConfig
from seqkit.recipes.sections import ModelSection, OptimSection, TokenizerSection, TrainSection


def _tiny() -> MtTrainConfig:
    # Seconds on one CPU core: tests and trying the command out.
    return MtTrainConfig(
        # The transformer "tiny" arch with one pre-norm layer on each side.
        model=ModelSection(
            family="transformer",
            arch="tiny",
            config={"num_encoder_layers": 1, "num_decoder_layers": 1, "norm_order": "pre"},
        ),
        tokenizer=TokenizerSection(vocab_size=300, max_training_lines=4000),
        data=MtDataSection(valid_size=40, max_seq_len=48, max_pairs=600),
        label_smoothing=0.1,
        optim=OptimSection(
            optimizer={"name": "adamw", "lr": 3e-3, "weight_decay": 0.0, "betas": [0.9, 0.98]},
            lr_scheduler={"name": "cosine", "warmup_steps": 10, "min_lr": 3e-4},
        ),
        train=TrainSection(
            max_steps=30,
            batch_size=16,
            validate_every_n_steps=15,
            checkpoint_every_n_steps=15,
            log_every_n_steps=5,
            tensorboard=False,
        ),
        bleu=BleuSection(num_sentences=40, beam_size=2, max_gen_len=48),
    )


def _small() -> MtTrainConfig:
    # The transformer family's "small" arch on KJV -> RV1909 verse pairs: a few hours of CPU
    # or minutes of GPU for readable translations.
    return MtTrainConfig(
        model=ModelSection(family="transformer", arch="small"),
        tokenizer=TokenizerSection(vocab_size=8000),
        data=MtDataSection(valid_size=500, max_seq_len=160),
        optim=OptimSection(
            optimizer={"name": "adamw", "lr": 7e-4, "weight_decay": 0.0, "betas": [0.9, 0.98]},
            lr_scheduler={"name": "noam", "warmup_steps": 1000},
        ),
        train=TrainSection(
            max_steps=20_000,
            batch_size=64,
            validate_every_n_steps=1000,
            checkpoint_every_n_steps=1000,
        ),
        bleu=BleuSection(num_sentences=300, beam_size=4, max_gen_len=200),
    )


def _base() -> MtTrainConfig:
    # Transformer-base shape (Vaswani et al. 2017) for GPUs: bf16, 32k joint vocabulary.
    return MtTrainConfig(
        model=ModelSection(family="transformer", arch="base"),
        tokenizer=TokenizerSection(vocab_size=32_000, max_training_lines=2_000_000),
        data=MtDataSection(valid_size=2000, max_seq_len=256),
        optim=OptimSection(
            optimizer={"name": "adamw", "lr": 7e-4, "weight_decay": 0.0, "betas": [0.9, 0.98]},
            lr_scheduler={"name": "noam", "warmup_steps": 4000},
        ),
        train=TrainSection(
            max_steps=100_000,
            batch_size=128,
            grad_accumulation=2,
            dtype="bfloat16",
            validate_every_n_steps=2000,
            checkpoint_every_n_steps=2000,
            keep_last_checkpoints=2,
        ),
        bleu=BleuSection(num_sentences=1000, beam_size=5, max_gen_len=256, batch_size=64),
    )


def mt_train_presets() -> PresetRegistry[MtTrainConfig]:
    """The presets of ``seqkit mt train``."""
    registry = PresetRegistry("mt.train", MtTrainConfig, default="small")
    registry.register("tiny", _tiny, "1+1-layer width-64 transformer, 30 steps: tests, seconds")
    registry.register("small", _small, "transformer 'small' arch, 20k steps, 8k joint vocabulary")
    registry.register("base", _base, "transformer 'base' arch, 100k steps, bf16, for GPUs")
    return registry
