"""The data pipeline: sources and operators over a native (C++) engine.

Names and semantics follow fairseq2's data pipeline, so a fairseq2 pipeline ports by
changing imports. See docs/data_pipeline.md.
"""

from __future__ import annotations

from seqkit._native import num_threads
from seqkit.data.batch_plan import BatchPlan, plan_documents, plan_windows
from seqkit.data.batch_reader import PlannedBatchReader
from seqkit.data.batches import MaskedBatch, PackedBatch, PairBatch
from seqkit.data.collate import Collater
from seqkit.data.errors import (
    CollateError,
    DataError,
    DataPipelineError,
    DataPipelineStateError,
    DataReadError,
    DataWriteError,
)
from seqkit.data.files import list_files
from seqkit.data.pipeline import (
    DataPipeline,
    DataPipelineBuilder,
    concat,
    constant,
    count,
    read_sequence,
    round_robin,
    sample,
    zip,
)
from seqkit.data.readers import (
    NotEnoughDataError,
    ReaderOptions,
    lm_reader,
    masked_reader,
    pair_reader,
)
from seqkit.data.text import count_lines, lines_to_check, read_text, utf8_size
from seqkit.data.token_dataset import TokenColumn, TokenDataset
from seqkit.data.tokens import (
    TokenDatasetInfo,
    TokenDType,
    TokenWriter,
    concat_token_ids,
    load_token_index,
    read_tokens,
    token_dtype,
    write_tokens,
)

__all__ = [
    "BatchPlan",
    "CollateError",
    "Collater",
    "DataError",
    "DataPipeline",
    "DataPipelineBuilder",
    "DataPipelineError",
    "DataPipelineStateError",
    "DataReadError",
    "DataWriteError",
    "MaskedBatch",
    "NotEnoughDataError",
    "PackedBatch",
    "PairBatch",
    "PlannedBatchReader",
    "ReaderOptions",
    "TokenColumn",
    "TokenDType",
    "TokenDataset",
    "TokenDatasetInfo",
    "TokenWriter",
    "concat",
    "concat_token_ids",
    "constant",
    "count",
    "count_lines",
    "lines_to_check",
    "list_files",
    "lm_reader",
    "load_token_index",
    "masked_reader",
    "num_threads",
    "pair_reader",
    "plan_documents",
    "plan_windows",
    "read_sequence",
    "read_text",
    "read_tokens",
    "round_robin",
    "sample",
    "token_dtype",
    "utf8_size",
    "write_tokens",
    "zip",
]
