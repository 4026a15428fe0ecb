"""Conversion between seqkit's ``transformer`` layout and Hugging Face Marian (``MarianMTModel``).

Marian is the one HF encoder-decoder whose computation is exactly seqkit's post-norm
transformer: sinusoidal positions from 0 with the sines in the first half of the features
and the cosines in the second (the same frequencies, ``10000^(-2i/D)``), embeddings
scaled by sqrt(model_dim) (``scale_embedding``), post-norm layers (residual, then
LayerNorm with eps 1e-5), biased q/k/v/output projections, a ReLU or GELU feed-forward
network, no embedding LayerNorm and no final encoder/decoder LayerNorm, and an output
projection tied to the shared embedding. Tensors are only renamed.

Not representable, so refused with :class:`ModelConfigError` (in both directions):

* ``norm_order="pre"``: Marian has no pre-norm variant; the HF pre-norm encoder-decoders
  (mBART, NLLB/M2M100) add a LayerNorm on the embeddings (mBART) or offset learned/
  sinusoidal positions by the padding index (M2M100's ``padding_idx + 1`` start), which
  seqkit does not compute, so their logits would differ.
* ``position_encoder="learned"``: Marian's positions are fixed sinusoids; BART's learned
  table starts at offset 2 and adds an embedding LayerNorm.
* ``share_embeddings=False`` or ``tie_output_projection=False``, and a LayerNorm eps other
  than 1e-5 (Marian hard-codes it).

On import, ``final_logits_bias`` is dropped: seqkit's output projection has no bias, and
exports write none (Marian initializes it to zeros). A Marian checkpoint with a non-zero
bias therefore loads with slightly different logits; Marian-NMT conversions from OPUS use
``swish``, which is refused anyway.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import final

from typing_extensions import override

from seqkit.models.errors import ModelConfigError
from seqkit.models.hf import HuggingFaceConverter
from seqkit.models.transformer.config import TransformerConfig

_LAYER_NORM_EPS = 1e-5

# (HF prefix, seqkit prefix); ``{i}`` is the layer index. The first matching rule wins.
_COMMON: tuple[tuple[str, str], ...] = (
    ("self_attn.q_proj.", "self_attn.q_proj."),
    ("self_attn.k_proj.", "self_attn.k_proj."),
    ("self_attn.v_proj.", "self_attn.v_proj."),
    ("self_attn.out_proj.", "self_attn.output_proj."),
    ("self_attn_layer_norm.", "self_attn_norm."),
    ("fc1.", "ffn.inner_proj."),
    ("fc2.", "ffn.output_proj."),
    ("final_layer_norm.", "ffn_norm."),
)
_CROSS: tuple[tuple[str, str], ...] = (
    ("encoder_attn.q_proj.", "cross_attn.q_proj."),
    ("encoder_attn.k_proj.", "cross_attn.k_proj."),
    ("encoder_attn.v_proj.", "cross_attn.v_proj."),
    ("encoder_attn.out_proj.", "cross_attn.output_proj."),
    ("encoder_attn_layer_norm.", "cross_attn_norm."),
)
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("model.shared.", "encoder_frontend.embed."),
    ("lm_head.", "final_proj."),
    *((f"model.encoder.layers.{{i}}.{hf}", f"encoder.layers.{{i}}.{ours}") for hf, ours in _COMMON),
    *(
        (f"model.decoder.layers.{{i}}.{hf}", f"decoder.layers.{{i}}.{ours}")
        for hf, ours in (*_COMMON, *_CROSS)
    ),
)
# HF keys of the shared embedding under other names (all tied to model.shared).
_EMBED_ALIASES = ("model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight")
_DROPPED = ("final_logits_bias", "embed_positions.weight")


def _compile(prefix: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(prefix).replace(r"\{i\}", r"(?P<i>\d+)") + "(?P<rest>.*)$")


_FROM_HF = tuple((_compile(hf), ours) for hf, ours in _PREFIXES)
_TO_HF = tuple((_compile(ours), hf) for hf, ours in _PREFIXES)
# seqkit's decoder embedding is the encoder's (shared); written once, under model.shared.
_TO_HF_EXTRA = ((_compile("decoder_frontend.embed."), "model.shared."),)


def _rename(key: str, rules: tuple[tuple[re.Pattern[str], str], ...]) -> str | None:
    for pattern, template in rules:
        match = pattern.match(key)
        if match:
            layer = match.groupdict().get("i")
            return template.replace("{i}", layer or "") + match["rest"]
    return None


def check_marian_compatible(config: TransformerConfig) -> None:
    """Raise :class:`ModelConfigError` saying why ``config`` has no exact Marian form."""
    reasons = []
    if config.norm_order != "post":
        reasons.append(
            "norm_order='pre' (Marian is post-norm; the pre-norm HF encoder-decoders, mBART "
            "and M2M100/NLLB, add an embedding LayerNorm or offset positions, so logits "
            "would differ)"
        )
    if config.position_encoder != "sinusoidal":
        reasons.append(
            "position_encoder='learned' (Marian's positions are fixed sinusoids; BART's "
            "learned table is offset by 2 and followed by a LayerNorm)"
        )
    if not config.share_embeddings or not config.tie_output_projection:
        reasons.append("untied embeddings (share_embeddings and tie_output_projection)")
    if config.layer_norm_eps != _LAYER_NORM_EPS:
        reasons.append(f"layer_norm_eps={config.layer_norm_eps} (Marian uses 1e-5)")
    if reasons:
        raise ModelConfigError(
            "This transformer has no exact Hugging Face form: the HF converter writes "
            "MarianMTModel, which cannot represent " + "; ".join(reasons) + "."
        )


@final
class TransformerHuggingFaceConverter(HuggingFaceConverter):
    """Reads and writes ``MarianMTModel`` checkpoints of seqkit's post-norm layout."""

    @property
    @override
    def model_types(self) -> tuple[str, ...]:
        return ("marian",)

    @override
    def config_from_hf(self, hf_config: Mapping[str, object]) -> TransformerConfig:
        model_type = hf_config.get("model_type")
        if model_type != "marian":
            raise ModelConfigError(
                f"config.json has model_type {model_type!r}; the transformer family reads marian."
            )
        activation = hf_config.get("activation_function", "gelu")
        if activation not in ("relu", "gelu"):
            raise ModelConfigError(
                f"This Marian checkpoint uses activation_function={activation!r}; the seqkit "
                "transformer family implements relu and gelu only."
            )
        if hf_config.get("share_encoder_decoder_embeddings", True) is False:
            raise ModelConfigError(
                "Marian checkpoints with separate decoder embeddings are refused."
            )
        if hf_config.get("tie_word_embeddings", True) is False:
            raise ModelConfigError("Marian checkpoints with an untied lm_head are refused.")
        if hf_config.get("normalize_before"):
            raise ModelConfigError("Marian checkpoints with normalize_before=true are refused.")
        try:
            dim = _int(hf_config, "d_model")
            layers = (_int(hf_config, "encoder_layers"), _int(hf_config, "decoder_layers"))
            heads = (
                _int(hf_config, "encoder_attention_heads"),
                _int(hf_config, "decoder_attention_heads"),
            )
            ffns = (_int(hf_config, "encoder_ffn_dim"), _int(hf_config, "decoder_ffn_dim"))
            if heads[0] != heads[1] or ffns[0] != ffns[1]:
                raise ModelConfigError(
                    "The seqkit transformer family has one head count and FFN width for the "
                    f"encoder and decoder; this Marian config has {heads} and {ffns}."
                )
            pad = hf_config.get("pad_token_id")
            return TransformerConfig(
                model_dim=dim,
                num_encoder_layers=layers[0],
                num_decoder_layers=layers[1],
                num_attn_heads=heads[0],
                ffn_inner_dim=ffns[0],
                vocab_size=_int(hf_config, "vocab_size"),
                pad_idx=pad if isinstance(pad, int) else None,
                max_seq_len=int(str(hf_config.get("max_position_embeddings", 1024))),
                position_encoder="sinusoidal",
                norm_order="post",
                share_embeddings=True,
                tie_output_projection=True,
                scale_embeddings=bool(hf_config.get("scale_embedding", False)),
                activation="gelu" if activation == "gelu" else "relu",
                dropout_p=float(str(hf_config.get("dropout", 0.1))),
                attn_dropout_p=float(str(hf_config.get("attention_dropout", 0.0))),
                layer_norm_eps=_LAYER_NORM_EPS,
            )
        except (TypeError, ValueError) as ex:
            raise ModelConfigError(f"Invalid Hugging Face marian config.json: {ex}") from ex

    @override
    def config_to_hf(self, config: object) -> dict[str, object]:
        if not isinstance(config, TransformerConfig):
            raise ModelConfigError(f"expected a TransformerConfig, got {type(config).__name__}")
        check_marian_compatible(config)
        hf: dict[str, object] = {
            "architectures": ["MarianMTModel"],
            "model_type": "marian",
            "is_encoder_decoder": True,
            "d_model": config.model_dim,
            "encoder_layers": config.num_encoder_layers,
            "decoder_layers": config.num_decoder_layers,
            "encoder_attention_heads": config.num_attn_heads,
            "decoder_attention_heads": config.num_attn_heads,
            "encoder_ffn_dim": config.ffn_inner_dim,
            "decoder_ffn_dim": config.ffn_inner_dim,
            "vocab_size": config.vocab_size,
            "decoder_vocab_size": config.vocab_size,
            "max_position_embeddings": config.max_seq_len,
            "activation_function": config.activation,
            "scale_embedding": config.scale_embeddings,
            "normalize_embedding": False,
            "normalize_before": False,
            "static_position_embeddings": True,
            "share_encoder_decoder_embeddings": True,
            "tie_word_embeddings": True,
            "dropout": config.dropout_p,
            "attention_dropout": config.attn_dropout_p,
            "activation_dropout": 0.0,
            "torch_dtype": "float32",
        }
        if config.pad_idx is not None:
            hf["pad_token_id"] = config.pad_idx
        # Replaced by the tokenizer's <s> when one is exported (seqkit targets start with it).
        hf["decoder_start_token_id"] = config.pad_idx if config.pad_idx is not None else 0
        return hf

    @override
    def key_from_hf(self, key: str) -> str | None:
        if key.endswith(_DROPPED):
            return None
        if key in _EMBED_ALIASES:
            return "encoder_frontend.embed.weight"
        return _rename(key, _FROM_HF) or key

    @override
    def key_to_hf(self, key: str) -> str:
        return _rename(key, _TO_HF) or _rename(key, _TO_HF_EXTRA) or key


def _int(hf_config: Mapping[str, object], key: str) -> int:
    if key not in hf_config:
        raise ModelConfigError(f"config.json lacks the required key '{key}'")
    return int(str(hf_config[key]))
