# The representation study's candidates (docs/pretraining.md, "Representation study"), all in
# parallel on one GPU, EPOCHS each (snapshots every 20), stopped at BUDGET seconds; models are
# packed two per tar into $OUT.
source benchmarks/gpu/device_env.sh
set +e +o pipefail  # from here on, a failed run or an empty grep must not stop the packing
# the engine's speed in one process, before the study (50 timed steps per row)
[ -n "$SPEED" ] && timeout 90 python3 benchmarks/pretrain_speed.py --devices cuda --widths 200 --steps 50 \
    --deterministic both --cache-dir .gpu/cache 2>&1 | tee "$OUT/speed_after.md"
EPOCHS=${EPOCHS:-100}; BUDGET=${BUDGET:-450}; DEVICE=${DEVICE:-cuda}; WIDTH=${WIDTH:-200}
COMMON="--data $POLYSRL_MP_STRUCTURES --cache-dir .gpu/cache --device $DEVICE --threads 1 --n-jobs 1 --seed 0
  --holdout 0.05 --hidden-dim $WIDTH --epochs $EPOCHS --batch-size 256 --learning-rate 1e-3 --warmup-epochs 2
  --export-every ${EVERY:-20} ${LIMIT:+--limit $LIMIT} ${GRAPHS:+--cuda-graphs}"
source benchmarks/study_candidates.sh
# CANDIDATES="C1 C2" runs a subset (a lease of 15 minutes does not hold all ten at 40 epochs);
# GRAPHS=1 trains with --cuda-graphs (graph replay: a cached F = 200 epoch 1.7 s instead of 10-12 s)
CANDIDATES=${CANDIDATES:-C1 C2 C3 C4 C5 C6 C7 C8 C9 C10}
for id in "${!RUNS[@]}"; do [[ " $CANDIDATES " == *" $id "* ]] || unset "RUNS[$id]"; done
for id in "${!RUNS[@]}"; do
  timeout "$BUDGET" python3 -m polysrl_sklearn.cli pretrain $COMMON ${RUNS[$id]} \
      --checkpoint "runs/$id.ckpt" --export "runs/$id.pt" > "runs/$id.log" 2>&1 &
done
wait || true
for id in "${!RUNS[@]}"; do echo "== $id: ${RUNS[$id]}"; grep -E "^\{|epoch=" "runs/$id.log" | tail -3; done \
    > runs/study_logs.txt
# every run's snapshot epochs; the last epoch that all runs reached
for id in "${!RUNS[@]}"; do
  last=$(ls runs/${id}_e*.pt 2>/dev/null | sed -E 's/.*_e([0-9]+)\.pt/\1/' | sort -n | tail -1)
  echo "$id ${last:-0} $([ -f runs/$id.pt ] && echo finished || echo cut)"
done > runs/snapshots.txt
common=$(awk '{print $2}' runs/snapshots.txt | sort -n | head -1)
for id in "${!RUNS[@]}"; do
  if grep -q " cut" runs/snapshots.txt; then src="runs/${id}_e${common}.pt"; else src="runs/$id.pt"; fi
  [ -f "$src" ] && cp "$src" "runs/final_$id.pt"
done
cat runs/study_logs.txt runs/snapshots.txt
tar -cf "$OUT/logs.tar" runs/*.log runs/study_logs.txt runs/snapshots.txt
tar -cf "$OUT/m1.tar" $(ls runs/final_C1.pt runs/final_C2.pt runs/final_C10.pt 2>/dev/null)
tar -cf "$OUT/m2.tar" $(ls runs/final_C3.pt runs/final_C4.pt 2>/dev/null)
tar -cf "$OUT/m3.tar" $(ls runs/final_C5.pt runs/final_C6.pt 2>/dev/null)
tar -cf "$OUT/m4.tar" $(ls runs/final_C7.pt runs/final_C8.pt 2>/dev/null)
tar -cf "$OUT/m5.tar" $(ls runs/final_C9.pt 2>/dev/null)
ls -la "$OUT"
[ -n "$TESTS" ] && timeout 60 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tail -3
