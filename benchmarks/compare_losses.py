"""The losses of the original and of sfkeras along training, seeds side by side.

Usage: python benchmarks/compare_losses.py --original RUN [RUN ...] --sfkeras RUN [RUN ...]
ORIGINAL runs are OUT_DIRs of benchmarks/original_losses.py (``stats.json``); SFKERAS runs
are ``sfkeras train`` folders (``log/dvclive``). Prints, per stretch of kimg, the mean and
standard deviation over the runs of each of ``loss/G``, ``loss/D`` and the R1 penalty
(the table of docs/FIDELITY.md). The original reports per step (batch 32), sfkeras per
``train.log_kimg`` window; a stretch averages what falls in it.
"""

from __future__ import annotations

import argparse
import csv
import json
import pathlib

import numpy as np

STRETCHES = ((2, 5), (5, 10), (10, 15), (15, 20), (20, 30), (30, 40))
BATCH = 32
D_REG_INTERVAL = 16
#: sfkeras's log name -> the original's training_stats name.
LOSSES = {"loss/G": "Loss/G/loss", "loss/D": "Loss/D/loss", "loss/r1_penalty": "Loss/r1_penalty"}


def original_curves(run: pathlib.Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{loss: (kimg after each reported step, value)}`` of an original run."""
    stats = json.loads((run / "stats.json").read_text())
    curves = {}
    for name, reported in LOSSES.items():
        values = np.asarray(stats[reported])
        every = D_REG_INTERVAL if name == "loss/r1_penalty" else 1
        curves[name] = ((np.arange(len(values)) * every + 1) * BATCH / 1000, values)
    return curves


def sfkeras_curves(run: pathlib.Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{loss: (kimg of each log row, value)}`` of an sfkeras run."""
    curves = {}
    for name in LOSSES:
        table = run / "log" / "dvclive" / "plots" / "metrics" / f"{name}.tsv"
        with table.open() as stream:
            rows = np.array([[float(row["step"]), float(row[name.split("/")[1]])]
                             for row in csv.DictReader(stream, delimiter="\t")])
        curves[name] = (rows[:, 0], rows[:, 1])
    return curves


def summarise(label: str, runs: list[dict]) -> None:
    for name in LOSSES:
        cells = []
        for low, high in STRETCHES:
            means = [values[(kimg > low) & (kimg <= high)].mean()
                     for kimg, values in (run[name] for run in runs)
                     if ((kimg > low) & (kimg <= high)).any()]
            cells.append(f"{np.mean(means):.3f} ({np.std(means, ddof=1):.3f})"
                         if len(means) > 1 else "-")
        print(f"| {name}, {label} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", nargs="+", type=pathlib.Path, required=True)
    parser.add_argument("--sfkeras", nargs="+", type=pathlib.Path, required=True)
    args = parser.parse_args()
    print("| | " + " | ".join(f"{low}-{high} kimg" for low, high in STRETCHES) + " |")
    print("|---" * (len(STRETCHES) + 1) + "|")
    summarise("original", [original_curves(run) for run in args.original])
    summarise("sfkeras", [sfkeras_curves(run) for run in args.sfkeras])


if __name__ == "__main__":
    main()
