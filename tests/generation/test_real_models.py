"""The generators on seqkit's real model families, against no-cache decoding and HF."""

from __future__ import annotations

import pytest
import torch

from seqkit.generation.beam_search import BeamSearchGenerator
from seqkit.generation.sampling import SamplingGenerator
from seqkit.generation.scoring import SequenceScorer
from seqkit.models import ModelFamilies, ModelHub
from seqkit.models.llama import create_llama_family
from seqkit.models.transformer import create_transformer_family
from tests.generation import reference

EOS = 2


def _prompts(n_lens, vocab, seed):
    g = torch.Generator().manual_seed(seed)
    return [
        torch.cat([torch.tensor([1]), torch.randint(3, vocab, (n - 1,), generator=g)])
        for n in n_lens
    ]


@pytest.fixture(scope="module")
def llama():
    torch.manual_seed(0)
    return create_llama_family().create_model("tiny").eval()


@pytest.fixture(scope="module")
def transformer():
    torch.manual_seed(0)
    return create_transformer_family().create_model("tiny").eval()


def test_llama_greedy_equals_no_cache_reference(llama) -> None:
    prompts = _prompts([5, 2, 8], 512, seed=1)
    out = SamplingGenerator(eos_idx=EOS, max_gen_len=10).generate(llama, prompts)
    for prompt, hyps in zip(prompts, out.hypotheses):
        assert hyps[0].tokens.tolist() == reference.greedy(llama, prompt, eos=EOS, max_gen_len=10)


def test_llama_beam_equals_no_cache_reference(llama) -> None:
    prompts = _prompts([4, 6], 512, seed=2)
    out = BeamSearchGenerator(eos_idx=EOS, beam_size=3, max_gen_len=5).generate(llama, prompts)
    for prompt, hyps in zip(prompts, out.hypotheses):
        expected = reference.beam_search(
            llama, prompt, eos=EOS, k=3, max_gen_len=5, length_penalty=1.0
        )
        assert [h.tokens.tolist() for h in hyps] == [t for _, t in expected]
        assert [h.score for h in hyps] == pytest.approx([s for s, _ in expected], abs=1e-4)


def test_transformer_greedy_and_beam_equal_no_cache_reference(transformer) -> None:
    vocab = transformer.config.vocab_size
    sources = _prompts([6, 3], vocab, seed=3)
    prefixes = [torch.tensor([1, 7]), torch.tensor([1, 7])]
    greedy = SamplingGenerator(eos_idx=EOS, max_gen_len=6).generate(
        transformer, prefixes, sources=sources
    )
    beam = BeamSearchGenerator(eos_idx=EOS, beam_size=2, max_gen_len=4).generate(
        transformer, prefixes, sources=sources
    )
    for src, prefix, g, b in zip(sources, prefixes, greedy.hypotheses, beam.hypotheses):
        assert g[0].tokens.tolist() == reference.greedy(
            transformer, prefix, eos=EOS, max_gen_len=6, source=src
        )
        expected = reference.beam_search(
            transformer, prefix, eos=EOS, k=2, max_gen_len=4, length_penalty=1.0, source=src
        )
        assert [h.tokens.tolist() for h in b] == [t for _, t in expected]


def test_transformer_scores_match_generation(transformer) -> None:
    src = [torch.tensor([5, 9, 11, 2])]
    prefix = [torch.tensor([1, 7])]
    hyp = (
        SamplingGenerator(eos_idx=EOS, max_gen_len=5)
        .generate(transformer, prefix, sources=src)
        .hypotheses[0][0]
    )
    out = SequenceScorer(transformer).score([hyp.tokens], contexts=prefix, sources=src)
    torch.testing.assert_close(out.token_log_probs[0], hyp.step_scores, rtol=1e-4, atol=1e-4)


def test_greedy_matches_hugging_face_generate_token_for_token(tmp_path) -> None:
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=128,
        vocab_size=97,
        max_position_embeddings=128,
        rope_theta=10000.0,
        bos_token_id=1,
        eos_token_id=EOS,
        pad_token_id=0,
        tie_word_embeddings=False,
    )
    hf = transformers.LlamaForCausalLM(config).eval()
    hf.save_pretrained(tmp_path)
    model = ModelHub(ModelFamilies([create_llama_family()])).load(tmp_path)
    prompts = _prompts([4, 2, 7], 97, seed=4)
    out = SamplingGenerator(eos_idx=EOS, max_gen_len=16).generate(model, prompts)
    for prompt, hyps in zip(prompts, out.hypotheses):
        with torch.no_grad():
            ref = hf.generate(
                prompt[None], do_sample=False, max_new_tokens=16, eos_token_id=EOS, pad_token_id=0
            )
        assert hyps[0].tokens.tolist() == ref[0, prompt.numel() :].tolist()
