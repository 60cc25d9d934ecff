"""Run ../shared/bench-original/train_original.py with the original's loss statistics kept.

Usage: TORCH_PY benchmarks/original_losses.py ORIGINAL_SRC REALS.npy OUT_DIR RECIPE.json
(the arguments of train_original.py). Besides what train_original.py writes, OUT_DIR gets
``stats.json``: every value the original's loss reports through
``torch_utils.training_stats.report`` (``Loss/G/loss`` and ``Loss/D/loss`` once per step,
``Loss/r1_penalty`` once per R1 step, ...), each call's batch mean, in order.
``benchmarks/compare_losses.py`` sets them beside sfkeras's dvclive logs (docs/FIDELITY.md).
"""

import collections
import json
import os
import pathlib
import runpy
import sys

#: ../shared/bench-original (or $BENCH_ORIGINAL)/train_original.py.
TRAIN_ORIGINAL = pathlib.Path(os.environ.get(
    "BENCH_ORIGINAL", pathlib.Path(__file__).resolve().parents[2] / "shared" / "bench-original")
) / "train_original.py"


def main() -> None:
    source, out_dir = sys.argv[1], sys.argv[3]
    sys.path.insert(0, source)
    from torch_utils import training_stats

    reported = collections.defaultdict(list)

    def report(name, value):
        reported[name].append(float(value.detach().float().mean()))
        return value

    training_stats.report = report  # the loss module looks it up at every call
    sys.argv = [str(TRAIN_ORIGINAL), *sys.argv[1:]]
    try:
        runpy.run_path(str(TRAIN_ORIGINAL), run_name="__main__")
    finally:
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "stats.json"), "w") as stream:
            json.dump(reported, stream)


if __name__ == "__main__":
    main()
