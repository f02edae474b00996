#!/bin/bash
# Eighth session, calibration seed 100 (not a grid seed), MERLIN, one lane (one thread) beside one
# grid job: RepeatSymbol with today's defaults (512-wide decoders), then the learner candidates.
r() { name=$1; env=$2; shift 2; OMP_NUM_THREADS=1 merlin-rl train --agent merlin --no-progress --seed 100 --run-dir runs/calibration8/$name --overwrite --env merlin_rl/$env "$@"; }
r rs_def RepeatSymbol-v0 --total-steps 150000
r rs_advoff RepeatSymbol-v0 --total-steps 150000 --advantage-norm off
# after the first two (advantage normalisation off: 0.11 vs 0.05 at 150k, entropy falls slower)
r rs_ph128 RepeatSymbol-v0 --total-steps 150000 --policy-hidden 128
r rs_ph128_advoff RepeatSymbol-v0 --total-steps 150000 --policy-hidden 128 --advantage-norm off
r rs_mean_advoff RepeatSymbol-v0 --total-steps 150000 --policy-input mean --advantage-norm off
r rs_def_500k RepeatSymbol-v0 --total-steps 500000
# a sharper latent for the policy: the Discrete observation's likelihood weight
r rs_dw10 RepeatSymbol-v0 --total-steps 150000 --discrete-weight 10
# after the input probe (probe_input.py: a supervised LSTM of the policy's size recalls the symbol
# from the sampled z at 97%, from mu_q at 99.8%): the learner keeps the policy stochastic longer?
r rs_advoff_ent03 RepeatSymbol-v0 --total-steps 150000 --advantage-norm off --entropy-cost 0.03
r rs_advoff_ent05 RepeatSymbol-v0 --total-steps 150000 --advantage-norm off --entropy-cost 0.05
r rs_ent03 RepeatSymbol-v0 --total-steps 150000 --entropy-cost 0.03
# lag_probe.py on rs_def_500k: its actions match the symbol 3, 4 and 5 steps back 41%, 53%, 39%
# (a blurred delay line). GAE's tail (lambda 0.9) credits a_t with the next steps' rewards, and
# MERLIN's V(z_t, log pi_t) does not see the policy's memory, so it cannot remove that: shorter tails
r rs_lam05 RepeatSymbol-v0 --total-steps 150000 --lam 0.5
r rs_lam001 RepeatSymbol-v0 --total-steps 150000 --lam 0.01  # (0, 1]: ~TD(0)
# a learning rate that decays linearly to 0 at the end of the budget (new: --lr-schedule linear)
r rs_lrlin RepeatSymbol-v0 --total-steps 150000 --lr-schedule linear
