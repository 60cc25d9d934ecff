"""DVC stage `prepare`: `sfkeras prepare` with the pipeline's default paths (see dvc.yaml).

Writes ``data/prepared/<data.name>/`` (see :mod:`sfkeras.data.prepare`): TFRecord shards
of PNG images, ``dataset.json`` (counts, resolution, source parameters, content hash)
and ``preview.png``.
"""

import sys

from sfkeras.cli import main

if __name__ == "__main__":
    sys.exit(main(["prepare"]))
