"""Conversion between the Hugging Face Llama/Qwen2 layout and seqkit's ``llama`` layout.

seqkit applies RoPE in HF's "rotate half" order, so tensors are only renamed, never
permuted, and an HF checkpoint loads straight from its memory map.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import final

from typing_extensions import override

from seqkit.models.errors import ModelConfigError
from seqkit.models.hf import HuggingFaceConverter
from seqkit.models.llama.config import LlamaConfig
from seqkit.nn import Llama3RopeScaling

# (HF prefix, seqkit prefix); ``{i}`` is the layer index.
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("model.embed_tokens.", "embed."),
    ("model.norm.", "decoder.layer_norm."),
    ("lm_head.", "final_proj."),
    ("model.layers.{i}.input_layernorm.", "decoder.layers.{i}.self_attn_norm."),
    ("model.layers.{i}.post_attention_layernorm.", "decoder.layers.{i}.ffn_norm."),
    ("model.layers.{i}.self_attn.q_proj.", "decoder.layers.{i}.self_attn.q_proj."),
    ("model.layers.{i}.self_attn.k_proj.", "decoder.layers.{i}.self_attn.k_proj."),
    ("model.layers.{i}.self_attn.v_proj.", "decoder.layers.{i}.self_attn.v_proj."),
    ("model.layers.{i}.self_attn.o_proj.", "decoder.layers.{i}.self_attn.output_proj."),
    ("model.layers.{i}.mlp.gate_proj.", "decoder.layers.{i}.ffn.gate_proj."),
    ("model.layers.{i}.mlp.up_proj.", "decoder.layers.{i}.ffn.inner_proj."),
    ("model.layers.{i}.mlp.down_proj.", "decoder.layers.{i}.ffn.output_proj."),
)


def _compile(prefix: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(prefix).replace(r"\{i\}", r"(?P<i>\d+)") + "(?P<rest>.*)$")


_FROM_HF = tuple((_compile(hf), ours) for hf, ours in _PREFIXES)
_TO_HF = tuple((_compile(ours), hf) for hf, ours in _PREFIXES)


def _rename(key: str, rules: tuple[tuple[re.Pattern[str], str], ...]) -> str | None:
    for pattern, template in rules:
        match = pattern.match(key)
        if match:
            layer = match.groupdict().get("i")
            return template.replace("{i}", layer or "") + match["rest"]
    return None


@final
class LlamaHuggingFaceConverter(HuggingFaceConverter):
    """Reads and writes ``LlamaForCausalLM`` and ``Qwen2ForCausalLM`` checkpoints."""

    @property
    @override
    def model_types(self) -> tuple[str, ...]:
        return ("llama", "qwen2")

    @override
    def config_from_hf(self, hf_config: Mapping[str, object]) -> LlamaConfig:
        model_type = hf_config.get("model_type")
        if model_type not in self.model_types:
            raise ModelConfigError(
                f"config.json has model_type {model_type!r}; the llama family reads "
                f"{', '.join(self.model_types)}."
            )
        _refuse(hf_config.get("hidden_act", "silu") != "silu", "hidden_act other than silu")
        _refuse(bool(hf_config.get("mlp_bias")), "mlp_bias=true")
        if model_type == "llama":
            _refuse(bool(hf_config.get("attention_bias")), "attention_bias=true (o_proj bias)")
        _refuse(bool(hf_config.get("use_sliding_window")), "use_sliding_window=true")
        rope = _rope_parameters(hf_config)
        try:
            dim = _int(hf_config, "hidden_size")
            heads = _int(hf_config, "num_attention_heads")
            head_dim = hf_config.get("head_dim")
            pad = hf_config.get("pad_token_id")
            return LlamaConfig(
                model_dim=dim,
                num_layers=_int(hf_config, "num_hidden_layers"),
                num_attn_heads=heads,
                num_key_value_heads=int(str(hf_config.get("num_key_value_heads") or heads)),
                head_dim=int(str(head_dim)) if head_dim is not None else None,
                ffn_inner_dim=_int(hf_config, "intermediate_size"),
                vocab_size=_int(hf_config, "vocab_size"),
                pad_idx=int(str(pad)) if isinstance(pad, int) else None,
                max_seq_len=int(str(hf_config.get("max_position_embeddings", 4096))),
                rope_theta=float(str(rope.get("rope_theta", 10000.0))),
                rope_scaling=_rope_scaling(rope),
                rms_norm_eps=float(str(hf_config.get("rms_norm_eps", 1e-6))),
                tie_embeddings=bool(hf_config.get("tie_word_embeddings", False)),
                qkv_bias=model_type == "qwen2",
                init_std=float(str(hf_config.get("initializer_range", 0.02))),
            )
        except (TypeError, ValueError) as ex:
            raise ModelConfigError(f"Invalid Hugging Face {model_type} config.json: {ex}") from ex

    @override
    def config_to_hf(self, config: object) -> dict[str, object]:
        if not isinstance(config, LlamaConfig):
            raise ModelConfigError(f"expected a LlamaConfig, got {type(config).__name__}")
        qwen = config.qkv_bias
        rope: dict[str, object] = {"rope_theta": config.rope_theta, "rope_type": "default"}
        if config.rope_scaling is not None:
            scaling = config.rope_scaling
            rope.update(
                rope_type="llama3",
                factor=scaling.factor,
                low_freq_factor=scaling.low_freq_factor,
                high_freq_factor=scaling.high_freq_factor,
                original_max_position_embeddings=scaling.original_max_seq_len,
            )
        hf: dict[str, object] = {
            "architectures": ["Qwen2ForCausalLM" if qwen else "LlamaForCausalLM"],
            "model_type": "qwen2" if qwen else "llama",
            "hidden_size": config.model_dim,
            "num_hidden_layers": config.num_layers,
            "num_attention_heads": config.num_attn_heads,
            "num_key_value_heads": config.num_key_value_heads,
            "head_dim": config.resolved_head_dim,
            "intermediate_size": config.ffn_inner_dim,
            "vocab_size": config.vocab_size,
            "max_position_embeddings": config.max_seq_len,
            "rms_norm_eps": config.rms_norm_eps,
            "tie_word_embeddings": config.tie_embeddings,
            "hidden_act": "silu",
            "initializer_range": config.init_std,
            "rope_parameters": rope,
            "rope_theta": config.rope_theta,
            "torch_dtype": "float32",
        }
        if config.pad_idx is not None:
            hf["pad_token_id"] = config.pad_idx
        if not qwen:
            hf.update(attention_bias=False, mlp_bias=False)
        return hf

    @override
    def key_from_hf(self, key: str) -> str | None:
        if key.endswith("rotary_emb.inv_freq"):
            return None  # recomputed from the config
        return _rename(key, _FROM_HF) or key

    @override
    def key_to_hf(self, key: str) -> str:
        return _rename(key, _TO_HF) or key


def _refuse(condition: bool, what: str) -> None:
    if condition:
        raise ModelConfigError(
            f"This Hugging Face checkpoint uses {what}, which the seqkit llama family does "
            "not implement; it cannot be loaded faithfully."
        )


def _int(hf_config: Mapping[str, object], key: str) -> int:
    if key not in hf_config:
        raise ModelConfigError(f"config.json lacks the required key '{key}'")
    return int(str(hf_config[key]))


def _rope_parameters(hf_config: Mapping[str, object]) -> dict[str, object]:
    # transformers >= 5 writes `rope_parameters`; 4.x writes `rope_theta` + `rope_scaling`.
    params = hf_config.get("rope_parameters")
    if isinstance(params, Mapping):
        return dict(params)
    merged: dict[str, object] = {}
    scaling = hf_config.get("rope_scaling")
    if isinstance(scaling, Mapping):
        merged.update(scaling)
        if "type" in scaling and "rope_type" not in scaling:
            merged["rope_type"] = scaling["type"]
    if "rope_theta" in hf_config:
        merged["rope_theta"] = hf_config["rope_theta"]
    return merged


def _rope_scaling(rope: Mapping[str, object]) -> Llama3RopeScaling | None:
    kind = rope.get("rope_type", "default")
    if kind in (None, "default"):
        return None
    if kind != "llama3":
        raise ModelConfigError(
            f"RoPE scaling type {kind!r} is not supported by the seqkit llama family "
            "(supported: default, llama3)."
        )
    return Llama3RopeScaling(
        factor=float(str(rope.get("factor", 8.0))),
        low_freq_factor=float(str(rope.get("low_freq_factor", 1.0))),
        high_freq_factor=float(str(rope.get("high_freq_factor", 4.0))),
        original_max_seq_len=int(str(rope.get("original_max_position_embeddings", 8192))),
    )
