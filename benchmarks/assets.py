"""Asset downloads and card loading vs plain-library baselines, measured in the same run.

1. Download: ``StandardAssetDownloadManager.resolve_path`` of a file served on 127.0.0.1
   (partial file, fsync, sha256 check, lock, rename) vs ``urllib`` read into a file with
   no checks, and vs the same guarantees written by hand (hash while writing, fsync,
   rename). Ratios = seqkit MiB/s / baseline MiB/s (1.0 = no overhead).
2. Card store: ``StandardAssetStore`` indexing N card files and resolving every card
   (duplicate-key checks, line tracking, ``base`` merge) vs ``yaml.safe_load`` of the same
   files. Ratio = baseline time / seqkit time.

Best of R interleaved repeats. Usage: ``python benchmarks/assets.py [--quick]``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import urlopen

import yaml

from seqkit.assets import (
    DirectoryCardSource,
    FetchOptions,
    StandardAssetDownloadManager,
    StandardAssetStore,
)

_SERVER = """
import functools, sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=sys.argv[1]))
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _baseline_download(url: str, out: Path) -> None:
    with urlopen(url) as response, out.open("wb") as f:
        shutil.copyfileobj(response, f, 1 << 20)


def _verified_baseline(url: str, out: Path, sha: str) -> None:
    # The same guarantees written by hand: hash while writing, fsync, check, rename.
    digest = hashlib.sha256()
    part = out.with_name(out.name + ".part")
    with urlopen(url) as response, part.open("wb") as f:
        while block := response.read(1 << 20):
            f.write(block)
            digest.update(block)
        f.flush()
        os.fsync(f.fileno())
    assert digest.hexdigest() == sha
    os.replace(part, out)


def _seqkit_download(url: str, sha: str, work: Path, run: int) -> None:
    cards = work / f"cards{run}"
    cards.mkdir()
    (cards / "c.yaml").write_text(f"name: c\ncheckpoint: {url}\ncheckpoint_sha256: {sha}\n")
    card = StandardAssetStore([DirectoryCardSource("b", cards)]).retrieve_card("c")
    manager = StandardAssetDownloadManager(
        work / f"cache{run}", fetch_options=FetchOptions(progress=False)
    )
    manager.resolve_path(card, "checkpoint")


def bench_download(work: Path, size_mb: int, repeats: int) -> tuple[float, float, float]:
    served = work / "served"
    served.mkdir()
    data = hashlib.sha256(b"seed").digest() * (size_mb * (1 << 20) // 32)
    (served / "w.bin").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    # The server runs in its own process so it does not compete for this one's GIL.
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(served)], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    url = f"http://127.0.0.1:{server.stdout.readline().strip()}/w.bin"
    best_base = best_verified = best_seq = float("inf")
    try:
        for run in range(repeats):
            start = time.perf_counter()
            _baseline_download(url, work / f"base{run}.bin")
            best_base = min(best_base, time.perf_counter() - start)
            start = time.perf_counter()
            _verified_baseline(url, work / f"verified{run}.bin", sha)
            best_verified = min(best_verified, time.perf_counter() - start)
            start = time.perf_counter()
            _seqkit_download(url, sha, work, run)
            best_seq = min(best_seq, time.perf_counter() - start)
    finally:
        server.terminate()
        server.wait()
    return size_mb / best_base, size_mb / best_verified, size_mb / best_seq


def bench_cards(work: Path, num_cards: int, repeats: int) -> tuple[float, float]:
    cards = work / "many"
    cards.mkdir()
    for i in range(num_cards):
        base = "" if i == 0 else "base: card-0\n"
        (cards / f"c{i}.yaml").write_text(
            f"name: card-{i}\n{base}model_family: llama\nmodel_arch: tiny\n"
            f"checkpoint: w{i}.pt\nmodel_config: {{dim: {i}, layers: 2}}\n"
        )
    files = sorted(cards.glob("*.yaml"))
    best_base = best_seq = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for file in files:
            yaml.safe_load(file.read_text())
        best_base = min(best_base, time.perf_counter() - start)
        start = time.perf_counter()
        store = StandardAssetStore([DirectoryCardSource("b", cards)])
        for name in store.retrieve_names():
            store.retrieve_card(name)
        best_seq = min(best_seq, time.perf_counter() - start)
    return best_base, best_seq


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    args = parser.parse_args()
    size_mb, num_cards, repeats = (16, 100, 2) if args.quick else (256, 1000, 3)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base_mbs, verified_mbs, seq_mbs = bench_download(work, size_mb, repeats)
        print(
            f"download {size_mb} MiB over loopback: urllib {base_mbs:.0f} MiB/s, "
            f"urllib+sha256+fsync by hand {verified_mbs:.0f} MiB/s, seqkit {seq_mbs:.0f} MiB/s; "
            f"seqkit/urllib {seq_mbs / base_mbs:.2f}, seqkit/by-hand {seq_mbs / verified_mbs:.2f}"
        )
        base_s, seq_s = bench_cards(work, num_cards, repeats)
        print(
            f"{num_cards} cards: yaml.safe_load {base_s * 1e3:.0f} ms, seqkit store "
            f"(index + resolve all) {seq_s * 1e3:.0f} ms, ratio {base_s / seq_s:.2f}"
        )


if __name__ == "__main__":
    main()
