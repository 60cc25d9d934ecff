"""DVC stage `export`: `sfkeras export` with the pipeline's default paths (see dvc.yaml)."""

import sys

from sfkeras.cli import main

if __name__ == "__main__":
    sys.exit(main(["export"]))
