"""Loss curves from ``metrics.jsonl``: a PNG plot and a compact text rendering."""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)

_BLOCKS = " ▁▂▃▄▅▆▇█"


def read_loss_curve(
    metrics_path: Path, section: str = "train", key: str = "loss"
) -> list[tuple[int, float]]:
    """``(step, value)`` pairs of ``section``; a step recorded twice (after a resume) keeps
    its last value.

    Damaged lines (cut short by a kill, not UTF-8, not a JSON object, no integer ``step``)
    are skipped, with one warning naming the file and the first damaged line numbers.
    """
    points: dict[int, float] = {}
    if not metrics_path.is_file():
        return []
    damaged: list[int] = []
    for number, raw in enumerate(metrics_path.read_bytes().splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            record = None
        step = record.get("step") if isinstance(record, dict) else None
        if not isinstance(record, dict) or not isinstance(step, int) or isinstance(step, bool):
            damaged.append(number)
            continue
        value = record.get(key)
        if record.get("section") == section and isinstance(value, int | float):
            points[step] = float(value)
    if damaged:
        shown = ", ".join(map(str, damaged[:10])) + (", ..." if len(damaged) > 10 else "")
        log.warning(
            "Skipped %d unreadable line(s) of %s (line %s), e.g. cut short by a killed run.",
            len(damaged),
            metrics_path,
            shown,
        )
    return sorted(points.items())


def text_curve(points: list[tuple[int, float]], *, width: int = 60, height: int = 8) -> str:
    """A small multi-line chart of ``points`` made of block characters."""
    if not points:
        return "(no points)"
    step = max(1, -(-len(points) // width))
    buckets = [points[i : i + step] for i in range(0, len(points), step)]
    values = [sum(v for _, v in b) / len(b) for b in buckets]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    levels = [(v - lo) / span * height for v in values]
    rows = []
    for row in range(height - 1, -1, -1):
        chars = []
        for level in levels:
            fill = level - row
            chars.append("█" if fill >= 1 else _BLOCKS[max(0, int(fill * 8))] if fill > 0 else " ")
        label = f"{hi:7.3f} " if row == height - 1 else f"{lo:7.3f} " if row == 0 else " " * 8
        rows.append(label + "│" + "".join(chars))
    rows.append(" " * 8 + "└" + "─" * len(levels))
    left, right = f"step {points[0][0]}", f"step {points[-1][0]}"
    gap = max(1, len(levels) - len(left) - len(right))
    rows.append(" " * 9 + left + " " * gap + right)
    return "\n".join(rows)


def plot_loss_curves(metrics_path: Path, png_path: Path, *, title: str) -> Path | None:
    """Plot train (and validation, if any) loss against step; ``None`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    train = read_loss_curve(metrics_path, "train")
    valid = read_loss_curve(metrics_path, "valid")
    if not train:
        return None
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot([s for s, _ in train], [v for _, v in train], label="train loss", linewidth=1.2)
    if valid:
        ax.plot([s for s, _ in valid], [v for _, v in valid], "o-", label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path)
    plt.close(fig)
    return png_path
