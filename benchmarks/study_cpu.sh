# The representation study's candidates on the CPU, side by side, one process and one torch
# thread each (docs/pretraining.md, "Representation study"):
#   CANDIDATES="C11 C12" bash benchmarks/study_cpu.sh
# Needs POLYSRL_MP_STRUCTURES and POLYSRL_DATA_DIR; models and logs go to runs/ (RUNS_DIR);
# --resume continues an interrupted candidate. EPOCHS (default 40, the pre-registered N) and
# CACHE_DIR (crystal graphs and CHGNet vectors; default ~/.cache/polysrl) may be set; THREADS (default 1)
# gives a lone candidate both cores.
set -eo pipefail
: "${POLYSRL_MP_STRUCTURES:?set POLYSRL_MP_STRUCTURES to mp_structures_id_lt2M.jsonl.gz}"
: "${CANDIDATES:?name the candidates, e.g. CANDIDATES=\"C11 C12\"}"
MP_GAPS=${MP_GAPS:-${POLYSRL_DATA_DIR:?set POLYSRL_DATA_DIR}/CompRhys_roost/mp-non-metals.csv}
MP_E_FORM=${MP_E_FORM:-$POLYSRL_DATA_DIR/pypi_crabnet-2.0.8/matbench/mp_e_form.csv}
RUNS_DIR=${RUNS_DIR:-runs}; CACHE_DIR=${CACHE_DIR:-$HOME/.cache/polysrl}
mkdir -p "$RUNS_DIR"
COMMON="--data $POLYSRL_MP_STRUCTURES --cache-dir $CACHE_DIR --device cpu --threads ${THREADS:-1} --n-jobs 1 --seed 0
  --holdout 0.05 --hidden-dim 200 --epochs ${EPOCHS:-40} --batch-size 256 --learning-rate 1e-3
  --warmup-epochs 2 --export-every 5"
source "$(dirname "$0")/study_candidates.sh"
for id in $CANDIDATES; do
  [ -n "${RUNS[$id]}" ] || { echo "unknown candidate $id" >&2; exit 2; }
  OMP_NUM_THREADS=${THREADS:-1} polysrl pretrain $COMMON ${RUNS[$id]} --checkpoint "$RUNS_DIR/$id.ckpt" \
      --export "$RUNS_DIR/$id.pt" --resume > "$RUNS_DIR/$id.log" 2>&1 &
done
wait
for id in $CANDIDATES; do echo "== $id: ${RUNS[$id]}"; grep -E "^\{" "$RUNS_DIR/$id.log" | tail -1; done
