cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
out=docs/runs/learning/instruction_isolation/matrix.jsonl; : > $out
run() { OMP_NUM_THREADS=1 python experiments/instruction_isolation.py --every 100 "$@" >> $out; }
for s in 0 1 2; do
  run --share 1 --image-weight 0 --seed $s
  run --share 1 --image-weight 1 --seed $s
  run --share 1 --seed $s
  run --share 1 --seed $s --steps 1200
  run --share 1 --text-weight 50 --seed $s
  run --share 1 --text-weight 50 --grad-clip 1e9 --seed $s
  run --image-weight 0 --seed $s
  run --seed $s --steps 1200
  run --text-weight 50 --seed $s --steps 600
  run --text-weight 500 --seed $s --steps 600
done

# extras.jsonl: one knob at a time, every view carrying the instruction, 300 steps, seeds 0-2
# (python, from the repository root):
#   import sys; sys.path.insert(0, "experiments"); import instruction_isolation as ii
#   for ov in [dict(lr_mbp=1e-3), dict(lr_mbp=3e-4), dict(decoder_hidden=128),
#              dict(encoder_norm="layer"), dict(z_dim=64), dict(mlp_hidden=256)]:
#       for s in range(3): ii.run(1.0, 300, 64, s, every=100, **ov)
#
# loop.jsonl: the MBP alone in the real training loop (policy frozen), seed 100
#   OMP_NUM_THREADS=1 python experiments/instruction_isolation.py --loop 300 --seed 100 --every 50
#
# rarity.jsonl: the text alone at 1 view in 12, for as many instruction samples as 100 steps of
# "every view" (1,200 steps), seeds 0-2
#   for s in 0 1 2; do OMP_NUM_THREADS=1 python experiments/instruction_isolation.py \
#       --image-weight 0 --seed $s --steps 1200 --every 100; done

# Sixteenth session: the factored latent (--latent factored; mbp.MBP). Every row above is of the
# joint latent (the default until then); the rows below carry "latent" in them.
# loop_factored.jsonl: the MBP alone in the real loop, as loop.jsonl
#   OMP_NUM_THREADS=1 python experiments/instruction_isolation.py --loop 300 --seed 100 --every 50 --latent factored
# factored.jsonl: isolation, every view carrying the instruction (300 steps) and 1 in 12 (1,200)
#   for s in 0 1 2; do
#     run --share 1 --seed $s --latent factored
#     run --seed $s --steps 1200 --latent factored
#   done   (with out=.../factored.jsonl)
# factored_text_weight.jsonl: the factored latent at 1 in 12 with a larger text weight (last row of each)
#   for w in 10 50; do OMP_NUM_THREADS=1 python experiments/instruction_isolation.py --every 1200 \
#       --seed 0 --steps 1200 --latent factored --text-weight $w | tail -1; done
# factored_no_kl.jsonl: the same without the KL term, text weight 1 and 50 (last row of each)
#   for w in 1 50; do OMP_NUM_THREADS=1 python experiments/instruction_isolation.py --every 1200 \
#       --seed 0 --steps 1200 --latent factored --text-weight $w --no-kl | tail -1; done
#   then text weight 1 on seeds 1 and 2 (the last two rows): --seed 1 / --seed 2, same flags
