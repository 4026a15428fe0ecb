"""The incremental-decoding state (KV caches) of one generation run."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TypeVar, final

from torch import Tensor
from torch.nn import Module

from seqkit.nn.errors import IncrementalStateError

StateT = TypeVar("StateT", bound="IncrementalState")


class IncrementalState(ABC):
    """The state one module keeps between decoding steps (e.g. its key/value cache)."""

    @abstractmethod
    def reorder(self, new_order: Tensor) -> None:
        """Rearrange the batch dimension: row ``i`` becomes old row ``new_order[i]``."""


@final
class IncrementalStateBag:
    """Holds every module's :class:`IncrementalState` for one incremental decoding run.

    ``step_nr`` is the number of positions already processed; a model called with the bag
    places its new positions at ``step_nr`` onwards. The caller advances it with
    :meth:`increment_step_nr` after each model call.
    """

    def __init__(self, max_num_steps: int) -> None:
        if max_num_steps <= 0:
            raise IncrementalStateError(
                f"`max_num_steps` must be positive, got {max_num_steps}; pass the prompt "
                "length plus the number of tokens to generate."
            )
        self._max_num_steps = max_num_steps
        self._step_nr = 0
        self._states: dict[Module, IncrementalState] = {}

    @property
    def step_nr(self) -> int:
        """The number of positions processed so far."""
        return self._step_nr

    @property
    def max_num_steps(self) -> int:
        """The largest number of positions the caches can hold."""
        return self._max_num_steps

    def increment_step_nr(self, n: int = 1) -> None:
        """Advance the position counter by ``n`` after the model consumed ``n`` positions."""
        if self._step_nr + n > self._max_num_steps:
            raise IncrementalStateError(
                f"Advancing to step {self._step_nr + n} exceeds `max_num_steps` "
                f"({self._max_num_steps}); create the bag with a larger `max_num_steps`."
            )
        self._step_nr += n

    def get_state(self, module: Module, kind: type[StateT]) -> StateT | None:
        """The state ``module`` stored, or ``None``; raise if it is not a ``kind``."""
        state = self._states.get(module)
        if state is None:
            return None
        if not isinstance(state, kind):
            raise IncrementalStateError(
                f"The state stored for {type(module).__name__} is a {type(state).__name__}, "
                f"not a {kind.__name__}; one bag must not be shared by different models."
            )
        return state

    def set_state(self, module: Module, state: IncrementalState) -> None:
        """Store ``state`` as the state of ``module``."""
        self._states[module] = state

    def reorder(self, new_order: Tensor) -> None:
        """Reorder every state along the batch (beam search): row i <- old row new_order[i]."""
        for state in self._states.values():
            state.reorder(new_order)
