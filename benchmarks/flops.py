"""Floating-point operations per image of a training step, beside the CPU's matmul peak.

What: the FLOPs one image of the global batch costs in a training step of the recipe in
``params.yaml`` (default: preset ``shapes16``), phase by phase, and -- unless
``--no-timing`` -- the float32 matrix-multiply rate this machine reaches, so that a
measured training rate (``--img-per-s``) becomes an achieved GFLOP/s and a fraction of
the peak. A FLOP is one multiply or one add (a multiply-add is 2).

How the FLOPs are counted, three ways:

1. **TensorFlow's counter** (``tf.compat.v1.profiler`` with
   ``ProfileOptionBuilder.float_operation()``, i.e. the ``flops`` statistics TensorFlow
   registers per op type) on the traced forward passes of G (mapping + synthesis, as
   the trainer's ``run_generator`` calls them) and D at ``--batch`` images (default 1).
   Two corrections to a plain profile of the graph: ops that do not reach the graph's
   outputs are dropped (``keras.ops.map`` traces its function once outside the loop to
   learn the output structure; TensorFlow prunes that copy when it runs), and the
   bodies of ``While`` loops (the chunked attention runs in ``keras.ops.map``), which
   the profiler does not enter, are counted times their static trip count.
2. **Shapes**: ``2 * M * N * K`` for every matrix product and convolution (and
   ``2 * taps`` per output element of the [1, 3, 3, 1] FIR filters), written out from the
   configuration (:func:`generator_shape_count`, :func:`discriminator_shape_count`);
   elementwise ops are left out.
3. **The phases themselves**: TensorFlow's counter, corrected as in 1, on the traced
   ``Trainer.phase_gradients`` of ``Gmain``, ``Dmain`` and ``Dreg`` (the losses and the
   weight gradients exactly as the training step builds them).

Phases (per image of the global batch; ``G``, ``D``: one forward pass):

- ``Gmain`` = G + D + D backward to the image only + G backward (weights and inputs);
- ``Dmain`` = G (not recorded, no backward) + 2 x (D + D backward for weights and
  inputs), fakes and reals;
- ``Dreg`` (R1, every ``d_reg_interval`` = 16 steps, amortised / 16) = D + D backward to
  the image + the gradient of that with respect to D's weights (double backward).
- Greg is off (``pl_weight: 0``), augmentation is off (``augment.mode: noaug``); Adam
  and the G EMA cost a few FLOPs per weight per step (shown, negligible).

Factors (columns 1 and 2): a product's backward costs 2x its forward for weights and
inputs (input gradient and weight gradient, each one product of the same size), 1x for
inputs only; the attention's custom gradient recomputes the scores, so its backward is
2.5x (5 products against 2); a FIR filter's backward is 1x (constant filter, input
gradient only). R1: forward 1 + backward to the image 1 + double backward 4 (each
product of the first backward has two operands to differentiate, and the forward
products get input and weight gradients again) = 6x D's products, 4x D's FIR passes.
With the TensorFlow forward counts the factors apply to all of G and D: Gmain = 3 G +
2 D, Dmain = G + 6 D, Dreg = 6 D / 16.

The matmul peak: ``tf.linalg.matmul`` (and a 3x3 ``Conv2D`` like D's) in a
``tf.function``, in a fresh process per thread count (``intra_op`` threads must be set
before TensorFlow starts): large square products (1024, 2048) and products shaped like
the model's (``[32 * 256, 64] x [64, 64]``, one replica's 16x16 and 8x8 layers), each
a chain of products per call so that call overhead is amortised; median and best
GFLOP/s of ``--repeats`` calls. Training runs 2 CPU replicas on one thread each, so
the achieved rate is compared with the 2-thread peak, with 2x the 1-thread peak and
with the 2-thread rate of the model-shaped product. The kernels are TensorFlow's choice
from ``TF_ENABLE_ONEDNN_OPTS`` (unset: TensorFlow decides by CPU, as in
``bench_train.py``); the peak processes inherit the environment, so run both commands
with the same setting (the header prints it).

Output: the forward counts both ways (and a plain profile's, to show the corrections),
the phases three ways (TensorFlow's forward counts times the factors, the shapes times
the factors, TensorFlow's count of the traced phases), the total per image (the traced
phases' is the headline) and, with ``--img-per-s``, the achieved GFLOP/s from both the
traced and the shape count.

Caveats: TensorFlow's counter counts 1 FLOP per element for elementwise ops it knows
(``Mul``, ``AddV2``, ``Square``, ``Rsqrt``, ...) and nothing for ops without a
registered count (``LeakyRelu``, ``Exp``, ``Select``, ``DepthwiseConv2dNativeBackprop*``,
data movement such as ``Transpose``/``Pad``); the script lists the uncounted live op
types. Its count of a strided convolution's gradients (``Conv2DBackpropInput``,
``Conv2DBackpropFilter``) is the input's size over the stride squared times the kernel,
which over-counts D's stride-2 convolutions on their FIR-padded 17x17 and 9x9 inputs
(about 0.9 MFLOP per image and backward pass here). It counts the graph before
Grappler's rewrites (fusions do not change FLOPs). Weight-side work (kernel scaling,
``styles^2 @ kernel^2`` of the demodulation per sample) is counted per traced batch:
at ``--batch 1`` the kernel scaling is charged to one image (an over-count of well
under 1%). Reading loop bodies uses a private attribute of TensorFlow's ``FuncGraph``
(``_functions``; TensorFlow 2.21). Timing needs a quiet machine: run it when nothing
else uses the cores, and report the machine.

Usage::

    python benchmarks/flops.py --no-timing                  # counts only (seconds)
    python benchmarks/flops.py --no-timing --batch 16       # counts at one replica's batch
    python benchmarks/flops.py --img-per-s 282              # counts, peak, achieved rate
    python benchmarks/flops.py --threads 1 2 --repeats 7    # the peak's settings
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
from tensorflow.python.framework import ops as tf_ops  # noqa: E402

#: Op types whose TensorFlow flop count is a matrix product or convolution.
PRODUCT_OPS = frozenset({
    "MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Conv2D",
    "Conv2DBackpropInput", "Conv2DBackpropFilter"})
#: Op types of the FIR filters (depthwise convolutions with a constant filter).
FIR_OPS = frozenset({"DepthwiseConv2dNative", "DepthwiseConv2dNativeBackpropInput",
                     "DepthwiseConv2dNativeBackpropFilter"})
#: Op types that compute nothing (data movement, bookkeeping), not listed as uncounted.
_NO_ARITHMETIC = frozenset({
    "Const", "Placeholder", "Identity", "IdentityN", "ReadVariableOp", "Reshape",
    "Transpose", "StridedSlice", "StridedSliceGrad", "ConcatV2", "Split", "SplitV", "Pack",
    "Unpack", "Pad", "PadV2", "BroadcastTo", "BroadcastGradientArgs", "Shape", "ShapeN",
    "Cast", "Fill", "ZerosLike", "OnesLike", "NoOp", "Tile", "Slice", "GatherV2",
    "TensorListReserve", "TensorListFromTensor", "TensorListStack", "TensorListGetItem",
    "TensorListSetItem", "TensorListLength", "TensorListElementShape", "StopGradient",
    "While", "StatelessWhile", "PartitionedCall", "StatefulPartitionedCall", "Range",
    "StatelessRandomGetKeyCounter", "StatelessRandomNormalV2", "StatelessRandomUniformV2",
    "AssignVariableOp", "Size", "Prod", "Rank", "ExpandDims", "Squeeze", "MirrorPad",
    "ConcatOffset", "FloorMod", "InvertPermutation", "StatelessRandomUniformFullIntV2",
    "VarHandleOp", "ReverseV2", "EnsureShape", "Bitcast", "PreventGradient",
    "ResourceGather", "Where", "IsNan", "IsInf", "LogicalAnd", "LogicalOr", "LogicalNot",
})


# -- TensorFlow's counter ----------------------------------------------------------------


@dataclasses.dataclass
class GraphCount:
    """TensorFlow's flop count of a traced function, by kind of op.

    Attributes:
        products: matrix products and convolutions (live ops, loop bodies included).
        fir: depthwise FIR filters.
        other: everything else TensorFlow counts (elementwise, softmax, reductions).
        plain_profile: what a plain ``profile(graph)`` reports (dead ops in, loop
            bodies out), for comparison.
        uncounted: live op types TensorFlow has no flop count for, with their number.
    """

    products: int = 0
    fir: int = 0
    other: int = 0
    plain_profile: int = 0
    uncounted: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.products + self.fir + self.other

    def add(self, other: GraphCount, times: int = 1) -> None:
        self.products += times * other.products
        self.fir += times * other.fir
        self.other += times * other.other
        for name, number in other.uncounted.items():
            self.uncounted[name] = self.uncounted.get(name, 0) + times * number

    def scaled(self, factor: float) -> GraphCount:
        return GraphCount(round(self.products * factor), round(self.fir * factor),
                          round(self.other * factor), round(self.plain_profile * factor),
                          dict(self.uncounted))


def _profiled_flops(graph) -> dict[str, int]:
    """``{op name: float ops}`` from TensorFlow's profiler (ops with a count only)."""
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_empty_output().build()
    root = tf.compat.v1.profiler.profile(graph, options=options, cmd="scope")
    flops, stack = {}, [root]
    while stack:
        node = stack.pop()
        if node.float_ops:
            flops[node.name] = int(node.float_ops)
        stack.extend(node.children)
    return flops


