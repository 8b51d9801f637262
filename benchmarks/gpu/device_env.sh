# Sourced by the GPU scripts on a bare lent machine (no network): install the carried wheels
# (pymatgen-core, monty, orjson, ruamel.yaml, matminer; the image has torch, torch-geometric,
# scikit-learn, pandas) and build the MP crystal graphs once with every core.
# Carried: .gpu/whl/*.whl and .gpu/data/{mp_structures_id_lt2M.jsonl.gz,mp-non-metals.csv}
# (see benchmarks/gpu/README.md for how they are made).
set -eo pipefail
export OUT=${OUT:-runs/gpu}
mkdir -p "$OUT" .gpu/cache runs
if [ -z "$SKIP_WHEELS" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl
fi
export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1
export POLYSRL_MP_STRUCTURES=$PWD/.gpu/data/mp_structures_id_lt2M.jsonl.gz
export MP_GAPS=$PWD/.gpu/data/mp-non-metals.csv
python3 - <<'PY'
import time
t = time.time()
from polysrl_sklearn.corpus import corpus_from_mp_jsonl
import os
limit = int(os.environ["LIMIT"]) if os.environ.get("LIMIT") else None
c = corpus_from_mp_jsonl(None, limit, cache_dir=".gpu/cache", n_jobs=-1, verbose=False)
print(f"corpus ready: {len(c.names)} structures, {len(c.formulas)} formulas in {time.time() - t:.0f} s", flush=True)
PY
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch, torch_geometric; print('torch', torch.__version__, 'pyg', torch_geometric.__version__)"
