"""Hugging Face tokenizer directories built offline with ``tokenizers`` + ``transformers``.

Two kinds, as HF repos ship them: ``bos`` (a byte-level BPE whose template post-processor
adds ``<s>``, with a Llama-2 style chat template in ``tokenizer_config.json``) and
``chatml`` (no post-processor: nothing added, BOS ``<|im_start|>`` and EOS ``<|im_end|>``
as in SmolLM2-Instruct, with a ChatML template in ``chat_template.jinja``).
"""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIBLE = REPO / "datasets" / "bible"

SPECIALS = ["<|endoftext|>", "<s>", "</s>", "<pad>", "<|im_start|>", "<|im_end|>", "[UNK]"]

LLAMA2_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}"
    "{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}"
    "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}"
    "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}"
    "{{ ' ' + content.strip() + ' ' + eos_token }}"
    "{% endif %}{% endfor %}"
)

CHATML_TEMPLATE = """{% for message in messages %}
{% if loop.first and messages[0]['role'] != 'system' %}
{{ '<|im_start|>system\nYou are a helpful assistant<|im_end|>\n' }}
{% endif %}
{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}
{% endfor %}
{% if add_generation_prompt %}
{{ '<|im_start|>assistant\n' }}
{% endif %}
"""


def _corpus() -> list[str]:
    with (BIBLE / "web.en").open(encoding="utf-8") as file:
        lines = file.read().splitlines()[:400]
    return [*lines, "héllo wörld, ünïcode — 日本語のテキスト 🙂 naïve café"] * 1


def build_hf_tokenizer(directory: Path, kind: str) -> Path:
    """Write an HF tokenizer directory of ``kind`` (``bos`` or ``chatml``) and return it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    if kind == "bos":
        bos = tok.token_to_id("<s>")
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
        )
        fast = PreTrainedTokenizerFast(
            tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
        )
    elif kind == "chatml":
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
        fast = PreTrainedTokenizerFast(
            tokenizer_object=tok,
            bos_token="<|im_start|>",
            eos_token="<|im_end|>",
            pad_token="<|endoftext|>",
            unk_token="<|endoftext|>",
        )
    else:
        raise ValueError(kind)
    fast.save_pretrained(str(directory))
    config_path = directory / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    if kind == "bos":
        config["chat_template"] = LLAMA2_TEMPLATE
    else:
        (directory / "chat_template.jinja").write_text(CHATML_TEMPLATE, encoding="utf-8")
        config.pop("chat_template", None)
    config_path.write_text(json.dumps(config, indent=2))
    return directory
