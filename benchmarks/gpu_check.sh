#!/usr/bin/env bash
# The networks on a GPU under the JAX and PyTorch Keras backends, beside the original.
#
# For a GPU machine that has JAX and PyTorch with CUDA but no TensorFlow, no network,
# and receives at most 64 MiB with the work tree. Nothing on this path imports
# TensorFlow. In under 8 minutes it runs, per backend (jax, torch):
#   1. the parity tests (marked cross_backend in tests/test_backends.py's PARITY_FILES),
#   2. benchmarks/bench_generator.py, inference and forward+backward, eager and compiled
#      (jax.jit / torch.compile), at the paper's batch sizes (CIFAR-10 G: 64, the total
#      batch of the paper's tables on 4 GPUs, and 32, its README's one-GPU batch; the
#      ablation G: 32);
# and 3. the original Styleformer generator (PyTorch, same GPU, same batch sizes).
#
# Prepare on a machine with network access, from the repository root (about 45 MiB):
#
#   STYLEFORMER_GIT_DIR=/path/to/Styleformer/.git bash benchmarks/gpu_check.sh --prepare
#
# which writes .gpu_carry/ (git-ignored): wheels/ (keras with its pure-Python
# dependencies, pytest, pyyaml: `pip download`), styleformer/ (the original's
# training/, torch_utils/ and dnnlib/: `git archive` of a clone of
# github.com/Jeeseung-Park/Styleformer, never committed here) and fixtures/ (the parity
# fixtures, ../shared/fixtures/official without the snapshot). Then carry .gpu_carry
# with the work tree (the device tool's carry: [".gpu_carry"]) and run there:
#
#   bash benchmarks/gpu_check.sh            # prints one line per figure; logs in $OUT
#
# The FID Inception's parity test needs its 87 MB weights, more than can be carried:
# it skips there (the architecture, resize and weight-assignment tests still run).
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=.gpu_carry
PRESET_BATCHES=("ablation 32" "cifar10 32" "cifar10 64")
# Caps (seconds) that keep the whole run under 8 minutes even if something hangs.
PARITY_CAP=75 BENCH_CAP=40 ORIGINAL_CAP=20

prepare() {
    : "${STYLEFORMER_GIT_DIR:?set STYLEFORMER_GIT_DIR to a clone of Jeeseung-Park/Styleformer}"
    rm -rf "$CARRY" && mkdir -p "$CARRY"/{wheels,styleformer,fixtures}
    local keras_version
    keras_version=$(python -c "import importlib.metadata as m; print(m.version('keras'))")
    python -m pip download --quiet --no-deps -d "$CARRY/wheels" "keras==$keras_version" \
        namex optree rich markdown-it-py mdurl pygments absl-py packaging h5py \
        pytest pluggy iniconfig pyyaml
    git --git-dir="$STYLEFORMER_GIT_DIR" archive HEAD training torch_utils dnnlib \
        | tar -x -C "$CARRY/styleformer"
    cp ../shared/fixtures/official/{generator,discriminator,stylegan2,inception,train}*.npz \
        "$CARRY/fixtures/"
    du -sh "$CARRY"
}

run_check() {
    local out=${OUT:-$CARRY/out}
    mkdir -p "$out"
    # Keras and the test tools from the carried wheels, each where the machine lacks it
    # (binary wheels were downloaded for the preparing machine's Python).
    local wheel
    for wheel in "$CARRY"/wheels/*.whl; do
        python -c "import importlib.metadata as m, sys; m.version(sys.argv[1])" \
            "$(basename "$wheel" | cut -d- -f1)" 2>/dev/null \
            || python -m pip install --quiet --no-deps --no-index "$wheel" \
            || echo "cannot install $(basename "$wheel") here"
    done
    python -c "import keras, pytest, yaml"
    export PYTHONPATH=$PWD SFKERAS_FIXTURES=$PWD/$CARRY/fixtures TF_CPP_MIN_LOG_LEVEL=3
    python - <<'EOF'
import importlib.util
assert importlib.util.find_spec("tensorflow") is None, "this check is for a machine without TF"
import jax, torch
print("jax", jax.__version__, jax.devices(), "| torch", torch.__version__,
      torch.cuda.get_device_name(0))
EOF
    local files
    files=$(python -c "import ast, pathlib; tree = ast.parse(pathlib.Path('tests/test_backends.py').read_text()); print(*next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == 'PARITY_FILES'))")
    for backend in jax torch; do
        echo "== $backend: parity tests"
        KERAS_BACKEND=$backend timeout $PARITY_CAP python -m pytest -q -p no:cacheprovider -m cross_backend $files \
            2>&1 | tee "$out/parity_$backend.log" | tail -3
        for preset_batch in "${PRESET_BATCHES[@]}"; do
            set -- $preset_batch
            timeout $BENCH_CAP python benchmarks/bench_generator.py --backend "$backend" \
                --presets "$1" --batch "$2" --xla off on --iterations 5 --warmup 1 \
                2>&1 | tee -a "$out/bench_$backend.log" | grep "img/s" || true
        done
    done
    echo "== original Styleformer generator (PyTorch)"
    for preset_batch in "${PRESET_BATCHES[@]}"; do
        timeout $ORIGINAL_CAP python - "$CARRY/styleformer" $preset_batch <<'EOF' 2>&1 | tee -a "$out/original.log"
import statistics, sys, time
import torch
source, preset, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, source)
from training.networks_Generator import Generator  # the original's module

layers, hidden = {"ablation": ([1, 2, 2], [256, 64, 16]),
                  "cifar10": ([1, 3, 3], [1024, 512, 512])}[preset]
G = Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=32, img_channels=3,
              mapping_kwargs=dict(num_layers=2),
              synthesis_kwargs=dict(depth=32, minimum_head=1, num_layers=layers, G_dict=hidden,
                                    conv_clamp=256, linformer=False)).cuda()
z, c = torch.randn(batch, 512, device="cuda"), torch.zeros(batch, 0, device="cuda")

def inference():
    with torch.no_grad():
        return G(z, c).sum()

def forward_backward():
    G.zero_grad(set_to_none=True)
    G(z, c).mean().backward()

for label, step in (("inference", inference), ("fwd+bwd", forward_backward)):
    for _ in range(2):
        step()
    seconds = []
    for _ in range(5):
        torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    print(f"original   {preset:10s} {label:9s} batch={batch}: "
          f"{batch / statistics.median(seconds):8.2f} img/s "
          f"gpu_peak={torch.cuda.max_memory_allocated() / 2**20:.0f}MiB", flush=True)
EOF
    done
}

if [[ "${1:-}" == "--prepare" ]]; then prepare; else run_check; fi
