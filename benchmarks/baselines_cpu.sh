# The four baseline encoders retrained with the default model's recipe and engine, side by side,
# one process and one torch thread each (docs/pretraining.md, "Baseline models"):
#   OBJECTIVES="infomax graphcl" bash benchmarks/baselines_cpu.sh
#   OBJECTIVES="supervised polysrl_nosample" bash benchmarks/baselines_cpu.sh
# Only the objective differs from the default model: same recipe (RECIPE, default chgnet_mt), corpus,
# held-out split and seed. Needs POLYSRL_MP_STRUCTURES and POLYSRL_DATA_DIR; models and logs go to
# runs/ (RUNS_DIR) as baseline_OBJECTIVE.pt; --resume continues an interrupted run. CACHE_DIR holds
# the crystal graphs and CHGNet vectors (default ~/.cache/polysrl); EXTRA adds flags to every run.
set -eo pipefail
: "${POLYSRL_MP_STRUCTURES:?set POLYSRL_MP_STRUCTURES to mp_structures_id_lt2M.jsonl.gz}"
: "${OBJECTIVES:?name the objectives, e.g. OBJECTIVES=\"infomax graphcl\"}"
MP_GAPS=${MP_GAPS:-${POLYSRL_DATA_DIR:?set POLYSRL_DATA_DIR}/CompRhys_roost/mp-non-metals.csv}
RUNS_DIR=${RUNS_DIR:-runs}; CACHE_DIR=${CACHE_DIR:-$HOME/.cache/polysrl}
mkdir -p "$RUNS_DIR"
# the property table is the supervised objective's corpus and the multi-task head's targets
COMMON="--recipe ${RECIPE:-chgnet_mt} --data $POLYSRL_MP_STRUCTURES --cache-dir $CACHE_DIR --device cpu --threads 1
  --n-jobs 1 --seed 0 --holdout 0.05 --property-table $MP_GAPS --composition-column composition
  --target-column band_gap ${EXTRA:-}"
for objective in $OBJECTIVES; do
  OMP_NUM_THREADS=1 polysrl pretrain $COMMON --objective "$objective" \
      --checkpoint "$RUNS_DIR/baseline_$objective.ckpt" --export "$RUNS_DIR/baseline_$objective.pt" \
      --resume > "$RUNS_DIR/baseline_$objective.log" 2>&1 &
done
wait
for objective in $OBJECTIVES; do echo "== $objective"; grep -E "^\{" "$RUNS_DIR/baseline_$objective.log" | tail -1; done
