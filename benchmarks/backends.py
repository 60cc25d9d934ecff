"""Running a benchmark on a chosen Keras backend, with that backend's own compiler.

A benchmark script calls :func:`choose_backend` before it imports Keras: one
``--backend`` name sets ``KERAS_BACKEND`` for its process; several run the script once
per backend, each in its own process (Keras fixes its backend at import). The step
builders turn a model into compiled steps ``inputs -> scalar`` on JAX and PyTorch:

=============  ==========================  ===========================
backend        ``compiled=False``           ``compiled=True``
=============  ==========================  ===========================
``jax``        eager ``jax`` ops            ``jax.jit`` (XLA)
``torch``      eager PyTorch                ``torch.compile`` (inductor)
=============  ==========================  ===========================

(TensorFlow's steps, ``tf.function`` with ``jit_compile``, stay in each script.) The
steps read the model's variables as they are when the step is built.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys

BACKENDS = ("tensorflow", "jax", "torch")
#: The name printed for ``compiled=True`` per backend.
COMPILERS = {"tensorflow": "xla", "jax": "jax.jit", "torch": "torch.compile"}


def add_backend_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend", nargs="+", choices=BACKENDS,
        default=[os.environ.get("KERAS_BACKEND", "tensorflow")],
        help="Keras backend(s); several run one process each (default: $KERAS_BACKEND or "
        "tensorflow)")


def choose_backend(argv: list[str] | None = None) -> str:
    """Set ``KERAS_BACKEND`` from ``--backend`` (call before importing Keras).

    With several backends, runs this script once per backend in a child process and
    exits with the first non-zero status (or 0).
    """
    parser = argparse.ArgumentParser(add_help=False)
    add_backend_argument(parser)
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if len(args.backend) > 1:
        codes = [subprocess.run([sys.executable, sys.argv[0], *rest, "--backend", backend]
                                ).returncode for backend in args.backend]
        sys.exit(next((code for code in codes if code), 0))
    os.environ["KERAS_BACKEND"] = args.backend[0]
    return args.backend[0]


def inference_step(model, compiled: bool, **call_kwargs):
    """``x -> sum(model(x, **call_kwargs))`` without gradients."""
    import keras

    if keras.backend.backend() == "jax":
        import jax.numpy as jnp

        def run(trainable, non_trainable, x):
            return jnp.sum(_stateless_output(model, trainable, non_trainable, x, call_kwargs))

        return _bind_jax(model, run, compiled)
    import torch

    def step(x):
        with torch.no_grad():
            return torch.sum(model(x, **call_kwargs))

    return torch.compile(step) if compiled else step


def gradient_step(model, compiled: bool, **call_kwargs):
    """``x ->`` the sum of the gradients of ``mean(model(x, **call_kwargs))`` w.r.t. every
    trainable weight (one forward and backward pass)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax
        import jax.numpy as jnp

        def run(trainable, non_trainable, x):
            def loss(trainable):
                return jnp.mean(_stateless_output(model, trainable, non_trainable, x,
                                                  call_kwargs))
            return _sum_all(jax.grad(loss)(trainable))

        return _bind_jax(model, run, compiled)
    import torch

    weights = [variable.value for variable in model.trainable_variables]

    def step(x):
        loss = torch.mean(model(x, **call_kwargs))
        return _sum_all(torch.autograd.grad(loss, weights, allow_unused=True))

    return torch.compile(step) if compiled else step


def r1_step(model, compiled: bool):
    """``images ->`` the sum of the gradients w.r.t. every trainable weight of the R1
    penalty ``mean(||d sum(model(images)) / d images||^2)`` (second-order)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax
        import jax.numpy as jnp

        def run(trainable, non_trainable, images):
            def penalty(trainable):
                def logits_sum(images):
                    return jnp.sum(_stateless_output(model, trainable, non_trainable,
                                                     images, {}))
                image_grads = jax.grad(logits_sum)(images)
                return jnp.mean(jnp.sum(jnp.square(image_grads), axis=(1, 2, 3)))
            return _sum_all(jax.grad(penalty)(trainable))

        return _bind_jax(model, run, compiled)
    import torch

    weights = [variable.value for variable in model.trainable_variables]

    def step(images):
        images = images.detach().requires_grad_(True)
        (image_grads,) = torch.autograd.grad(torch.sum(model(images)), images,
                                             create_graph=True)
        penalty = torch.mean(torch.sum(torch.square(image_grads), dim=(1, 2, 3)))
        return _sum_all(torch.autograd.grad(penalty, weights, allow_unused=True))

    return torch.compile(step) if compiled else step


def peak_memory_reset() -> None:
    """Start a new accelerator peak-memory measurement (no-op on CPU)."""
    import keras

    if keras.backend.backend() == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()


def peak_memory() -> str:
    """``gpu_peak=...MiB`` (PyTorch: since :func:`peak_memory_reset`; JAX: of the
    process), or on CPU the process's ``max_rss`` (a high-water mark)."""
    import keras

    peak = None
    if keras.backend.backend() == "torch":
        import torch

        if torch.cuda.is_available():
            peak = torch.cuda.max_memory_allocated()
    elif keras.backend.backend() == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform == "gpu":
            peak = (device.memory_stats() or {}).get("peak_bytes_in_use")
    if peak is not None:
        return f"gpu_peak={peak / 2**20:.0f}MiB"
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # KiB on Linux
    return f"max_rss={max_rss:.0f}MiB"


def _stateless_output(model, trainable, non_trainable, x, call_kwargs):
    outputs, _ = model.stateless_call(trainable, non_trainable, x, **call_kwargs)
    return outputs


def _bind_jax(model, run, compiled: bool):
    """``x -> run(trainable values, non-trainable values, x)``, jitted if ``compiled``."""
    import jax

    trainable = [variable.value for variable in model.trainable_variables]
    non_trainable = [variable.value for variable in model.non_trainable_variables]
    run = jax.jit(run) if compiled else run
    return lambda x: run(trainable, non_trainable, x)


def _sum_all(tensors):
    """The sum of every element of ``tensors`` (``None`` entries skipped)."""
    import keras

    return sum(keras.ops.sum(tensor) for tensor in tensors if tensor is not None)
