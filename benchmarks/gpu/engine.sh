# Issue 14 on a lent GPU: CUDA tests of the engine, then the speed table (joint vs cached,
# F=64 and 200, fp32 and bf16, whole epochs over the full corpus).
source benchmarks/gpu/device_env.sh
python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tail -5 | tee "$OUT/cuda_tests.txt"
python3 benchmarks/pretrain_speed.py --devices cuda --widths 64 --precisions fp32 --epochs 2 \
    --cache-dir .gpu/cache 2>&1 | tee "$OUT/speed64.md"
python3 benchmarks/pretrain_speed.py --devices cuda --widths 200 --precisions fp32 bf16 --epochs 2 \
    --cache-dir .gpu/cache 2>&1 | tee "$OUT/speed200.md"