def _has_flop_count(op) -> bool:
    """Whether TensorFlow registers a flop count for ``op``'s type."""
    try:
        return tf_ops.get_stats_for_node_def(op.graph, op.node_def, "flops").value is not None
    except Exception:  # registered, but the count failed (e.g. an unknown shape)
        return True


def _live_ops(graph) -> set[str]:
    """Names of the ops the graph's outputs (and control outputs) depend on."""
    stack = [t.op for t in graph.outputs] + list(graph.control_outputs)
    live = set()
    while stack:
        op = stack.pop()
        if op.name in live:
            continue
        live.add(op.name)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return live


def _function_graph(name: str, graph):
    """The ``FuncGraph`` of the library function ``name`` seen from ``graph``."""
    while graph is not None:
        functions = getattr(graph, "_functions", {})
        if name in functions:
            return functions[name].graph
        graph = getattr(graph, "outer_graph", None)
    raise LookupError(f"function {name} is not in the graph's library")


def count_graph(graph) -> GraphCount:
    """TensorFlow's flop count of the live ops of ``graph``, loop bodies included."""
    flops = _profiled_flops(graph)
    live = _live_ops(graph)
    count = GraphCount(plain_profile=sum(flops.values()))
    for op in graph.get_operations():
        if op.name not in live:
            continue
        value = flops.get(op.name, 0)
        if op.type in PRODUCT_OPS:
            count.products += value
        elif op.type in FIR_OPS:
            count.fir += value
        else:
            count.other += value
        if not value and op.type not in _NO_ARITHMETIC and not _has_flop_count(op):
            count.uncounted[op.type] = count.uncounted.get(op.type, 0) + 1
        if op.type in ("While", "StatelessWhile"):
            trips = tf.get_static_value(op.inputs[1])  # while_v2's maximum_iterations
            if trips is None or trips < 0:
                raise ValueError(f"{op.name}: the loop's trip count is not static")
            count.add(count_graph(_function_graph(op.get_attr("body").name, graph)),
                      int(trips))
        elif op.type in ("PartitionedCall", "StatefulPartitionedCall"):
            count.add(count_graph(_function_graph(op.get_attr("f").name, graph)))
        elif op.type in ("If", "StatelessIf", "Case", "StatelessCase"):
            raise ValueError(f"{op.name}: conditional ops are not counted")
    return count


