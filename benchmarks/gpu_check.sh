#!/usr/bin/env bash
# The GPU checks of the learning and the paper-suite issues, as one script for one short lease on
# a GPU machine (docs/performance.md, "On a GPU"):
#
#     bash benchmarks/gpu_check.sh OUTDIR SECONDS [PART ...]
#
# PARTs run in the order given while time is left (default: all of them, in this order):
#   info        nvidia-smi, torch and the GPU's name
#   tests       python -m pytest tests/test_cuda.py
#   throughput  benchmarks/throughput.py --device cuda at 32, 256 and 1,024 envs (small preset)
#   compile     the same with --compile (compilation happens in the untimed warm-up; no
#               breakdown: its timing hooks would recompile the step); compile1024 and
#               compile_small split it (1,024 envs; 256 and 32 envs)
#   paper       merlin-rl train --preset paper on ColourMatch (64x64 images, N = 1,350) with the
#               time that is left (PAPER_ENVS environments, default 64), stopped by SIGTERM;
#               it also writes a checkpoint every 50k steps and TensorBoard images every 20 updates
# Every step is capped by the time left of SECONDS, so the script ends inside its budget. Outputs
# under OUTDIR: NAME.out (stdout: JSON for the benchmarks), NAME.err, steps.txt (rc and seconds of
# each step) and paper/ (config.json, metrics.csv of the training; no checkpoints).
# Run from the repository root with merlin_rl importable (installed, or PYTHONPATH=src).
set -u
out=${1:?usage: gpu_check.sh OUTDIR SECONDS [PART ...]}
budget=${2:?usage: gpu_check.sh OUTDIR SECONDS [PART ...]}
shift 2
parts=${*:-info tests throughput compile paper}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
end=$((SECONDS + budget))
py=${PYTHON:-python3}
dev=${DEVICE:-cuda} # DEVICE=cpu: a dry run of the script itself on a machine without a GPU

step() { # step NAME CAP CMD...: CMD under a timeout of min(CAP, time left)
    local name=$1 cap=$2 t0=$SECONDS t rc
    shift 2
    t=$((end - SECONDS - 5))
    ((t > cap)) && t=$cap
    if ((t < 15)); then
        echo "$name skipped: ${t}s left" | tee -a "$out/steps.txt"
        return
    fi
    timeout -s TERM -k 15 "$t" "$@" >"$out/$name.out" 2>"$out/$name.err"
    rc=$?
    echo "$name rc=$rc $((SECONDS - t0))s (cap ${t}s)" | tee -a "$out/steps.txt"
    [[ $rc == 0 ]] || tail -n 25 "$out/$name.err"
}

throughput() { # throughput NAME ENVS [FLAGS...]
    local name=$1 envs=$2
    shift 2
    step "$name" 150 "$py" benchmarks/throughput.py --device "$dev" --num-envs "$envs" \
        --seconds 10 --breakdown-updates 2 --env-seconds 1 "$@"
    "$py" - "$out/$name.out" <<'EOF' || true
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(0)
keys = ("num_envs", "compile", "warmup_s", "train_steps_per_s", "rollout_steps_per_s",
        "acting_steps_per_s_no_grad", "update_ms_per_segment", "cuda_peak_allocated_mb")
print(json.dumps({k: d.get(k) for k in keys}))
EOF
}

for part in $parts; do
    case $part in
    info)
        step nvidia_smi 30 nvidia-smi
        step torch_info 60 "$py" -c "import torch, gymnasium, merlin_rl; print(torch.__version__, \
torch.version.cuda, torch.cuda.get_device_name(0), gymnasium.__version__); \
import tqdm, triton; from torch.utils.tensorboard import SummaryWriter"
        cat "$out/torch_info.out"
        ;;
    tests) step test_cuda 240 "$py" -m pytest tests/test_cuda.py -q -rs --durations=0 ;;
    throughput) for b in 32 256 1024; do throughput "throughput_b$b" "$b"; done ;;
    compile | compile1024 | compile_small)
        case $part in compile) envs="1024 256 32" ;; compile1024) envs=1024 ;; *) envs="256 32" ;; esac
        for b in $envs; do throughput "throughput_compile_b$b" "$b" --compile --warmup 3; done
        ;;
    paper)
        step paper 100000 "$py" -m merlin_rl train --preset paper --device "$dev" \
            --num-envs "${PAPER_ENVS:-64}" --total-steps 100000000 --seed 0 \
            --run-dir "$out/paper_run" --no-progress --checkpoint-interval 50000 --tb-images-every 20
        mkdir -p "$out/paper"
        cp "$out"/paper_run/{config.json,metrics.csv} "$out/paper/" 2>/dev/null
        rm -rf "$out/paper_run"
        tail -n 3 "$out/paper/metrics.csv" 2>/dev/null | cut -c1-120
        ;;
    *) echo "unknown part $part" | tee -a "$out/steps.txt" ;;
    esac
done
