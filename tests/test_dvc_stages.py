"""dvc.yaml cannot go stale: every stage depends on all the code and params it reads.

Each stage script runs, in a subprocess, on a tiny configuration in a temporary
project (:mod:`stage_probe` records the ``sfkeras`` modules it imported and the
configuration keys it read); its stage in ``dvc.yaml`` must list them. The Inception
weights of the stages' cache are broken after the ``inception`` stage, so the later
stages pass only if they read the pipeline's own copy (``data/inception``).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml
from conftest import REPO_ROOT

from sfkeras.config import preset_params_yaml
from sfkeras.metrics.inception_weights import CONVERTED_NAME, converted_weights_file

pytestmark = pytest.mark.slow  # six stage runs in subprocesses

STAGES = ("prepare", "inception", "train", "evaluate", "render", "export")
PROBE = pathlib.Path(__file__).with_name("stage_probe.py")

#: Overrides of the shapes16 preset: a stage run of seconds.
TINY = {
    "data": {"shapes": {"num_train": 64, "num_test": 8}},
    "generator": {"hidden": [32, 16], "depth": 16, "z_dim": 16, "w_dim": 16},
    "discriminator": {"channel_base": 256, "channel_max": 16},
    "train": {"kimg": 0.008, "batch_size": 4, "checkpoint_kimg": 0.008, "snapshot_kimg": 0.008,
              "metrics_kimg": 0.008, "log_kimg": 0.004, "strategy": "default",
              "cpu_replicas": 1},
    "evaluate": {"metrics": ["fid1k"], "num_images": 16, "batch_size": 8},
    "render": {"grid_seeds": 4, "mixing_row_seeds": [1], "mixing_col_seeds": [2],
               "mixing_from_layer": 1, "interpolation_seeds": [0, 1],
               "interpolation_frames": 2, "attention_pixels": [[1, 1]]},
}


def coverage_gaps(report: dict, stage: dict) -> list[str]:
    """What ``report`` (from :mod:`stage_probe`) shows the stage read that ``stage`` (its
    ``dvc.yaml`` entry) does not list: source files missing from ``deps``, keys from
    ``params``."""
    deps = [str(dep) for dep in stage.get("deps", [])]
    params = [str(param) for param in stage.get("params", [])]

    def covered(item: str, entries: list[str], separator: str) -> bool:
        return any(item == entry or item.startswith(entry + separator) for entry in entries)

    return ([module for module in report["modules"] if not covered(module, deps, "/")]
            + [key for key in report["params"] if not covered(key, params, ".")])


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, dict]:
    weights = converted_weights_file()  # the user cache's, fetched once if need be
    project = tmp_path_factory.mktemp("project")
    (project / "params.yaml").write_text(preset_params_yaml("shapes16", TINY))
    cache = project / "cache"
    cache.mkdir()
    (cache / CONVERTED_NAME).symlink_to(weights)
    env = {**os.environ, "SFKERAS_CACHE": str(cache), "PYTHONPATH": str(REPO_ROOT)}
    reports = {}
    for stage in STAGES:
        if stage == "train":  # from here on, only data/inception holds usable weights
            (cache / CONVERTED_NAME).unlink()
            (cache / CONVERTED_NAME).write_bytes(b"not the weights")
        if stage == "evaluate":  # evaluate computes, rather than reuse training's results
            (project / "data" / "train" / "G_ema.metrics.json").unlink()
        out = project / f"{stage}.json"
        run = subprocess.run([sys.executable, str(PROBE), str(REPO_ROOT / "stages" / f"{stage}.py"),
                              str(out)], cwd=project, env=env, capture_output=True, text=True,
                             timeout=600)
        assert run.returncode == 0 and out.is_file(), run.stderr[-3000:]
        reports[stage] = json.loads(out.read_text())
        assert reports[stage]["exit"] == 0, f"stage {stage} failed:\n{run.stderr[-3000:]}"
    return reports


@pytest.fixture(scope="module")
def dvc_stages() -> dict[str, dict]:
    return yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("stage", STAGES)
def test_dvc_yaml_covers_the_code_and_params_each_stage_reads(reports, dvc_stages, stage):
    report = reports[stage]
    assert f"stages/{stage}.py" in dvc_stages[stage]["deps"]
    assert "sfkeras/cli.py" in report["modules"]  # every stage goes through cli.main
    assert coverage_gaps(report, dvc_stages[stage]) == []


def test_the_check_fails_when_a_dependency_is_removed(reports, dvc_stages):
    train = dvc_stages["train"]
    for dep in [dep for dep in train["deps"] if dep.startswith("sfkeras/")]:
        stale = {**train, "deps": [other for other in train["deps"] if other != dep]}
        assert coverage_gaps(reports["train"], stale), f"removing {dep} went unnoticed"
    for param in train["params"]:
        stale = {**train, "params": [other for other in train["params"] if other != param]}
        assert coverage_gaps(reports["train"], stale), f"removing {param} went unnoticed"


def test_train_reads_sections_of_every_part_of_the_recipe(reports):
    sections = {key.split(".")[0] for key in reports["train"]["params"]}
    assert {"data", "generator", "discriminator", "augment", "train", "evaluate"} <= sections
