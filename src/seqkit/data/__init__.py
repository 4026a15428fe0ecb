"""The data pipeline: sources and operators over a native (C++) engine.

Names and semantics follow fairseq2's data pipeline, so a fairseq2 pipeline ports by
changing imports. See docs/data_pipeline.md.
"""

from __future__ import annotations

from seqkit._native import num_threads
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
from seqkit.data.text import count_lines, lines_to_check, read_text, utf8_size
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
    "CollateError",
    "Collater",
    "DataError",
    "DataPipeline",
    "DataPipelineBuilder",
    "DataPipelineError",
    "DataPipelineStateError",
    "DataReadError",
    "DataWriteError",
    "TokenDType",
    "TokenDatasetInfo",
    "TokenWriter",
    "concat",
    "concat_token_ids",
    "constant",
    "count",
    "count_lines",
    "lines_to_check",
    "list_files",
    "load_token_index",
    "num_threads",
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
