"""DVC stage `prepare`: `sfkeras prepare` with the pipeline's default paths (see dvc.yaml).

Outputs (see :mod:`sfkeras.data.prepare`): TFRecord shards of PNG images,
``dataset.json`` (counts, resolution, source parameters, content hash) and ``preview.png``
under ``data/prepared/<data.name>/``.
"""

import sys

from sfkeras.cli import main

if __name__ == "__main__":
    sys.exit(main(["prepare"]))
