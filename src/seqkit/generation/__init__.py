"""Generation: samplers, sampling and beam-search generators, scoring, text-level APIs."""

from __future__ import annotations

from seqkit.generation.beam_search import BeamSearchGenerator as BeamSearchGenerator
from seqkit.generation.config import GeneratorConfig as GeneratorConfig
from seqkit.generation.config import GeneratorFactory as GeneratorFactory
from seqkit.generation.errors import GenerationError as GenerationError
from seqkit.generation.generator import SequenceGenerator as SequenceGenerator
from seqkit.generation.output import GenerationOutput as GenerationOutput
from seqkit.generation.output import Hypothesis as Hypothesis
from seqkit.generation.sampler import GreedySampler as GreedySampler
from seqkit.generation.sampler import MinPSampler as MinPSampler
from seqkit.generation.sampler import MultinomialSampler as MultinomialSampler
from seqkit.generation.sampler import Sampler as Sampler
from seqkit.generation.sampler import TopKSampler as TopKSampler
from seqkit.generation.sampler import TopPSampler as TopPSampler
from seqkit.generation.sampling import SamplingGenerator as SamplingGenerator
from seqkit.generation.scoring import ScoreOutput as ScoreOutput
from seqkit.generation.scoring import SequenceScorer as SequenceScorer
from seqkit.generation.scoring import perplexity as perplexity
from seqkit.generation.step_processor import BannedTokenProcessor as BannedTokenProcessor
from seqkit.generation.step_processor import ForcedTokenProcessor as ForcedTokenProcessor
from seqkit.generation.step_processor import MinLengthProcessor as MinLengthProcessor
from seqkit.generation.step_processor import (
    RepetitionPenaltyProcessor as RepetitionPenaltyProcessor,
)
from seqkit.generation.step_processor import StepProcessor as StepProcessor
from seqkit.generation.step_processor import (
    VocabularyLimitProcessor as VocabularyLimitProcessor,
)
from seqkit.generation.text_completer import TextCompleter as TextCompleter
from seqkit.generation.text_translator import TextTranslator as TextTranslator
