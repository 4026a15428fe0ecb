"""Optimizers and learning-rate schedulers built from config dataclasses."""

from __future__ import annotations

from seqkit.optim.errors import OptimConfigError as OptimConfigError
from seqkit.optim.lr_schedulers import BUILTIN_LR_SCHEDULERS as BUILTIN_LR_SCHEDULERS
from seqkit.optim.lr_schedulers import LR_SCHEDULER_CONFIGS as LR_SCHEDULER_CONFIGS
from seqkit.optim.lr_schedulers import ConstantWarmupConfig as ConstantWarmupConfig
from seqkit.optim.lr_schedulers import CosineConfig as CosineConfig
from seqkit.optim.lr_schedulers import FormulaLRScheduler as FormulaLRScheduler
from seqkit.optim.lr_schedulers import LRSchedulerConfig as LRSchedulerConfig
from seqkit.optim.lr_schedulers import LRSchedulers as LRSchedulers
from seqkit.optim.lr_schedulers import LRSchedulerType as LRSchedulerType
from seqkit.optim.lr_schedulers import NoamConfig as NoamConfig
from seqkit.optim.lr_schedulers import PolynomialDecayConfig as PolynomialDecayConfig
from seqkit.optim.lr_schedulers import TriStageConfig as TriStageConfig
from seqkit.optim.lr_schedulers import create_lr_scheduler as create_lr_scheduler
from seqkit.optim.lr_schedulers import (
    lr_scheduler_config_from_dict as lr_scheduler_config_from_dict,
)
from seqkit.optim.optimizers import BUILTIN_OPTIMIZERS as BUILTIN_OPTIMIZERS
from seqkit.optim.optimizers import OPTIMIZER_CONFIGS as OPTIMIZER_CONFIGS
from seqkit.optim.optimizers import AdamWConfig as AdamWConfig
from seqkit.optim.optimizers import OptimizerConfig as OptimizerConfig
from seqkit.optim.optimizers import Optimizers as Optimizers
from seqkit.optim.optimizers import OptimizerType as OptimizerType
from seqkit.optim.optimizers import Params as Params
from seqkit.optim.optimizers import SGDConfig as SGDConfig
from seqkit.optim.optimizers import create_optimizer as create_optimizer
from seqkit.optim.optimizers import optimizer_config_from_dict as optimizer_config_from_dict
