"""Replay a recorded training trajectory of the original through sfkeras's own trainer.

A trajectory file (format: ``../shared/fixtures/README.md``, ``trajectory16.npz``) holds a
few steps of the original's StyleGAN2-ADA loop: the networks and recipe (``config``,
JSON), the initial weights (``init/G/*``, ``init/D/*``, the original's names and
layouts), every random input of every step (real images, the latents of Gmain, Greg and
Dmain, the path-length noise), the losses the original reported, and the networks
after the last step (``final/G/*``, ``final/D/*``, ``final/G_ema/*``, ``final/pl_mean``).

:func:`replay` loads the initial weights into a :class:`~sfkeras.training.trainer.Trainer`
and runs its steps (the phase schedule, lazy-regularised Adam, ``nan_to_num``, the
path-length mean and the EMA ramp-up are the trainer's, not copies) with the recorded
inputs in place of its own draws (:meth:`Trainer.run_step`'s ``recorded``). It proves
what one-step parity cannot: the optimiser's path over many steps.

The replay runs in float64 by default, and so can the original
(``benchmarks/record_trajectory.py --float64``). A float32 run cannot follow the float32
original step for step on another set of kernels: Adam divides every gradient entry by
its own running magnitude, so entries whose gradient is mostly rounding move by a good
part of a step in a direction the kernels' rounding decides, and the following steps
build on those moves. A float32 replay matched ``trajectory16.npz`` to 1e-6 with
oneDNN's kernels (which PyTorch's CPU convolutions share) and missed it by 2e-2 to 0.3
with TensorFlow's own, on the same code. In float64 sfkeras adds no rounding of its own,
so the verdict is the same on every CPU (bit for bit with oneDNN on, off and limited to
AVX2). Against a float64 recording of the original the replay agrees to 5e-7 of the
update; against a float32 one, what remains is the original's float32 rounding (3e-3 of
the update on ``trajectory16.npz``: exactly the distance between the original's float32
and float64 runs). :data:`TOLERANCES` holds a bound for each.

:func:`compare` measures, per network, the error of the final weights as a fraction of
the original's update (``|ours - final| / |final - init|``, Euclidean norms over all
the network's tensors) and names the tensor that contributes most; ``pl_mean``'s and
every reported loss's relative error.

Command line::

    python -m sfkeras.training.replay FIXTURE.npz [--tolerance T] [--loss-rtol T]
        [--dtype float64|float32]

prints one line per network (its worst tensor and error), one for ``pl_mean`` and one
for the losses, and exits 1 when any is above its tolerance.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import pathlib
import sys
from collections.abc import Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from sfkeras.config import AugmentConfig, Config, DataConfig, TrainConfig
from sfkeras.convert.common import Target, assign_state
from sfkeras.convert.discriminator import discriminator_config_from_official, discriminator_table
from sfkeras.convert.generator import generator_config_from_official, generator_table
from sfkeras.models.generator import global_dtype_policy
from sfkeras.training.trainer import Trainer


@dataclasses.dataclass(frozen=True)
class Tolerances:
    """The verdict's bounds.

    Attributes:
        weights: largest error of a network's final weights, as a fraction of the
            original's update.
        losses: largest relative error of ``pl_mean`` and of a reported loss.
    """

    weights: float
    losses: float


#: Bounds by the dtype the original was recorded in (``config["dtype"]``, float32 when
#: absent). float64 (measured: 5e-7 of the update, 2.4e-8 on losses; the two float64
#: runs still differ in summation orders and the EMA decay's float32). float32 (measured on
#: ``trajectory16.npz``: 3.0e-3 of G's update, 9.7e-3 on the step-16 R1 penalty, a
#: squared gradient norm): the original's own rounding. A 1% larger learning rate gives
#: 9e-2 of the update against the float32 recording.
TOLERANCES = {"float64": Tolerances(weights=1e-5, losses=1e-6),
              "float32": Tolerances(weights=1e-2, losses=3e-2)}
#: The dtype :func:`replay` runs in by default (see the module's docstring).
DEFAULT_DTYPE = "float64"
#: Network -> the recorded network it starts from (the original's G_ema starts as G).
INITIAL_STATE = {"G": "G", "G_ema": "G", "D": "D"}
#: The original's reported losses -> the trainer's statistics of the same quantity.
LOSS_NAMES = {"loss_G": "loss/G", "loss_D": "loss/D", "loss_r1": "loss/r1_penalty",
              "loss_pl": "loss/pl_penalty"}
#: The original's Adam epsilon when the recipe does not name one.
ORIGINAL_EPSILON = 1e-8
#: The original's conv clamp when its config does not name one (its ``train.py``).
ORIGINAL_CONV_CLAMP = 256.0


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """A recorded run of the original.

    Attributes:
        config: the file's ``config``: ``generator`` and ``discriminator`` (the
            original's hyper-parameters), ``recipe``, ``noise_mode``, ``style_mixing_prob``.
        arrays: every array of the file, by key.
    """

    config: dict
    arrays: Mapping[str, np.ndarray]

    @property
    def dtype(self) -> str:
        """The dtype the original computed in: ``float32`` or ``float64``."""
        return self.config.get("dtype", "float32")

    @property
    def steps(self) -> int:
        return int(self.arrays["reals"].shape[0])

    def state(self, stage: str, network: str) -> dict[str, np.ndarray]:
        """The state dict ``<stage>/<network>/*`` (``stage``: ``init`` or ``final``)."""
        prefix = f"{stage}/{network}/"
        return {k[len(prefix):]: v for k, v in self.arrays.items() if k.startswith(prefix)}


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One line of the verdict: the worst entry of a group and its error."""

    name: str
    worst: str
    error: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.error <= self.tolerance

    def __str__(self) -> str:
        verdict = "ok" if self.passed else "ABOVE TOLERANCE"
        return (f"{self.name:<8} worst {self.worst:<44} error {self.error:.2e} "
                f"(tolerance {self.tolerance:.0e})  {verdict}")


def load_trajectory(path: str | pathlib.Path) -> Trajectory:
    """Read a trajectory ``.npz`` (arrays only, never pickles)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    return Trajectory(json.loads(str(arrays.pop("config"))), arrays)


def replay_config(trajectory: Trajectory) -> Config:
    """The sfkeras :class:`Config` of the trajectory's networks and recipe (one device)."""
    meta, recipe = trajectory.config, trajectory.config["recipe"]
    generator = generator_config_from_official(meta["generator"])
    resolution, discriminator = discriminator_config_from_official(
        {"conv_clamp": ORIGINAL_CONV_CLAMP, **meta["discriminator"],
         "resolution": generator.resolution})
    return Config(
        data=DataConfig(resolution=resolution),
        generator=generator,
        discriminator=discriminator,
        augment=AugmentConfig(mode="noaug"),
        train=TrainConfig(
            batch_size=int(recipe["batch"]), g_lr=float(recipe["g_lr"]),
            d_lr=float(recipe["d_lr"]), betas=tuple(recipe["betas"]),
            epsilon=float(recipe.get("epsilon", ORIGINAL_EPSILON)),
            r1_gamma=float(recipe["r1_gamma"]), pl_weight=float(recipe["pl_weight"]),
            pl_batch_shrink=int(recipe["pl_batch_shrink"]), pl_decay=float(recipe["pl_decay"]),
            ema_kimg=float(recipe["ema_kimg"]), ema_rampup=recipe["ema_rampup"],
            g_reg_interval=int(recipe["g_reg_interval"]),
            d_reg_interval=int(recipe["d_reg_interval"]),
            style_mixing_prob=float(meta["style_mixing_prob"]), strategy="default"),
    )


def _tables(trainer: Trainer) -> dict[str, dict[str, Target]]:
    return {"G": generator_table(trainer.generator),
            "G_ema": generator_table(trainer.generator_ema),
            "D": discriminator_table(trainer.discriminator)}


def _nhwc(images: np.ndarray, dtype: str) -> tf.Tensor:
    return tf.constant(np.transpose(images, (0, 2, 3, 1)), dtype)


def _is_filter(name: str) -> bool:
    return name.endswith("resample_filter")  # constants of the FIR ops here


def replay(trajectory: Trajectory, dtype: str = DEFAULT_DTYPE, config: Config | None = None
           ) -> tuple[Trainer, dict[str, np.ndarray]]:
    """Run the trajectory's steps through a :class:`Trainer` from its initial weights.

    Args:
        dtype: the Keras dtype policy of the networks, and the dtype of the recorded
            inputs: ``"float64"`` adds no rounding of sfkeras's own, so that the
            verdict is the same on every CPU; ``"float32"`` replays as sfkeras trains.
        config: the trainer's configuration (default: :func:`replay_config`).

    Returns:
        The trainer after the last step, and the losses it reported per step under the
        file's names (``loss_G``, ...; NaN where the phase did not run).
    """
    with global_dtype_policy(dtype):
        trainer = Trainer(config or replay_config(trajectory), tf.distribute.get_strategy(),
                          noise_mode=trajectory.config["noise_mode"])
    tables = _tables(trainer)
    for network, source in INITIAL_STATE.items():
        assign_state(tables[network], trajectory.state("init", source), ignore=_is_filter,
                     network=network)
    arrays = trajectory.arrays
    losses = {name: np.full(trajectory.steps, np.nan) for name in LOSS_NAMES}
    for step in range(trajectory.steps):
        recorded = {"z/Gmain": tf.constant(arrays["z_Gmain"][step], dtype),
                    "z/Greg": tf.constant(arrays["z_Greg"][step], dtype),
                    "z/Dmain": tf.constant(arrays["z_Dmain"][step], dtype),
                    "pl_noise": _nhwc(arrays["pl_noise"][step], dtype)}
        stats = trainer.run_step(_nhwc(arrays["reals"][step], dtype), recorded)
        for name, stat in LOSS_NAMES.items():
            if stat in stats:
                losses[name][step] = stats[stat]
    return trainer, losses


def _update_error(tensors: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
                  ) -> tuple[str, float]:
    """``|ours - final| / |final - init|`` (Euclidean norms over all tensors) and the
    tensor contributing most to the numerator, from ``name -> (ours, final, init)``."""
    squared_errors, squared_update = {}, 0.0
    for name, (ours, final, init) in tensors.items():
        ours, final, init = (np.asarray(array, np.float64) for array in (ours, final, init))
        squared_errors[name] = float(np.sum(np.square(ours - final)))
        squared_update += float(np.sum(np.square(final - init)))
    worst = max(squared_errors, key=squared_errors.get)
    return worst, math.sqrt(sum(squared_errors.values()) / (squared_update or 1.0))


def compare(trajectory: Trajectory, trainer: Trainer, losses: Mapping[str, np.ndarray],
            tolerances: Tolerances | None = None) -> list[Comparison]:
    """The verdict lines: G, G_ema, D (error as a fraction of the original's update, and
    the tensor contributing most), ``pl_mean``, and the losses; ``tolerances``: by
    default those of the trajectory's dtype (:data:`TOLERANCES`)."""
    tolerances = tolerances or TOLERANCES[trajectory.dtype]
    lines = []
    for network, table in _tables(trainer).items():
        final = trajectory.state("final", network)
        init = trajectory.state("init", INITIAL_STATE[network])
        worst, error = _update_error({
            name: (keras.ops.convert_to_numpy(target.variable), target.transform(final[name]),
                   target.transform(init[name]))
            for name, target in table.items()})
        lines.append(Comparison(network, worst, error, tolerances.weights))
    pl_mean = float(trainer.loss.pl_mean.numpy())
    expected_pl_mean = float(trajectory.arrays["final/pl_mean"])
    lines.append(Comparison("pl_mean", f"{pl_mean:.6g}",
                            abs(pl_mean - expected_pl_mean) / abs(expected_pl_mean),
                            tolerances.losses))
    loss_errors = {}
    for name, ours in losses.items():
        theirs = trajectory.arrays[name]
        for step, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            if math.isnan(a) != math.isnan(b):
                loss_errors[f"{name}[{step}] (phase ran in one run only)"] = math.inf
            elif not math.isnan(b):
                loss_errors[f"{name}[{step}]"] = abs(a - b) / max(abs(b), 1e-12)
    worst = max(loss_errors, key=loss_errors.get)
    lines.append(Comparison("losses", worst, loss_errors[worst], tolerances.losses))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sfkeras.training.replay",
        description="Replay a recorded trajectory of the original's training loop through "
                    "sfkeras's trainer and compare the final networks and the losses.")
    parser.add_argument("trajectory", type=pathlib.Path, help="trajectory .npz")
    parser.add_argument("--tolerance", type=float,
                        help="largest error of a network's weights, as a fraction of the "
                             "original's update (default: by the recording's dtype, "
                             "float32 1e-2, float64 1e-5)")
    parser.add_argument("--loss-rtol", type=float,
                        help="largest relative error of pl_mean and of a reported loss "
                             "(default: float32 3e-2, float64 1e-6)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default=DEFAULT_DTYPE,
                        help="the networks' dtype (float32: as sfkeras trains; its verdict "
                             "depends on the CPU's kernels)")
    args = parser.parse_args(argv)
    trajectory = load_trajectory(args.trajectory)
    trainer, losses = replay(trajectory, args.dtype)
    given = {"weights": args.tolerance, "losses": args.loss_rtol}
    tolerances = dataclasses.replace(TOLERANCES[trajectory.dtype],
                                     **{k: v for k, v in given.items() if v is not None})
    lines = compare(trajectory, trainer, losses, tolerances)
    for line in lines:
        print(line)
    return 0 if all(line.passed for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
