"""Key/value caches for incremental decoding: self-attention (growing) and cross-attention."""

from __future__ import annotations

from typing import final

import torch
from torch import Tensor
from torch.nn import Module
from typing_extensions import override

from seqkit.nn.batch_layout import BatchLayout
from seqkit.nn.errors import IncrementalStateError
from seqkit.nn.incremental_state import IncrementalState, IncrementalStateBag


@final
class SelfAttentionCache(IncrementalState):
    """Keys and values ``[B, H_kv, max_num_steps, D]``, preallocated and filled in place.

    Preallocating avoids re-concatenating the whole cache at every step, which would
    make generating ``n`` tokens cost O(n^2) copies.
    """

    def __init__(self, keys: Tensor, values: Tensor, max_num_steps: int) -> None:
        batch, heads, _, head_dim = keys.shape
        shape = (batch, heads, max_num_steps, head_dim)
        self.keys = keys.new_empty(shape)
        self.values = values.new_empty((batch, values.shape[1], max_num_steps, values.shape[3]))
        self.length = 0

    def append(self, start: int, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """Write the new positions at ``start`` and return all keys/values up to them."""
        end = start + keys.shape[2]
        if end > self.keys.shape[2]:
            raise IncrementalStateError(
                f"The KV cache holds {self.keys.shape[2]} positions but step {end} was "
                "requested; create the IncrementalStateBag with a larger `max_num_steps`."
            )
        if keys.shape[0] != self.keys.shape[0]:
            raise IncrementalStateError(
                f"The batch has {keys.shape[0]} rows but the cache was started with "
                f"{self.keys.shape[0]}; use `state_bag.reorder()` to change the batch."
            )
        self.keys[:, :, start:end] = keys
        self.values[:, :, start:end] = values
        self.length = end
        return self.keys[:, :, :end], self.values[:, :, :end]

    @override
    def reorder(self, new_order: Tensor) -> None:
        self.keys = self.keys.index_select(0, new_order.to(self.keys.device))
        self.values = self.values.index_select(0, new_order.to(self.values.device))


@final
class CrossAttentionCache(IncrementalState):
    """The projected encoder keys and values, computed at the first decoding step."""

    def __init__(self, keys: Tensor, values: Tensor) -> None:
        self.keys = keys
        self.values = values

    @override
    def reorder(self, new_order: Tensor) -> None:
        self.keys = self.keys.index_select(0, new_order.to(self.keys.device))
        self.values = self.values.index_select(0, new_order.to(self.values.device))


@final
class KeyPaddingState(IncrementalState):
    """Which cached positions of each row are valid keys (``[B, max_num_steps]`` bool)."""

    def __init__(self, batch_size: int, max_num_steps: int, device: torch.device) -> None:
        self.valid = torch.zeros((batch_size, max_num_steps), dtype=torch.bool, device=device)

    def update(self, start: int, chunk_valid: Tensor) -> Tensor:
        """Record the validity of the new chunk and return ``[B, start + S]`` validity."""
        end = start + chunk_valid.shape[1]
        if end > self.valid.shape[1] or chunk_valid.shape[0] != self.valid.shape[0]:
            raise IncrementalStateError(
                f"Cannot record positions {start}..{end} for {chunk_valid.shape[0]} rows in a "
                f"cache of {self.valid.shape[1]} steps x {self.valid.shape[0]} rows; check "
                "`max_num_steps` and reorder the bag when the batch changes."
            )
        self.valid[:, start:end] = chunk_valid
        return self.valid[:, :end]

    @override
    def reorder(self, new_order: Tensor) -> None:
        self.valid = self.valid.index_select(0, new_order.to(self.valid.device))


def track_key_padding(
    owner: Module, seqs: Tensor, layout: BatchLayout | None, state_bag: IncrementalStateBag
) -> Tensor | None:
    """Record which new positions of ``seqs`` are padding; return ``[B, step + S]`` validity.

    Returns ``None`` while no padding was ever seen, so callers keep the fast causal path.
    ``owner`` (the model) keys the :class:`KeyPaddingState` in the bag.
    """
    chunk_valid = None if layout is None else layout.padding_mask(seqs.shape[1], seqs.device)
    state = state_bag.get_state(owner, KeyPaddingState)
    if state is None:
        if chunk_valid is None:
            return None
        state = KeyPaddingState(seqs.shape[0], state_bag.max_num_steps, seqs.device)
        state.valid[:, : state_bag.step_nr] = True
        state_bag.set_state(owner, state)
    if chunk_valid is None:
        chunk_valid = torch.ones(seqs.shape[:2], dtype=torch.bool, device=seqs.device)
    return state.update(state_bag.step_nr, chunk_valid)
