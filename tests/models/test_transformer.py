"""The transformer family, checked against torch.nn.Transformer with copied weights."""

from __future__ import annotations

import pytest
import torch

from seqkit.models import ModelFamilies
from seqkit.models.transformer import TRANSFORMER_ARCHS, TransformerModel, create_transformer_model
from seqkit.nn import BatchLayout, IncrementalStateBag, MultiheadAttention


def _tiny(**overrides: object) -> TransformerModel:
    config = TRANSFORMER_ARCHS["tiny"]()
    for key, value in overrides.items():
        setattr(config, key, value)
    return create_transformer_model(config).eval()


def _copy_attention(ours: MultiheadAttention, ref: torch.nn.MultiheadAttention) -> None:
    with torch.no_grad():
        ref.in_proj_weight.copy_(
            torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight])
        )
        ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        ref.out_proj.weight.copy_(ours.output_proj.weight)
        ref.out_proj.bias.copy_(ours.output_proj.bias)


def _copy_norm(ours: torch.nn.Module, ref: torch.nn.LayerNorm) -> None:
    ref.load_state_dict(ours.state_dict())


def _reference(model: TransformerModel) -> torch.nn.Transformer:
    config = model.config
    ref = torch.nn.Transformer(
        d_model=config.model_dim,
        nhead=config.num_attn_heads,
        num_encoder_layers=config.num_encoder_layers,
        num_decoder_layers=config.num_decoder_layers,
        dim_feedforward=config.ffn_inner_dim,
        dropout=0.0,
        batch_first=True,
        norm_first=config.norm_order == "pre",
    ).eval()
    for ours, theirs in zip(model.encoder.layers, ref.encoder.layers, strict=True):
        _copy_attention(ours.self_attn, theirs.self_attn)
        theirs.linear1.load_state_dict(ours.ffn.inner_proj.state_dict())
        theirs.linear2.load_state_dict(ours.ffn.output_proj.state_dict())
        _copy_norm(ours.self_attn_norm, theirs.norm1)
        _copy_norm(ours.ffn_norm, theirs.norm2)
    for ours, theirs in zip(model.decoder.layers, ref.decoder.layers, strict=True):
        _copy_attention(ours.self_attn, theirs.self_attn)
        _copy_attention(ours.cross_attn, theirs.multihead_attn)
        theirs.linear1.load_state_dict(ours.ffn.inner_proj.state_dict())
        theirs.linear2.load_state_dict(ours.ffn.output_proj.state_dict())
        _copy_norm(ours.self_attn_norm, theirs.norm1)
        _copy_norm(ours.cross_attn_norm, theirs.norm2)
        _copy_norm(ours.ffn_norm, theirs.norm3)
    if config.norm_order == "pre":
        _copy_norm(model.encoder.layer_norm, ref.encoder.norm)
        _copy_norm(model.decoder.layer_norm, ref.decoder.norm)
    else:
        # nn.Transformer always adds a final norm; post-norm models have none.
        ref.encoder.norm = None
        ref.decoder.norm = None
    return ref


# nn.Transformer warns about its own nested-tensor fast path; irrelevant here.
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("norm_order", ["pre", "post"])
def test_matches_torch_nn_transformer(norm_order: str) -> None:
    model = _tiny(norm_order=norm_order)
    with torch.no_grad():  # random LayerNorm affine parameters so norms are checked too
        for name, param in model.named_parameters():
            if "norm" in name:
                param.normal_(1.0, 0.3)
    ref = _reference(model)

    src = torch.randint(0, 512, (3, 7))
    tgt = torch.randint(0, 512, (3, 5))
    src_lens = torch.tensor([7, 3, 5])
    src_layout = BatchLayout(src_lens)
    with torch.no_grad():
        ours = model(src, src_layout, tgt, None)
        src_x = model.encoder_frontend(src, torch.arange(7))
        tgt_x = model.decoder_frontend(tgt, torch.arange(5))
        pad = ~(torch.arange(7)[None] < src_lens[:, None])
        hidden = ref(
            src_x,
            tgt_x,
            tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(5),
            src_key_padding_mask=pad,
            memory_key_padding_mask=pad,
            tgt_is_causal=True,
        )
        expected = model.final_proj(hidden)
    assert (ours - expected).abs().max() < 1e-4


@pytest.mark.parametrize("position_encoder", ["sinusoidal", "learned"])
def test_incremental_decoding_equals_teacher_forcing(position_encoder: str) -> None:
    model = _tiny(position_encoder=position_encoder, norm_order="pre")
    src = torch.randint(0, 512, (2, 6))
    tgt = torch.randint(0, 512, (2, 7))
    layout = BatchLayout(torch.tensor([6, 4]))
    full = model(src, layout, tgt, None)
    enc_out, enc_layout = model.encode(src, layout)
    bag = IncrementalStateBag(7)
    steps = []
    for step in range(7):
        steps.append(
            model.decode(tgt[:, step : step + 1], None, enc_out, enc_layout, state_bag=bag)
        )
        bag.increment_step_nr()
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-4)


def test_beam_reorder_reorders_cross_attention_cache() -> None:
    model = _tiny()
    src = torch.randint(0, 512, (2, 5))
    tgt = torch.randint(0, 512, (2, 3))
    enc_out, enc_layout = model.encode(src, None)
    bag = IncrementalStateBag(4)
    model.decode(tgt[:, :2], None, enc_out, enc_layout, state_bag=bag)
    bag.increment_step_nr(2)
    order = torch.tensor([1, 1])
    bag.reorder(order)
    out = model.decode(tgt[order, 2:3], None, enc_out[order], None, state_bag=bag)
    expected = model(src[order], None, tgt[order], None)[:, 2:3]
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)


def test_shared_embeddings_and_arch_sizes(families: ModelFamilies) -> None:
    model = _tiny()
    assert model.encoder_frontend.embed is model.decoder_frontend.embed
    assert model.final_proj.weight is model.decoder_frontend.embed.weight
    unshared = _tiny(share_embeddings=False, tie_output_projection=False)
    assert unshared.encoder_frontend.embed is not unshared.decoder_frontend.embed
    big = families.get("transformer").create_model("big", device=torch.device("meta"))
    # Transformer-big (Vaswani et al.): ~213M parameters with a 32k joint vocabulary.
    assert 200e6 < sum(p.numel() for p in big.parameters()) < 220e6
    assert big.family == "transformer"
