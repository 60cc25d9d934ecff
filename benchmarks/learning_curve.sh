#!/usr/bin/env bash
# Learning curve of the default recipe (shapes16): the original Styleformer (PyTorch) and
# sfkeras on the SAME machine, the same prepared data and the same metric code (sfkeras's
# fid1k), several seeds each; prints fid1k at 20 and 40 kimg per seed, the means and ranges.
# The table of docs/FIDELITY.md comes from this script; benchmarks/compare_losses.py sets the
# runs' losses side by side.
#
# Usage: bash benchmarks/learning_curve.sh OUT_DIR [SEED ...]      (default seeds: 0 1 2)
# Run it in a checkout where `dvc repro` (or at least `dvc repro prepare inception`) has
# run. SFKERAS_RUN_<seed>=<run folder> reuses a finished sfkeras run of that seed (e.g.
# SFKERAS_RUN_0=data/train, the pipeline's own run of train.seed 0) instead of training.
# Needs, as ../shared/bench-original/side_by_side.sh:
#   ORIGINAL_SRC  the original repository's files (default $TMPDIR/styleformer-original)
#   TORCH_PY      a Python with torch 2.13 CPU (default $TMPDIR/torch-venv/bin/python)
# Time: on a 2-core machine about 8 minutes per sfkeras seed and 5 per original seed.
set -euo pipefail
PROJECT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "$1" && cd "$1" && pwd); shift
SEEDS=("${@:-0}"); [ $# -gt 0 ] || SEEDS=(0 1 2)
BENCH=${BENCH_ORIGINAL:-$PROJECT/../shared/bench-original}
ORIGINAL_SRC=${ORIGINAL_SRC:-${TMPDIR:-/tmp}/styleformer-original}
TORCH_PY=${TORCH_PY:-${TMPDIR:-/tmp}/torch-venv/bin/python}
PY=${SFKERAS_PY:-$PROJECT/.venv/bin/python}
SFKERAS=$(dirname "$PY")/sfkeras
export TF_CPP_MIN_LOG_LEVEL=3 PYTHONUNBUFFERED=1
cd "$PROJECT"
DATA=data/prepared/shapes16
[ -f "$DATA/dataset.json" ] || { echo "no $DATA: run dvc repro prepare inception first"; exit 2; }

fid1k() {  # fid1k of a generator (.keras) -> stdout
  "$SFKERAS" evaluate --network "$1" --out "$2" >/dev/null 2>&1
  "$PY" -c "import json,sys; print(round(json.load(open(sys.argv[1]))['fid1k'], 2))" "$2/metrics.json"
}

# The original: the pipeline's recipe (params.yaml) as train_original.py's JSON.
[ -f "$OUT/reals.npy" ] || "$TORCH_PY" "$BENCH/tfrecord_pngs_to_npy.py" "$OUT/reals.npy" --mirror \
  "$DATA"/train-*.tfrecord >/dev/null
cat > "$OUT/generator.json" <<EOF
{"z_dim": 128, "w_dim": 128, "resolution": 16, "mapping_layers": 2, "depth": 32,
 "minimum_head": 1, "num_layers": [1, 1], "hidden": [128, 64], "linformer": false}
EOF
for seed in "${SEEDS[@]}"; do
  run=$OUT/original-seed$seed
  if [ ! -f "$run/G_ema_40kimg.npz" ]; then
    "$PY" - "$OUT/generator.json" "$seed" > "$OUT/recipe-seed$seed.json" <<'EOF'
import json, sys
g = json.load(open(sys.argv[1]))
print(json.dumps({**g, "d_architecture": "orig", "d_channel_base": 2048, "d_channel_max": 64,
                  "mbstd_group_size": 4, "batch": 32, "g_lr": 0.005, "d_lr": 0.005,
                  "r1_gamma": 0.005, "ema_kimg": 1.0, "ema_rampup": 0.05, "kimg": 40,
                  "save_kimg": [20, 40], "threads": 2, "seed": int(sys.argv[2])}))
EOF
    # train_original.py, with the original's loss statistics kept (stats.json)
    BENCH_ORIGINAL=$BENCH "$TORCH_PY" "$PROJECT/benchmarks/original_losses.py" "$ORIGINAL_SRC" \
      "$OUT/reals.npy" "$run" "$OUT/recipe-seed$seed.json" > "$run.log" 2>&1
  fi
  for kimg in 20 40; do
    "$SFKERAS" import-weights --config "$OUT/generator.json" --state "$run/G_ema_${kimg}kimg.npz" \
      --out "$run/G_ema_${kimg}kimg.keras" >/dev/null 2>&1
    echo "original seed $seed kimg $kimg fid1k $(fid1k "$run/G_ema_${kimg}kimg.keras" "$run/eval$kimg")" \
      | tee -a "$OUT/results.txt"
  done
done

# sfkeras: the pipeline's params.yaml with train.seed set.
for seed in "${SEEDS[@]}"; do
  var=SFKERAS_RUN_$seed; run=${!var:-$OUT/sfkeras-seed$seed}
  if [ -z "${!var:-}" ]; then
    "$PY" - "$seed" > "$OUT/params-seed$seed.yaml" <<'EOF'
import sys, yaml
params = yaml.safe_load(open("params.yaml"))
params["train"]["seed"] = int(sys.argv[1])
print(yaml.safe_dump(params, sort_keys=False))
EOF
    "$SFKERAS" train --params "$OUT/params-seed$seed.yaml" --out "$run" > "$run.log" 2>&1
  fi
  "$PY" - "$run" "$seed" <<'EOF' | tee -a "$OUT/results.txt"
import csv, glob, sys
run, seed = sys.argv[1:]
(tsv,) = glob.glob(f"{run}/log/dvclive/plots/metrics/metrics/fid1k.tsv")
for row in csv.DictReader(open(tsv), delimiter="\t"):
    if float(row["step"]) in (20, 40):
        print(f"sfkeras seed {seed} kimg {float(row['step']):g} fid1k {float(row['fid1k']):.2f}")
EOF
done

"$PY" - "$OUT/results.txt" <<'EOF'
import collections, sys
table = collections.defaultdict(list)
for line in open(sys.argv[1]):
    who, _, seed, _, kimg, _, fid = line.split()
    table[who, kimg].append(float(fid))
for (who, kimg), fids in sorted(table.items()):
    print(f"{who:8} {kimg:>3} kimg: " + " / ".join(f"{f:.1f}" for f in fids)
          + f"  mean {sum(fids) / len(fids):.1f}  range {max(fids) - min(fids):.1f}")
EOF
