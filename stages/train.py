"""DVC stage `train`: `sfkeras train` with the pipeline's default paths (see dvc.yaml).

Trains on ``data/prepared/<data.name>`` into ``data/train`` and resumes from the
newest checkpoint of the same run in ``data/train/checkpoints/<run key>/`` when there is
one (see README, "Experiments").
"""

import sys

from sfkeras.cli import main

if __name__ == "__main__":
    sys.exit(main(["train"]))
