"""DVC stage `prepare`: the ``data`` section of params.yaml -> ``data/prepared/<name>/``.

Outputs (see :mod:`sfkeras.data.prepare`): TFRecord shards of PNG images,
``dataset.json`` (counts, resolution, source parameters, content hash) and ``preview.png``.
"""

import sys

from sfkeras.config import load_config
from sfkeras.data import load_manifest, prepare_dataset, summarize


def main() -> int:
    config = load_config("params.yaml")
    folder = prepare_dataset(config.data, "data/prepared")
    print(summarize(load_manifest(folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