# -- the networks and phases ---------------------------------------------------------------


def build_trainer(config_path: str, batch: int):
    """The configuration and a one-device :class:`Trainer` of it at ``batch`` images per
    step (the returned configuration keeps its own batch size)."""
    from sfkeras.config import load_config
    from sfkeras.training.trainer import Trainer

    config = load_config(config_path)
    train = dataclasses.replace(config.train, batch_size=batch, cpu_replicas=1,
                                strategy="default", xla=False, mixed_precision=False)
    return config, Trainer(dataclasses.replace(config, train=train),
                           tf.distribute.get_strategy())


def traced_counts(trainer, config, batch: int) -> dict[str, GraphCount]:
    """TensorFlow's counts of G and D forward and of each phase, per image."""
    res, channels = config.generator.resolution, config.generator.img_channels
    z_spec = tf.TensorSpec([batch, config.generator.z_dim], tf.float32)
    images_spec = tf.TensorSpec([batch, res, res, channels], tf.float32)
    seed_spec = tf.TensorSpec([2], tf.int64)
    loss = trainer.loss
    functions = {
        "G": (lambda z, seed: loss.run_generator(z, seed)[0], (z_spec, seed_spec)),
        "D": (lambda images: trainer.discriminator(images), (images_spec,)),
    }
    for phase in ("Gmain", "Dmain", "Dreg"):
        functions[phase] = (
            lambda z, reals, seed, phase=phase: trainer.phase_gradients(phase, z, reals, seed),
            (z_spec, images_spec, seed_spec))
    counts = {}
    for name, (function, specs) in functions.items():
        graph = tf.function(function, autograph=False).get_concrete_function(*specs).graph
        counts[name] = count_graph(graph).scaled(1 / batch)
    return counts


