#!/usr/bin/env bash
# Transfer-learning benchmark on a CUDA machine: one process per (task, method), in parallel.
# Expects the wet-lab data files under $POLYSRL_DATA_DIR (same layout as shared/data); writes $OUT/tl.csv.
set -u
OUT=${OUT:-runs/gpu}
mkdir -p "$OUT" /tmp/tl
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
for task in ${TASKS:-band_gap formation_enthalpy metallic estm300_ec estm300_tc estm300_seebeck estm600_ec estm600_tc estm600_seebeck}; do
  for method in ${METHODS:-polysrl rand_init}; do
    timeout ${BUDGET:-420} polysrl benchmark --transfer-only --tasks $task --methods $method \
      --transfer-epochs ${EPOCHS:-300} --seeds 0 --csv /tmp/tl/$task-$method.csv > /tmp/tl/$task-$method.log 2>&1 &
  done
done
wait
python3 -c "
import glob, pandas as pd
frames = [pd.read_csv(f) for f in sorted(glob.glob('/tmp/tl/*.csv'))]
print(pd.concat(frames).to_string(index=False)) if frames else print('no results')
pd.concat(frames).to_csv('$OUT/tl.csv', index=False) if frames else None"
grep -l -i "error" /tmp/tl/*.log | head; tail -n 3 /tmp/tl/band_gap-polysrl.log
