"""Type stub of the native core (native/src/bindings.cc). Import seqkit.data instead."""

from collections.abc import Callable, Sequence
from typing import Any, Self, final

import numpy as np
import numpy.typing as npt

@final
class DataPipeline:
    """An iterable, resettable, resumable data pipeline."""

    def __iter__(self) -> Self: ...
    def __next__(self) -> Any: ...
    def reset(self, reset_rng: bool = False) -> None:
        """Go back to the start; ``reset_rng`` also rewinds shuffle/sample RNGs to their seeds."""
    def state_dict(self) -> dict[str, Any]:
        """The exact position as plain data (ints, strs, bytes, lists, dicts).

        Raises ``DataPipelineStateError`` naming the operator when a buffer holds a Python
        object that is not plain data: states are never pickled.
        """
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue from a state made by ``state_dict()`` of an identically built pipeline.

        Never unpickles: a pickled entry (``__pickle__``) raises ``DataPipelineStateError``.
        """
    @property
    def is_broken(self) -> bool:
        """True after an operator failed, until ``reset()`` or ``load_state_dict()``."""
    @property
    def position(self) -> int:
        """Number of examples yielded since the start (or the last reset)."""
    def stats(self) -> list[dict[str, Any]]:
        """Per-operator counts and inclusive time (tick-based, sampled), outermost first."""
    def close(self) -> None:
        """Stop background threads and release the pipeline's resources."""

@final
class DataPipelineBuilder:
    """Chains operators; ``and_return()`` builds the pipeline."""

    def map(
        self,
        fn: Callable[[Any], Any] | Sequence[Callable[[Any], Any]] | PlannedGather,
        num_parallel_calls: int = 1,
        selector: str | None = None,
    ) -> Self:
        """``fn(x)`` for each element, in order, called on chunks of consecutive elements
        (one GIL acquisition each); a callable with ``__seqkit_map_batch__(xs, n)`` is
        called once per chunk instead (see docs/data_pipeline.md)."""
    def filter(self, predicate: Callable[[Any], bool]) -> Self: ...
    def shuffle(self, shuffle_window: int, seed: int = 0) -> Self: ...
    def bucket(self, bucket_size: int, drop_remainder: bool = False) -> Self: ...
    def bucket_by_length(
        self,
        bucket_sizes: Sequence[tuple[int, int]],
        selector: str | None = None,
        min_data_len: int = 1,
        skip_below_min_examples: bool = False,
        skip_above_max_examples: bool = False,
        drop_remainder: bool = False,
        skip_long_examples: bool = False,
    ) -> Self:
        """``skip_long_examples`` is the older fairseq2 name of ``skip_above_max_examples``."""
    def shard(self, shard_idx: int, num_shards: int) -> Self: ...
    def take(self, num_examples: int) -> Self: ...
    def skip(self, num_examples: int) -> Self: ...
    def repeat(self, num_repeats: int | None = None, reset_rng: bool = False) -> Self: ...
    def yield_from(self, fn: Callable[[Any], DataPipeline]) -> Self: ...
    def unbatch(self) -> Self: ...
    def prefetch(self, num_examples: int) -> Self: ...
    def collate(self, pad_value: int | None = None, pad_to_multiple: int = 1) -> Self: ...
    def pack(
        self,
        seq_len: int,
        selector: str | None = None,
        pad_value: int = 0,
        drop_remainder: bool = False,
    ) -> Self: ...
    def and_return(self) -> DataPipeline: ...

def read_sequence(seq: Sequence[Any]) -> DataPipelineBuilder: ...
def read_text(
    path: str,
    rtrim: bool = False,
    ltrim: bool = False,
    skip_empty: bool = False,
    encoding_errors: str = "strict",
) -> DataPipelineBuilder: ...
def read_tokens(
    directory: str, dtype: str, num_documents: int, num_tokens: int
) -> DataPipelineBuilder: ...
def constant(example: Any) -> DataPipelineBuilder: ...
def count(start: int = 0, step: int = 1) -> DataPipelineBuilder: ...
def zip(
    pipelines: list[DataPipeline],
    names: list[str] = ...,
    zip_to_shortest: bool = False,
    flatten: bool = False,
) -> DataPipelineBuilder: ...
def round_robin(
    pipelines: list[DataPipeline], stop_at_shortest: bool = False
) -> DataPipelineBuilder: ...
def sample(
    pipelines: list[DataPipeline], weights: list[float], seed: int = 0
) -> DataPipelineBuilder: ...
def concat(pipelines: list[DataPipeline]) -> DataPipelineBuilder: ...
def collate_batch(
    batch: list[Any], pad_value: int | None = None, pad_to_multiple: int = 1
) -> Any: ...
def num_threads() -> int:
    """Threads in the process-wide native pool."""

def count_lines(path: str) -> int:
    """Count the lines of a text file ('\\n' or '\\r\\n' endings)."""

def concat_ids(
    batch: list[list[int]], prefix: list[int], suffix: list[int], dtype: str
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """Join lists of token ids into (tokens, lengths) NumPy arrays."""

def utf8_size(lines: list[str | bytes] | list[str] | list[bytes]) -> int:
    """Total UTF-8 size of a list of str/bytes."""

def lines_to_check(lines: list[str | bytes], max_chars: int) -> list[int]:
    """Indices of the lines that are bytes, empty, whitespace only or over max_chars."""

def pack_by_budget(
    lengths: list[npt.NDArray[np.int64]], max_tokens: int, max_batch_size: int = 0
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Cut ordered examples into batches within a padded-token budget."""

@final
class PlannedGather:
    """One epoch's planned batches as a native map step (seqkit.data.batches)."""

    def __init__(
        self,
        kind: str,
        datasets: list[list[tuple[npt.NDArray[Any], npt.NDArray[np.uint64]]]],
        pad_values: list[int],
        seq_len: int,
        ids: npt.NDArray[np.signedinteger],
        bounds: npt.NDArray[np.int64],
        dataset_starts: npt.NDArray[np.int64],
        order: npt.NDArray[np.signedinteger],
    ) -> None: ...
    @property
    def num_batches(self) -> int: ...
