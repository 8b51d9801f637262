#!/usr/bin/env bash
# Does distributed pretraining run on NCCL? (the scale-out issue's torchrun path has run only with gloo on
# CPUs). With one GPU, `torchrun --nproc_per_node=1` still joins an NCCL process group and wraps the
# network in DDP on cuda:0; its losses must equal a plain single-process run's (same seed, same slice).
# Carried: .gpu/whl and $MP (default .gpu/mp_32nd.jsonl.gz). About 1 min on one GPU.
# CPU smoke test (gloo): SKIP_WHEELS=1 DEVICE=cpu LIMIT=300 WIDTH=8 OUT=/tmp/ncclout bash benchmarks/gpu/nccl_check.sh
set -eu
export OUT=${OUT:-runs/gpu}
MP=${MP:-.gpu/mp_32nd.jsonl.gz}; DEVICE=${DEVICE:-cuda}; LIMIT=${LIMIT:-4000}; WIDTH=${WIDTH:-200}; EPOCHS=${EPOCHS:-2}
mkdir -p "$OUT" .gpu/cache
if [ -z "${SKIP_WHEELS:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl
  export PYTHONPATH=$PWD:/tmp/site
fi
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
ARGS="pretrain --data $MP --limit $LIMIT --hidden-dim $WIDTH --epochs $EPOCHS --batch-size 64
  --holdout 0.05 --seed 0 --device $DEVICE --threads 1 --n-jobs 1 --cache-dir .gpu/cache"
python3 -m torch.distributed.run --standalone --nproc_per_node=1 -m polysrl_sklearn.cli $ARGS \
    --export "$OUT/ddp.pt" > "$OUT/ddp.log" 2>&1 || { tail -n 30 "$OUT/ddp.log"; exit 1; }
python3 -m polysrl_sklearn.cli $ARGS --export "$OUT/single.pt" > "$OUT/single.log" 2>&1 || { tail -n 30 "$OUT/single.log"; exit 1; }
python3 - "$OUT" <<'PY' | tee "$OUT/nccl_check.md"
import sys

import numpy as np

from polysrl_sklearn.network import load_checkpoint

_, ddp = load_checkpoint(f"{sys.argv[1]}/ddp.pt")
_, single = load_checkpoint(f"{sys.argv[1]}/single.pt")
print("| epoch | torchrun, 1 rank: loss | one process: loss | ranks |")
print("|---:|---:|---:|---:|")
for a, b in zip(ddp["history"], single["history"]):
    print(f"| {a['epoch']} | {a['loss']:.6f} | {b['loss']:.6f} | {a.get('ranks')} |")
same = np.allclose([h["loss"] for h in ddp["history"]], [h["loss"] for h in single["history"]], rtol=1e-4)
print(f"losses agree (rtol 1e-4): {same}")
PY
