#!/bin/bash
# throughput of yesterday's code (2237244) vs today's at equal settings, alternating, 1 thread
cd /work/main; . .venv/bin/activate
OUT=/tmp/calib/regression; mkdir -p $OUT
COMMON="--seconds 25 --breakdown-updates 0 --env-seconds 0 --threads 1 --warmup 3"
for r in 1 2 3; do
  (cd /tmp/oldcode && PYTHONPATH=/tmp/oldcode/src python benchmarks/throughput.py $COMMON) > $OUT/old_$r.json 2>/dev/null
  python benchmarks/throughput.py $COMMON --memory-rows 64 --set epochs=1 minibatches=1 'elbo="literal"' 'reward_norm="off"' 'advantage_norm="off"' 'allocation="usage-literal"' > $OUT/new_equal_$r.json 2>/dev/null
  python benchmarks/throughput.py $COMMON --set epochs=1 minibatches=1 > $OUT/new_k1_$r.json 2>/dev/null
done
python benchmarks/throughput.py $COMMON > $OUT/new_defaults.json 2>/dev/null
