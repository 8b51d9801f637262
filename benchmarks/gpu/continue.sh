#!/usr/bin/env bash
# Continue pretraining on a lent CUDA machine from full checkpoints made on the CPU.
# 1) the CUDA tests, in the background;
# 2) the MP corpus decompressed and its crystal graphs built once, with 16 workers;
# 3) in parallel until $DEADLINE seconds after the start: the polysrl run resumed towards $EPOCHS
#    epochs with a snapshot every $EVERY epochs, and each baseline resumed to $BASE_EPOCHS epochs;
# 4) the last epoch of every run exported; snapshots, exports and full checkpoints packed into $OUT.
# Expects $CKPT/<objective>.ckpt and the MP corpus at $MP_SOURCE (.jsonl, .jsonl.gz or .jsonl.xz).
# Used as: CKPT=.devdata MP_SOURCE=.devdata/mp.jsonl.xz OUT=$OUT bash benchmarks/gpu/continue.sh
set -u
T0=$(date +%s)
CKPT=${CKPT:-.devdata}
MP_SOURCE=${MP_SOURCE:-.devdata/mp.jsonl.xz}
OUT=${OUT:-runs/gpu}
EPOCHS=${EPOCHS:-100}
EVERY=${EVERY:-4}
BASE_EPOCHS=${BASE_EPOCHS:-22}
DEADLINE=${DEADLINE:-480}
BASELINES=${BASELINES:-polysrl_nosample infomax graphcl}
DEVICE=${DEVICE:-cuda}
EXTRA=${EXTRA:-}  # more pretrain arguments (a small smoke test on the CPU: DEVICE=cpu EXTRA="--hidden-dim 8")
WORK=/tmp/polysrl
mkdir -p "$OUT" $WORK/snap $WORK/base
export PYTHONUNBUFFERED=1
left() { echo $((DEADLINE - $(date +%s) + T0)); }
stamp() { echo "[$(($(date +%s) - T0)) s] $*"; }

nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, torch_geometric; print('torch', torch.__version__, 'pyg', torch_geometric.__version__, 'cuda', torch.cuda.is_available())"
timeout 200 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py > $WORK/cuda_tests.log 2>&1 &

MP=$WORK/mp_structures_id_lt2M.jsonl
python3 - "$MP_SOURCE" "$MP" <<'EOF'
import gzip, lzma, shutil, sys
source, target = sys.argv[1:]
opener = lzma.open if source.endswith(".xz") else gzip.open if source.endswith(".gz") else open
with opener(source, "rb") as src, open(target, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 24)
EOF
stamp "corpus decompressed"
python3 -c "
import time; from polysrl_sklearn.corpus import corpus_from_mp_jsonl
t = time.time(); c = corpus_from_mp_jsonl('$MP', cutoff=6.0, max_neighbors=12, n_jobs=16, cache_dir='$WORK/cache', verbose=False)
print(f'graphs: {len(c.names)} structures in {time.time() - t:.1f} s (16 workers)')"
stamp "graphs cached"

common="--data $MP --cache-dir $WORK/cache --n-jobs 1 --threads 2 --device $DEVICE --seed 0 --resume $EXTRA"
for objective in polysrl $BASELINES; do cp "$CKPT/$objective.ckpt" $WORK/; done
timeout "$(left)" python3 -m polysrl_sklearn.cli pretrain $common --objective polysrl --epochs "$EPOCHS" \
  --checkpoint $WORK/polysrl.ckpt --export $WORK/snap/polysrl_mp.pt --export-every "$EVERY" > $WORK/polysrl.log 2>&1 &
for objective in $BASELINES; do
  timeout "$(left)" python3 -m polysrl_sklearn.cli pretrain $common --objective "$objective" --epochs "$BASE_EPOCHS" \
    --checkpoint $WORK/$objective.ckpt --export $WORK/base/$objective.pt > $WORK/$objective.log 2>&1 &
done
wait
stamp "training ended"
python3 -m polysrl_sklearn.cli export $WORK/polysrl.ckpt $WORK/snap/polysrl_mp_last.pt
for objective in $BASELINES; do
  python3 -m polysrl_sklearn.cli export $WORK/$objective.ckpt $WORK/base/${objective}_last.pt
  cp $WORK/$objective.ckpt $WORK/base/
done
for name in cuda_tests polysrl $BASELINES; do
  echo "=== $name"; tr '\r' '\n' < $WORK/$name.log | grep -E "corpus|epoch=|Error|error|passed|failed|skipped"
done | tee "$OUT/logs.txt"
tar -cf "$OUT/polysrl_snapshots.tar" -C $WORK/snap .
tar -cf "$OUT/baselines.tar" -C $WORK/base .
cp $WORK/polysrl.ckpt "$OUT/"
ls -la "$OUT"
stamp "done"
