"""The stage commands end to end on a tiny configuration: prepare, inception, train,
evaluate (a .keras file and a training run folder), render, export."""

import json

import pytest

from sfkeras.cli import main
from sfkeras.config import preset_params_yaml

#: Overrides of the shapes16 preset: a network and a run that take seconds.
TINY_OVERRIDES = {
    "data": {"name": "tiny", "resolution": 16, "shapes": {"num_train": 64, "num_test": 8}},
    "generator": {"resolution": 16, "num_layers": [1, 1], "hidden": [32, 16], "depth": 16,
                  "z_dim": 16, "w_dim": 16, "linformer": False},
    "discriminator": {"channel_base": 256, "channel_max": 16},
    "train": {"kimg": 0.016, "batch_size": 4, "checkpoint_kimg": 0.008,
              "snapshot_kimg": 0.008, "metrics_kimg": 0.0, "log_kimg": 0.004,
              "strategy": "default", "cpu_replicas": 1},
    "evaluate": {"metrics": ["fid1k", "kid1k"], "num_images": 16, "batch_size": 8},
    "render": {"grid_seeds": 4, "mixing_row_seeds": [1], "mixing_col_seeds": [2],
               "mixing_from_layer": 1, "interpolation_seeds": [0, 1],
               "interpolation_frames": 2, "attention_pixels": [[1, 1]]},
}


@pytest.mark.slow
def test_stage_commands_end_to_end(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(preset_params_yaml("shapes16", TINY_OVERRIDES))
    common = ["--params", str(params)]
    prepared, run = tmp_path / "prepared", tmp_path / "train"

    assert main(["prepare", *common, "--out", str(prepared)]) == 0
    assert json.loads((prepared / "tiny" / "dataset.json").read_text())["resolution"] == 16
    assert main(["inception", *common, "--out", str(tmp_path / "inception")]) == 0
    assert (tmp_path / "inception" / "inception_fid.npz").stat().st_size > 80e6

    assert main(["train", *common, "--data", str(prepared / "tiny"), "--out", str(run)]) == 0
    assert (run / "G_ema.keras").is_file()
    # No metrics during this run (metrics_kimg 0): no snapshots, G_best is the final network.
    assert (run / "snapshots").is_dir() and not list(run.glob("snapshots/*"))  # a DVC out
    assert (run / "G_best.keras").read_bytes() == (run / "G_ema.keras").read_bytes()
    results = {}
    for network in (run / "G_ema.keras", run):  # the .keras file, then the newest checkpoint
        out = tmp_path / f"eval-{network.name}"
        assert main(["evaluate", *common, "--network", str(network), "--data",
                     str(prepared / "tiny"), "--out", str(out)]) == 0
        results[network.name] = json.loads((out / "metrics.json").read_text())
    assert set(results["train"]) == {"fid1k", "kid1k"} | {
        f"attention.{layer}.{name}" for layer in ("b8_0", "b16_0") for name in ("entropy", "max")}
    assert results["train"]["fid1k"] > 0
    # The run's last checkpoint holds the G_ema that was saved as G_ema.keras.
    assert results["train"]["fid1k"] == pytest.approx(results["G_ema.keras"]["fid1k"], rel=0.05)

    assert main(["render", *common, "--network", str(run / "G_ema.keras"),
                 "--out", str(tmp_path / "render")]) == 0
    assert {p.name for p in (tmp_path / "render").iterdir()} == {
        "grid.png", "truncation.png", "style_mixing.png", "interpolation.gif",
        "interpolation.mp4", "attention.png"}
    assert main(["export", *common, "--network", str(run / "G_ema.keras"),
                 "--out", str(tmp_path / "export")]) == 0
    assert {p.name for p in (tmp_path / "export").iterdir()} == {
        "saved_model", "G_ema.keras", "G_ema.tflite", "G_ema.onnx"}
    assert (tmp_path / "export" / "saved_model" / "saved_model.pb").is_file()


def test_evaluate_explains_a_missing_network(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(preset_params_yaml("shapes16", TINY_OVERRIDES))
    missing = tmp_path / "none.keras"
    assert main(["evaluate", "--params", str(params), "--network", str(missing)]) == 10
    assert f"sfkeras: missing file: {missing}: generator not found" in capsys.readouterr().err


def test_evaluate_warns_before_hours_of_cpu_work(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(preset_params_yaml("shapes16", {"evaluate": {"metrics": ["fid50k_full"]}}))
    missing = tmp_path / "none.keras"  # after the warning, the network is missing
    assert main(["evaluate", "--params", str(params), "--network", str(missing),
                 "--data", str(tmp_path)]) == 10
    assert "fid50k_full pass 50,000 generated images" in capsys.readouterr().err
