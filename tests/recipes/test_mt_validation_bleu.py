"""``seqkit mt train`` scores BLEU and chrF at every validation, and can select by BLEU."""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing as mp
import os
import re
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors.torch import load_file

from seqkit.checkpoint import StandardCheckpointManager
from seqkit.checkpoint.manifest import read_manifest
from seqkit.cli.main import main
from seqkit.gang import FakeGang

REPO = Path(__file__).resolve().parents[2]
KJV = REPO / "datasets" / "bible" / "kjv-rv1909.en"
QUIET = ["--config", "train.progress_bar=false", "--config", "train.console_metrics=false"]


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def copy_tsv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real text: the first 4-6 words of KJV verses, to be copied."""
    out = []
    for line in KJV.read_text(encoding="utf-8").splitlines()[:800]:
        words = re.sub(r"[^A-Za-z ]", "", line).lower().split()[:6]
        if len(words) >= 4:
            out.append(" ".join(words) + "\t" + " ".join(words))
    path = tmp_path_factory.mktemp("mt") / "copy.tsv"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def _train(out: Path, tsv: Path, *config: str) -> int:
    args = ["mt", "train", str(out), "--preset", "tiny", "--config", f"data.tsv_files=[{tsv}]"]
    args += ["--config", "data.target_lang=xx", *QUIET]
    for item in config:
        args += ["--config", item]
    return main(args)


def _rows(out: Path, section: str) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["section"] == section]


@pytest.fixture(scope="module")
def mt_run(tmp_path_factory: pytest.TempPathFactory, copy_tsv: Path) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("runs") / "mt"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = _train(out, copy_tsv, "train.max_steps=20", "train.validate_every_n_steps=10")
    assert code == 0
    return out, buffer.getvalue()


def test_bleu_and_chrf_are_recorded_at_every_validation(mt_run: tuple[Path, str]) -> None:
    out, stdout = mt_run
    valid = _rows(out, "valid")
    assert [r["step"] for r in valid] == [10, 20]
    for row in valid:
        assert 0.0 <= row["bleu"] <= 100.0
        assert 0.0 <= row["chrf"] <= 100.0
        assert row["loss"] > 0.0
    # The final BLEU is the last validation's (it scored the final step), reported as such.
    (final,) = _rows(out, "valid_bleu")
    assert final["step"] == 20
    assert final["bleu"] == valid[-1]["bleu"]
    assert final["sentences"] == 40
    assert "validation at step 20): BLEU" in stdout


def test_final_bleu_is_scored_when_no_validation_ran_at_the_end(
    tmp_path: Path, copy_tsv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A zero wall-time budget stops after the first step, without a validation.
    out = tmp_path / "run"
    assert _train(out, copy_tsv, "train.max_wall_seconds=0", "bleu.num_sentences=8") == 0
    assert _rows(out, "valid") == []
    (final,) = _rows(out, "valid_bleu")
    assert final["step"] == 1
    assert final["sentences"] == 8
    assert "scored after training, step 1): BLEU" in capsys.readouterr().out


def test_early_stopping_and_keep_best_by_bleu(
    tmp_path: Path, copy_tsv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A vanishing learning rate: the translations, hence BLEU, stay the same, so patience 1
    # stops at the second validation, and keep-best holds the first (the earliest best).
    out = tmp_path / "run"
    code = _train(
        out,
        copy_tsv,
        "optim.lr_scheduler={name: constant}",
        "optim.optimizer.lr=1e-9",
        "train.best_metric=bleu",
        "train.early_stopping_patience=1",
        "train.keep_best_checkpoints=1",
        "train.validate_every_n_steps=2",
        "train.checkpoint_every_n_steps=2",
        "bleu.num_sentences=10",
        "train.final_model=best",
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Stopped at step 4 (early_stopping)" in printed
    assert "(weights of step 2, the best validation checkpoint)" in printed
    valid = _rows(out, "valid")
    assert [r["step"] for r in valid] == [2, 4]
    assert valid[0]["bleu"] == valid[1]["bleu"]
    manager = StandardCheckpointManager(out / "checkpoints", FakeGang())
    assert manager.committed_steps() == [2, 4]
    score = read_manifest(manager.step_dir(2), verify=False).score
    assert score == -valid[0]["bleu"]  # stored negated: keep-best keeps the lowest
    # train.final_model=best: the exported model and its card are step 2's.
    best = manager.load_model_state(2)
    exported = load_file(out / "model" / "model.safetensors")
    assert exported.keys() <= best.keys()  # the export stores tied weights once
    assert all(torch.equal(best[k], exported[k]) for k in exported)
    card = yaml.safe_load((out / "card.yaml").read_text())
    assert (card["trained_steps"], card["weights_from_step"]) == (4, 2)
    # The final BLEU is that of the exported (step 2) weights, scored after training.
    (final,) = _rows(out, "valid_bleu")
    assert final["step"] == 2
    assert "scored after training, step 2): BLEU" in printed


def test_best_metric_must_be_a_validation_metric(
    tmp_path: Path, copy_tsv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _train(
        tmp_path / "run", copy_tsv, "train.best_metric=blue", "train.max_steps=2",
        "optim.lr_scheduler={name: constant}", "train.validate_every_n_steps=2",
        "bleu.num_sentences=4",
    )  # fmt: skip
    assert code != 0
    assert "'blue' is not a validation metric" in capsys.readouterr().err
    # Selecting by BLEU with BLEU switched off fails before training.
    code = _train(tmp_path / "off", copy_tsv, "train.best_metric=bleu", "bleu.num_sentences=0")
    assert code == 2
    assert "bleu.num_sentences" in capsys.readouterr().err
    # Exporting the best checkpoint needs one to be kept, and scored at its step.
    code = _train(tmp_path / "best", copy_tsv, "train.final_model=best")
    assert code == 2
    assert "train.keep_best_checkpoints >= 1" in capsys.readouterr().err
    code = _train(
        tmp_path / "best", copy_tsv, "train.final_model=best", "train.keep_best_checkpoints=1",
        "train.validate_every_n_steps=4", "train.checkpoint_every_n_steps=6",
    )  # fmt: skip
    assert code == 2
    assert "a multiple of train.validate_every_n_steps (4)" in capsys.readouterr().err


def _sharded_rank(rank: int, port: int, out_dir: Path, card: str) -> None:
    """One of two Gloo ranks scoring the same pairs with the work split between them."""
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    result: dict[str, Any]
    try:
        import seqkit
        from seqkit.gang import ProcessGroupGang
        from seqkit.models import ModelHub
        from seqkit.recipes.mt.scoring import create_translator
        from seqkit.recipes.mt.valid_bleu import BleuScorer, all_gather_texts
        from seqkit.text import TokenizerHub

        gang = ProcessGroupGang.create_default(
            device=torch.device("cpu"), rank=rank, size=2, init_method=f"tcp://127.0.0.1:{port}"
        )
        container = seqkit.setup()
        model = container.resolve(ModelHub).load(card).eval()
        tokenizer = container.resolve(TokenizerHub).load(card)
        translator = create_translator(
            model, tokenizer, source_lang="en", target_lang="xx", beam_size=2, max_gen_len=16
        )
        pairs = json.loads((out_dir / "pairs.json").read_text())
        scorer = BleuScorer(translator, [tuple(p) for p in pairs], shard=True, batch_size=2)
        with torch.no_grad():
            metrics = scorer(7, gang)
        texts = all_gather_texts(gang, ["é", "ü ñ"] if rank == 0 else [])
        result = {"ok": True, "metrics": metrics, "hyps": scorer.last_hypotheses, "texts": texts}
        gang.close()
    except BaseException as ex:  # reported to the parent, which fails the test
        result = {"ok": False, "error": f"{type(ex).__name__}: {ex}", "tb": traceback.format_exc()}
    (out_dir / f"rank{rank}.json").write_text(json.dumps(result))
    os._exit(0)


@pytest.mark.distributed
def test_two_ranks_split_the_translations_and_agree(
    mt_run: tuple[Path, str], copy_tsv: Path, tmp_path: Path
) -> None:
    import seqkit
    from seqkit.models import ModelHub
    from seqkit.recipes.mt.scoring import create_translator
    from seqkit.recipes.mt.valid_bleu import BleuScorer
    from seqkit.text import TokenizerHub
    from tests.trainer.topology import free_port

    card = str(mt_run[0] / "card.yaml")
    lines = copy_tsv.read_text().splitlines()[-7:]  # odd: the ranks get 4 and 3 pairs
    pairs = [tuple(line.split("\t")) for line in lines]
    (tmp_path / "pairs.json").write_text(json.dumps(pairs))
    port = free_port()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_sharded_rank, args=(r, port, tmp_path, card)) for r in (0, 1)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(180)
        if proc.is_alive():
            proc.kill()
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for result in results:
        assert result["ok"], result.get("tb")
    # One process, no sharding: the same translations and scores.
    container = seqkit.setup()
    model = container.resolve(ModelHub).load(card).eval()
    tokenizer = container.resolve(TokenizerHub).load(card)
    translator = create_translator(
        model, tokenizer, source_lang="en", target_lang="xx", beam_size=2, max_gen_len=16
    )
    single = BleuScorer(translator, pairs, shard=False, batch_size=2)  # type: ignore[arg-type]
    with torch.no_grad():
        expected = single(7, FakeGang())
    for result in results:
        assert result["hyps"] == single.last_hypotheses
        assert result["metrics"] == pytest.approx(expected)
        assert result["texts"] == [["é", "ü ñ"], []]