# -- the count from the layer shapes -----------------------------------------------------

TAPS = 4  # the [1, 3, 3, 1] FIR filter


@dataclasses.dataclass
class ShapeCount:
    """FLOPs of one forward pass from the layer shapes, per image.

    Attributes:
        dense: products with a weight (or a style): mapping, affines, Q/K/V, output,
            skip, ToRGB, demodulation, D's convolutions and dense layers.
        attention: products of two activations (scores and attended values).
        fir: the FIR filters of the up- and down-sampling.
    """

    dense: int = 0
    attention: int = 0
    fir: int = 0

    @property
    def products(self) -> int:
        return self.dense + self.attention

    @property
    def total(self) -> int:
        return self.dense + self.attention + self.fir


def _fir_up(res: int, channels: int) -> int:
    """2x up-sampling ``res -> 2 res``: zero-stuffed, padded (2, 1), two 4-tap passes."""
    size = 2 * res
    return 2 * TAPS * channels * ((size + 3) * size + size * size)


def _fir_before_conv(res: int, channels: int) -> int:
    """FIR of a 3x3 stride-2 convolution: padded by 2 on each side, two 4-tap passes."""
    return 2 * TAPS * channels * ((res + 4) * (res + 1) + (res + 1) ** 2)


def _fir_down(res: int, channels: int) -> int:
    """2x down-sampling of a 1x1 convolution's input or of the image: one 4x4 stride-2 pass."""
    return 2 * TAPS * TAPS * channels * (res // 2) ** 2


def generator_shape_count(g) -> ShapeCount:
    """FLOPs of G's forward pass per image, from the ``generator`` configuration."""
    if g.styleformer_max_resolution is not None:
        raise NotImplementedError("StyleGAN2 stages (Styleformer-C) are not counted")
    count = ShapeCount()
    count.dense += 2 * g.z_dim * g.w_dim + 2 * g.w_dim * g.w_dim * (g.mapping_layers - 1)
    resolutions, channels = g.block_resolutions, g.img_channels
    for i, res in enumerate(resolutions):
        seq, hidden = res * res, g.hidden[i]
        last = i == len(resolutions) - 1
        out = hidden if last else g.hidden[i + 1]
        linformer = g.linformer and res >= g.linformer_min_resolution
        kv = g.linformer_dim if linformer else seq
        for j in range(g.num_layers[i]):
            width = out if j == g.num_layers[i] - 1 else hidden
            count.dense += 2 * g.w_dim * 2 * hidden  # affine -> s1, s2
            count.dense += 2 * hidden * 3 * hidden  # demodulation of Q, K, V: s1^2 @ W^2
            count.dense += 2 * seq * hidden * 3 * hidden  # h @ [Wq Wk Wv]
            if linformer:
                count.dense += 2 * (2 * kv * seq * hidden)  # E @ K, E @ V
            count.attention += 2 * (2 * seq * kv * hidden)  # Q K^T, P V over all heads
            count.dense += 2 * (2 * seq * hidden * width + 2 * hidden * width)  # out, skip
        count.dense += 2 * g.w_dim * out + 2 * seq * out * channels + 2 * out * channels
        if i > 0:
            count.fir += _fir_up(resolutions[i - 1], channels)  # the running image
        if not last:
            count.fir += _fir_up(res, out)  # the tokens
    return count


def discriminator_shape_count(res: int, d, channels: int) -> ShapeCount:
    """FLOPs of D's forward pass per image, from the ``discriminator`` configuration."""
    from sfkeras.models.discriminator import block_resolutions

    def width(r: int) -> int:
        return min(d.channel_base // r, d.channel_max)

    count = ShapeCount()
    blocks = block_resolutions(res)
    for r in blocks:
        tmp, out, half = width(r), width(r // 2), r // 2
        if r == res or d.architecture == "skip":
            count.dense += 2 * r * r * channels * tmp  # fromrgb
        if d.architecture == "skip":
            count.fir += _fir_down(r, channels)  # the image, down-sampled
        count.dense += 2 * r * r * 9 * tmp * tmp  # conv0
        count.fir += _fir_before_conv(r, tmp)
        count.dense += 2 * half * half * 9 * tmp * out  # conv1, stride 2
        if d.architecture == "resnet":
            count.fir += _fir_down(r, tmp)
            count.dense += 2 * half * half * tmp * out  # skip, 1x1
    r = blocks[-1] // 2
    c = width(r)
    if d.architecture == "skip":
        count.dense += 2 * r * r * channels * c
    count.dense += 2 * r * r * 9 * (c + d.mbstd_channels) * c  # conv
    count.dense += 2 * r * r * c * c + 2 * c  # fc, out
    return count


def phase_estimates(g: ShapeCount, d: ShapeCount) -> dict[str, tuple[float, float]]:
    """``{phase: (products, FIR)}`` from the shape counts and the module's factors (Dreg
    not amortised)."""
    return {
        # G forward + backward (weights 2x, attention 2.5x); D forward + backward to the image.
        "Gmain": (g.products + 2 * g.dense + 2.5 * g.attention + 2 * d.products, 2 * g.fir
                  + 2 * d.fir),
        # G forward; D forward + backward (2x) on fakes and on reals.
        "Dmain": (g.products + 2 * 3 * d.products, g.fir + 2 * 2 * d.fir),
        # D forward 1 + backward to the image 1 + double backward 4 (FIR: 1 + 1 + 2).
        "Dreg": (6 * d.products, 4 * d.fir),
    }


def factor_estimates(g: float, d: float) -> dict[str, float]:
    """Phases from whole forward counts: Gmain = 3 G + 2 D, Dmain = G + 6 D, Dreg = 6 D."""
    return {"Gmain": 3 * g + 2 * d, "Dmain": g + 6 * d, "Dreg": 6 * d}


# -- the machine -----------------------------------------------------------------------------


def machine_header() -> str:
    """CPU model, cores and SIMD flags (``lscpu``), TensorFlow and its kernel set."""
    fields = {}
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True,
                                   check=False).stdout.splitlines():
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    except OSError:
        pass
    simd = [f for f in fields.get("Flags", "").split()
            if f.startswith(("avx", "amx", "fma", "f16c", "sse4")) or f in {"vnni"}]
    return "\n".join([
        f"cpu: {fields.get('Model name', 'unknown')}, {fields.get('CPU(s)', '?')} CPUs, "
        f"{fields.get('Thread(s) per core', '?')} thread(s) per core",
        f"flags: {' '.join(simd) or 'unknown'}",
        f"tensorflow {tf.__version__}, TF_ENABLE_ONEDNN_OPTS="
        f"{os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset (TensorFlow decides by CPU)')}, "
        "load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg()),
    ])


#: Peak workloads: (name, kind, M, K, products per call); a chain of products
#: ``x <- x @ w`` with ``x [M, K]``, ``w [K, K]`` (``conv``: ``x [M, 16, 16, K]``, 3x3).
PEAK_SHAPES = (
    ("square 1024", "matmul", 1024, 1024, 8),
    ("square 2048", "matmul", 2048, 2048, 2),
    ("[32*256, 64] x [64, 64]", "matmul", 32 * 256, 64, 40),
    ("[16*256, 64] x [64, 192] (16x16 Q/K/V, one replica)", "qkv", 16 * 256, 64, 40),
    ("[16*64, 128] x [128, 128] (8x8 layer, one replica)", "matmul", 16 * 64, 128, 80),
    ("conv 3x3 [16, 16, 16, 64] -> 64 (D's conv0, one replica)", "conv", 16, 64, 10),
)


#: The model-shaped workload the achieved rate is also compared with.
MODEL_SHAPED = PEAK_SHAPES[2][0]


def _peak_workload(kind: str, m: int, k: int, chain: int):
    """``(step, x, w, flops)``: a chain of ``chain`` products of one workload per call."""
    generator = tf.random.Generator.from_seed(0)
    if kind == "conv":  # x [M, 16, 16, K] through 3x3 K -> K convolutions
        x, w = generator.normal([m, 16, 16, k]), generator.normal([3, 3, k, k]) / (3 * k**0.5)
        flops = 2 * m * 16 * 16 * 9 * k * k

        def product(x, w):
            return tf.nn.conv2d(x, w, 1, "SAME")
    elif kind == "qkv":  # [M, K] x [K, 3K], then back to K columns
        x, w = generator.normal([m, k]), generator.normal([k, 3 * k]) / k**0.5
        flops = 2 * m * k * 3 * k

        def product(x, w):
            return tf.linalg.matmul(x, w)[:, :k]
    else:  # [M, K] x [K, K]
        x, w = generator.normal([m, k]), generator.normal([k, k]) / k**0.5
        flops = 2 * m * k * k

        def product(x, w):
            return tf.linalg.matmul(x, w)

    def step(x, w):
        for _ in range(chain):
            x = product(x, w)
        return x

    return tf.function(step, autograph=False), x, w, flops * chain


def _peak_worker(threads: int, repeats: int) -> list[dict]:
    """GFLOP/s of each :data:`PEAK_SHAPES` workload in this process (fresh TensorFlow)."""
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    results = []
    for name, kind, m, k, chain in PEAK_SHAPES:
        step, x, w, flops = _peak_workload(kind, m, k, chain)
        for _ in range(2):
            step(x, w).numpy()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            step(x, w).numpy()
            times.append(time.perf_counter() - start)
        results.append({"name": name, "threads": threads, "flops": flops,
                        "median_gflops": flops / statistics.median(times) / 1e9,
                        "best_gflops": flops / min(times) / 1e9})
    return results


def measure_peaks(thread_counts: list[int], repeats: int) -> dict[int, list[dict]]:
    """:func:`_peak_worker` in a fresh process per thread count."""
    peaks = {}
    for threads in thread_counts:
        done = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--peak-worker", str(threads),
             "--repeats", str(repeats)],
            capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"the {threads}-thread peak measurement failed:\n{done.stderr}")
        peaks[threads] = json.loads(done.stdout.strip().splitlines()[-1])
    return peaks


