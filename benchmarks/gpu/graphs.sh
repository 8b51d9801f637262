#!/usr/bin/env bash
# Issues 14 and 17 on a lent GPU, in one call:
# 1) the crystal graphs of a quarter of MP's formulas (every structure of 24,868 formulas drawn with
#    seed 0; .gpu/mp_quarter.jsonl.gz, see README.md), built once with every core;
# 2) in the background on free CPU cores: benchmarks/featurize_scaling.py (in-process transform,
#    `polysrl featurize` in 1 process and on a Dask LocalCluster of 2 workers, 1M formulas);
# 3) the CUDA tests (CUDA-graph steps included);
# 4) the engine's speed at F = 200: eager and CUDA-graph steps, deterministic kernels on and off,
#    joint and cached, 30 timed steps per row extrapolated to the full corpus's 389 steps;
# 5) the paper's recipe through the CLI with --cuda-graphs, 3 whole epochs of the quarter corpus.
# Carried: .gpu/whl, .gpu/dask (wheels) and .gpu/mp_quarter.jsonl.gz. SKIP_SCALING=1 skips step 2.
set -u
export OUT=${OUT:-runs/gpu}
mkdir -p "$OUT" .gpu/cache
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .gpu/whl/*.whl .gpu/dask/*.whl
export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
MP=.gpu/mp_quarter.jsonl.gz
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, torch_geometric, dask; print('torch', torch.__version__, 'pyg', torch_geometric.__version__, 'dask', dask.__version__)"
python3 -c "
import time; from polysrl_sklearn.corpus import corpus_from_mp_jsonl
t = time.time(); c = corpus_from_mp_jsonl('$MP', n_jobs=-1, cache_dir='.gpu/cache', verbose=False)
print(f'graphs: {len(c.names)} structures, {len(c.formulas)} formulas in {time.time() - t:.0f} s')"
SCALING=
if [ -z "${SKIP_SCALING:-}" ]; then
  timeout 400 python3 benchmarks/featurize_scaling.py --rows 1000000 --memory-rows 0 --model polysrl \
      > "$OUT/scaling.md" 2>&1 &
  SCALING=$!
fi
timeout 200 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_graphed_steps.py 2>&1 \
    | tail -30 > "$OUT/cuda_tests.txt"
tail -3 "$OUT/cuda_tests.txt"
timeout 240 python3 benchmarks/pretrain_speed.py --data $MP --cache-dir .gpu/cache --devices cuda --widths 200 \
    --steps 30 --epoch-steps 389 --deterministic both --cuda-graphs both --random-cache 2>&1 | tee "$OUT/speed.md"
timeout 150 python3 -m polysrl_sklearn.cli pretrain --paper --cuda-graphs --data $MP --cache-dir .gpu/cache \
    --device cuda --threads 1 --epochs 3 --checkpoint /tmp/paper.ckpt --export /tmp/paper.pt > /tmp/paper.log 2>&1
tr '\r' '\n' < /tmp/paper.log | grep -E "corpus|epoch=|Error|error" | tee "$OUT/paper_cli.txt"
if [ -n "$SCALING" ]; then wait $SCALING; tail -12 "$OUT/scaling.md"; fi
