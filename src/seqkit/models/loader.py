"""Materialize a model built on the meta device from weight files, one tensor at a time.

Where the checkpoint's dtype is the one asked for and the target is the CPU, a tensor is
not copied at all: the model's parameter becomes a view of the file's private memory map
(``load_state_dict(assign=True)`` semantics), so loading reads nothing but the checksum pass
and pages come in as the model first touches them, as with ``from_pretrained``. Writes
(training) go to private copy-on-write pages; the file never changes, and replacing it
(``os.replace``, as seqkit's writers do) leaves the mapped old inode intact. Other dtypes
and devices (CUDA) are copied once, converting on the fly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor
from torch.nn import Module, Parameter

from seqkit.models.errors import CheckpointError, StateDictMismatchError
from seqkit.models.weights import WeightFile, open_weight_file, verify_weights_file

KeyMap = Callable[[str], str | None]


def load_weights(
    model: Module,
    files: Sequence[Path],
    *,
    key_map: KeyMap | None = None,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> None:
    """Fill ``model`` (typically on the meta device) with the tensors of ``files``.

    Each file is first checked against the ``checksums.sha256`` beside it, if any
    (:func:`~seqkit.models.weights.verify_weights_file`). ``key_map`` renames checkpoint
    keys to model keys (``None`` drops a key). Keys and shapes are checked from the file
    headers before any data is read, and every mismatch is reported in one
    :class:`StateDictMismatchError`. Tensors are moved to ``device`` and floating ones cast
    to ``dtype`` (``None`` keeps the checkpoint's dtype); each one replaces the model's
    placeholder. On the CPU in the checkpoint's dtype the placeholder is replaced by a
    zero-copy view of the memory-mapped file (see the module docstring); otherwise memory
    peaks at one copy of the weights plus the largest tensor.
    """
    device = device or torch.device("cpu")
    # Tied parameters appear under several names but are one tensor: group the names.
    groups: dict[int, list[str]] = {}
    expected: dict[str, Tensor] = {}
    for name, tensor in model.state_dict(keep_vars=True).items():
        expected[name] = tensor
        groups.setdefault(id(tensor), []).append(name)

    opened: list[WeightFile] = []
    try:
        plan: dict[str, tuple[WeightFile, str]] = {}
        unexpected: list[str] = []
        wrong_shape: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
        for path in files:
            verify_weights_file(path)  # against checksums.sha256, when the directory has one
            weight_file = open_weight_file(path)
            opened.append(weight_file)
            for key, shape in weight_file.shapes().items():
                target = key_map(key) if key_map is not None else key
                if target is None:
                    continue
                if target not in expected:
                    unexpected.append(key)
                    continue
                if tuple(expected[target].shape) != shape:
                    wrong_shape.append((target, tuple(expected[target].shape), shape))
                plan[target] = (weight_file, key)
        missing = [names[0] for names in groups.values() if not any(n in plan for n in names)]
        source = str(files[0].parent if len(files) > 1 else files[0])
        if missing or unexpected or wrong_shape:
            raise StateDictMismatchError(source, missing, unexpected, wrong_shape)

        for names in groups.values():
            name = next(n for n in names if n in plan)
            weight_file, key = plan[name]
            value: Tensor = _materialize(weight_file, key, device, dtype)
            placeholder = expected[name]
            if isinstance(placeholder, Parameter):
                # One Parameter object for all aliases, so ties survive (and optimizers
                # see the tensor once).
                value = Parameter(value, requires_grad=placeholder.requires_grad)
            for alias in names:
                _assign(model, alias, value)
    finally:
        for weight_file in opened:
            weight_file.close()

    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        if tensor.is_meta:
            raise CheckpointError(
                files[0], f"'{name}' was not filled by the checkpoint and is still on meta"
            )


def _materialize(
    weight_file: WeightFile, key: str, device: torch.device, dtype: torch.dtype | None
) -> Tensor:
    source = weight_file.read(key)
    target_dtype = source.dtype
    if dtype is not None and source.is_floating_point():
        target_dtype = dtype
    if device.type == "cpu" and target_dtype == source.dtype:
        view = weight_file.view(key)
        if view is not None:
            return view  # a view of the memory map: nothing is copied
    out = torch.empty(source.shape, dtype=target_dtype, device=device)
    # The copy reads the mapped pages once and converts on the fly: no intermediate copy.
    weight_file.copy_to(key, out)
    return out


def _assign(model: Module, name: str, value: Tensor) -> None:
    owner_name, _, leaf = name.rpartition(".")
    owner = model.get_submodule(owner_name) if owner_name else model
    if isinstance(value, Parameter):
        owner._parameters[leaf] = value
    else:
        owner._buffers[leaf] = value
