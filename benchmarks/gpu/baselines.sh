#!/usr/bin/env bash
# Device check + baseline pretraining on a CUDA machine (used once per session on a lent GPU).
# 1) the CUDA tests; 2) crystal graphs of the MP corpus built in parallel; 3) the baseline
#    objectives pretrained with the CPU recipe cut to 8 epochs (F=64), in parallel;
# 4) one epoch of the paper's full settings (--paper) on a 20k-structure slice, for timing.
# Expects the MP file and mp-non-metals.csv in $DATA (default .gpudata/); writes to $OUT.
set -u
DATA=${DATA:-.gpudata}
OUT=${OUT:-runs/gpu}
mkdir -p "$OUT" /tmp/polysrl
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, torch_geometric; print('torch', torch.__version__, 'pyg', torch_geometric.__version__, 'cuda', torch.cuda.is_available())"
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_loss_and_sampler.py 2>&1 | tail -3
MP="$DATA/mp_structures_id_lt2M.jsonl.gz"
start=$(date +%s)
python3 -c "
import time; from polysrl_sklearn.corpus import corpus_from_mp_jsonl
t = time.time(); c = corpus_from_mp_jsonl('$MP', cutoff=6.0, max_neighbors=12, n_jobs=16, cache_dir='/tmp/polysrl', verbose=False)
print(f'graphs: {len(c.names)} structures in {time.time() - t:.1f} s ({len(c.names) / (time.time() - t):.0f}/s, 16 workers)')"
common="--data $MP --cache-dir /tmp/polysrl --n-jobs 1 --threads 2 --device cuda --seed 0 --epochs ${EPOCHS:-8}"
for objective in polysrl_nosample infomax graphcl; do
  timeout ${BUDGET:-330} python3 -m polysrl_sklearn.cli pretrain $common --objective $objective \
    --checkpoint /tmp/polysrl/$objective.ckpt > /tmp/polysrl/$objective.log 2>&1 &
done
timeout ${BUDGET:-330} python3 -m polysrl_sklearn.cli pretrain $common --objective supervised \
  --property-table "$DATA/mp-non-metals.csv" --checkpoint /tmp/polysrl/supervised.ckpt > /tmp/polysrl/supervised.log 2>&1 &
timeout 200 python3 -m polysrl_sklearn.cli pretrain --data $MP --cache-dir /tmp/polysrl/paper --n-jobs 4 --threads 2 \
  --device cuda --paper --epochs 1 --limit 20000 --checkpoint /tmp/polysrl/paper.ckpt > /tmp/polysrl/paper.log 2>&1 &
wait
echo "all runs ended after $(( $(date +%s) - start )) s"
for f in /tmp/polysrl/*.log; do echo "=== $f"; tr '\r' '\n' < "$f" | grep -E "corpus|epoch=|Error|error" ; done | tee "$OUT/logs.txt"
cp /tmp/polysrl/polysrl_nosample.ckpt /tmp/polysrl/infomax.ckpt /tmp/polysrl/graphcl.ckpt /tmp/polysrl/supervised.ckpt "$OUT/" 2>/dev/null
ls -la "$OUT"
