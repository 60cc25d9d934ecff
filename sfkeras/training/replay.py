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
inputs in place of its own draws (:meth:`Trainer.run_step`'s ``recorded``).
:func:`compare` then measures, per network, the worst tensor's error relative to that
tensor's largest magnitude, and each reported loss's relative error. It proves what
one-step parity cannot: the optimiser's path over many steps.

Command line::

    python -m sfkeras.training.replay FIXTURE.npz [--tolerance 1e-3] [--loss-rtol 1e-4]

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
from sfkeras.training.trainer import Trainer

#: Largest error of a final tensor, relative to that tensor's largest magnitude.
TENSOR_TOLERANCE = 1e-3
#: Largest relative error of a reported loss.
LOSS_TOLERANCE = 1e-4
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


def _nhwc(images: np.ndarray) -> tf.Tensor:
    return tf.constant(np.transpose(images, (0, 2, 3, 1)))


def _is_filter(name: str) -> bool:
    return name.endswith("resample_filter")  # constants of the FIR ops here


def replay(trajectory: Trajectory) -> tuple[Trainer, dict[str, np.ndarray]]:
    """Run the trajectory's steps through a :class:`Trainer` from its initial weights.

    Returns:
        The trainer after the last step, and the losses it reported per step under the
        file's names (``loss_G``, ...; NaN where the phase did not run).
    """
    trainer = Trainer(replay_config(trajectory), tf.distribute.get_strategy(),
                      noise_mode=trajectory.config["noise_mode"])
    tables = _tables(trainer)
    for network, source in (("G", "G"), ("G_ema", "G"), ("D", "D")):
        # The original's G_ema starts as a copy of G.
        assign_state(tables[network], trajectory.state("init", source), ignore=_is_filter,
                     network=network)
    arrays = trajectory.arrays
    losses = {name: np.full(trajectory.steps, np.nan) for name in LOSS_NAMES}
    for step in range(trajectory.steps):
        recorded = {"z/Gmain": tf.constant(arrays["z_Gmain"][step]),
                    "z/Greg": tf.constant(arrays["z_Greg"][step]),
                    "z/Dmain": tf.constant(arrays["z_Dmain"][step]),
                    "pl_noise": _nhwc(arrays["pl_noise"][step])}
        stats = trainer.run_step(_nhwc(arrays["reals"][step]), recorded)
        for name, stat in LOSS_NAMES.items():
            if stat in stats:
                losses[name][step] = stats[stat]
    return trainer, losses


def _relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    scale = float(np.max(np.abs(expected), initial=0.0))
    return float(np.max(np.abs(actual - expected), initial=0.0)) / (scale or 1.0)


def compare(trajectory: Trajectory, trainer: Trainer, losses: Mapping[str, np.ndarray], *,
            tolerance: float = TENSOR_TOLERANCE,
            loss_rtol: float = LOSS_TOLERANCE) -> list[Comparison]:
    """The verdict lines: G, D, G_ema (worst tensor), ``pl_mean``, and the losses."""
    lines = []
    for network, table in _tables(trainer).items():
        expected = trajectory.state("final", network)
        errors = {}
        for name, target in table.items():
            value = keras.ops.convert_to_numpy(target.variable)
            errors[name] = _relative_error(value, target.transform(expected[name]))
        worst = max(errors, key=errors.get)
        lines.append(Comparison(network, worst, errors[worst], tolerance))
    pl_mean = float(trainer.loss.pl_mean.numpy())
    lines.append(Comparison("pl_mean", f"{pl_mean:.6g}", _relative_error(
        pl_mean, trajectory.arrays["final/pl_mean"]), tolerance))
    loss_errors = {}
    for name, ours in losses.items():
        theirs = trajectory.arrays[name]
        for step, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            if math.isnan(a) != math.isnan(b):
                loss_errors[f"{name}[{step}] (phase ran in one run only)"] = math.inf
            elif not math.isnan(b):
                loss_errors[f"{name}[{step}]"] = abs(a - b) / max(abs(b), 1e-12)
    worst = max(loss_errors, key=loss_errors.get)
    lines.append(Comparison("losses", worst, loss_errors[worst], loss_rtol))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sfkeras.training.replay",
        description="Replay a recorded trajectory of the original's training loop through "
                    "sfkeras's trainer and compare the final networks and the losses.")
    parser.add_argument("trajectory", type=pathlib.Path, help="trajectory .npz")
    parser.add_argument("--tolerance", type=float, default=TENSOR_TOLERANCE,
                        help="largest tensor error, relative to its largest magnitude")
    parser.add_argument("--loss-rtol", type=float, default=LOSS_TOLERANCE,
                        help="largest relative error of a reported loss")
    args = parser.parse_args(argv)
    trajectory = load_trajectory(args.trajectory)
    trainer, losses = replay(trajectory)
    lines = compare(trajectory, trainer, losses, tolerance=args.tolerance,
                    loss_rtol=args.loss_rtol)
    for line in lines:
        print(line)
    return 0 if all(line.passed for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