# -- report --------------------------------------------------------------------------------


def _m(flops: float) -> str:
    return f"{flops / 1e6:9.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="params.yaml", help="params.yaml to count")
    parser.add_argument("--batch", type=int, default=1,
                        help="images per traced pass (counts are per image)")
    parser.add_argument("--img-per-s", type=float, default=None,
                        help="measured training rate, e.g. from `python benchmarks/"
                        "bench_train.py --presets shapes16 --cpu-replicas 2 --xla off`")
    parser.add_argument("--no-timing", action="store_true", help="counts only")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="intra-op threads of the peak measurements")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per workload")
    parser.add_argument("--peak-worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_worker is not None:
        print(json.dumps(_peak_worker(args.peak_worker, args.repeats)))
        return

    print(machine_header())
    config, trainer = build_trainer(args.config, args.batch)
    interval, batch_size = config.train.d_reg_interval, config.train.batch_size
    print(f"config: {args.config} (G {config.generator.resolution}x"
          f"{config.generator.resolution}, hidden {list(config.generator.hidden)}; D "
          f"{config.discriminator.architecture}, channel_base "
          f"{config.discriminator.channel_base}, channel_max "
          f"{config.discriminator.channel_max}); augment {config.augment.mode}, pl_weight "
          f"{config.train.pl_weight}, R1 every {interval} steps; traced at batch "
          f"{args.batch}")
    if config.augment.mode != "noaug" or config.train.pl_weight > 0:
        print("warning: augmentation and path-length regularisation are not counted")

    traced = traced_counts(trainer, config, args.batch)
    g_shape = generator_shape_count(config.generator)
    d_shape = discriminator_shape_count(config.generator.resolution, config.discriminator,
                                        config.generator.img_channels)

    print("\nForward passes, MFLOP per image (TensorFlow's counter | from the shapes):")
    print(f"{'':4} {'products':>9} {'FIR':>9} {'other':>9} {'total':>9} |"
          f" {'products':>9} {'FIR':>9} {'total':>9} | plain profile")
    for name, shape in (("G", g_shape), ("D", d_shape)):
        c = traced[name]
        print(f"{name:4} {_m(c.products)} {_m(c.fir)} {_m(c.other)} {_m(c.total)} |"
              f" {_m(shape.products)} {_m(shape.fir)} {_m(shape.total)} |"
              f" {_m(c.plain_profile)}")
    print(f"  G from the shapes: products {_m(g_shape.dense).strip()} with weights, "
          f"{_m(g_shape.attention).strip()} attention")
    for name in ("G", "D"):
        if traced[name].uncounted:
            print(f"  {name}: live ops without a TensorFlow count: "
                  + ", ".join(f"{k} x{v}" for k, v in sorted(traced[name].uncounted.items())))

    from_tf = factor_estimates(traced["G"].total, traced["D"].total)
    from_shapes = phase_estimates(g_shape, d_shape)
    generator_weights = sum(int(v.shape.num_elements())
                            for v in trainer.generator.trainable_variables)
    weights = generator_weights + sum(int(v.shape.num_elements())
                                      for v in trainer.discriminator.trainable_variables)
    # Adam ~12 FLOPs per weight, the EMA 3 per G weight, once per step of the global batch.
    updates = (12 * weights + 3 * generator_weights) / batch_size
    print(f"\nPhases, MFLOP per image of the global batch of {batch_size} (Dreg amortised:"
          f" / {interval}):")
    print(f"{'':12} {'TF fwd':>9} | {'shapes x factors':^29} | {'TF, traced phase':^39}")
    print(f"{'phase':12} {'x factors':>9} | {'products':>9} {'FIR':>9} {'total':>9} |"
          f" {'products':>9} {'FIR':>9} {'other':>9} {'total':>9}")
    totals = [updates] * 3
    for phase in ("Gmain", "Dmain", "Dreg"):
        share = 1 / interval if phase == "Dreg" else 1
        products, fir = (x * share for x in from_shapes[phase])
        c = traced[phase].scaled(share)
        label = f"{phase} / {interval}" if share != 1 else phase
        print(f"{label:12} {_m(from_tf[phase] * share)} | {_m(products)} {_m(fir)}"
              f" {_m(products + fir)} | {_m(c.products)} {_m(c.fir)} {_m(c.other)}"
              f" {_m(c.total)}")
        totals = [totals[0] + from_tf[phase] * share, totals[1] + products + fir,
                  totals[2] + c.total]
    print(f"{'Adam + EMA':12} {_m(updates)} | {'':9} {'':9} {_m(updates)} | {'':9} {'':9}"
          f" {'':9} {_m(updates)}")
    print(f"{'total':12} {_m(totals[0])} | {'':9} {'':9} {_m(totals[1])} | {'':9} {'':9}"
          f" {'':9} {_m(totals[2])}")
    for phase in ("Gmain", "Dmain", "Dreg"):
        if traced[phase].uncounted:
            print(f"  {phase}: live ops without a TensorFlow count: "
                  + ", ".join(f"{k} x{v}" for k, v in sorted(traced[phase].uncounted.items())))
    step_flops = totals[2]
    print(f"\nFLOPs per image (TensorFlow's count of the traced phases): "
          f"{step_flops / 1e6:.1f} MFLOP; per step of {batch_size} images: "
          f"{step_flops * batch_size / 1e9:.2f} GFLOP")

    peaks = {}
    if not args.no_timing:
        peaks = measure_peaks(args.threads, args.repeats)
        print(f"\nMatmul peak, float32, GFLOP/s (median | best of {args.repeats} calls):")
        for threads, results in peaks.items():
            for r in results:
                print(f"  {threads} thread(s)  {r['name']:58} {r['median_gflops']:8.1f} |"
                      f" {r['best_gflops']:8.1f}")
    if args.img_per_s:
        references = []  # (label, GFLOP/s)
        if 2 in peaks:
            references.append(("the 2-thread peak", max(r["median_gflops"] for r in peaks[2])))
        if 1 in peaks:
            references.append(("2x the 1-thread peak (training: 2 replicas of 1 thread)",
                               2 * max(r["median_gflops"] for r in peaks[1])))
        if 2 in peaks:
            references.append((f"the 2-thread {MODEL_SHAPED} rate", next(
                r["median_gflops"] for r in peaks[2] if r["name"] == MODEL_SHAPED)))
        print(f"\nAchieved at {args.img_per_s:g} img/s (peaks: medians, best workload):")
        for label, flops in (("TensorFlow's count", totals[2]),
                             ("shapes x factors", totals[1])):
            achieved = flops * args.img_per_s / 1e9
            print(f"  {label}: {flops / 1e6:.1f} MFLOP/image -> {achieved:.1f} GFLOP/s")
            for name, rate in references:
                print(f"    {100 * achieved / rate:5.1f}% of {name}, {rate:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
