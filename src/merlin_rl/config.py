"""Configuration: one dataclass, two presets (DESIGN.md §3), validation with clear messages."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

AGENTS = ("merlin", "rl-mem", "rl-lstm")
DEVICES = ("cpu", "cuda", "auto")
DEFAULT_ENV = "merlin_rl/ColourMatch-v0"
ELBOS = ("balanced", "literal")
REWARD_NORMS = ("return-std", "off")
ADVANTAGE_NORMS = ("batch", "off")
POLICY_INPUTS = ("sample", "mean")
VALUE_INPUTS = ("sample", "mean")
BASELINES = ("mbp", "policy", "critic")
ENCODER_NORMS = ("none", "layer")
LATENTS = ("factored", "joint")
LATENT_INPUT_NORMS = ("none", "layer")  # mbp.MBP
PRIOR_GRADS = ("all", "kl")  # mbp.MBP.latent
POSTERIOR_FORMS = ("residual", "direct")  # mbp.MBP.latent
READ_TARGET_WEIGHTINGS = ("uniform", "surprise")  # learner.hindsight_read
VECTOR_SIGMAS = ("learned", "fixed")
REPLAY_VIEWS = ("acted", "current")
LR_SCHEDULES = ("constant", "linear")
ALLOCATIONS = ("usage", "usage-literal", "fifo")  # memory.ALLOCATIONS
MBP_CLIPS = ("global", "kind", "off")  # learner.Learner
IMAGE_DECODERS = ("auto", "mlp", "conv")  # encoders.ImageModality
IMAGE_OUTPUTS = ("sigmoid", "linear", "bernoulli")  # encoders.ImageModality
POLICY_BONUSES = ("entropy", "log-barrier", "entropy-floor")  # losses.POLICY_BONUSES
CREDIT_CUTS = ("off", "reward")
FUTURE_CVS = ("off", "a-head", "policy-q")  # learner.Learner._shaped_advantages
RETURN_INPUTS = ("z", "z+reads")
POLICY_SEES = ("z", "z+reads")
ABLATION_MBP_LRS = ("mbp", "policy")
POLICY_FILMS = ("off", "history")
IMAGE_CODES = ("categorical", "scaled")
DESYNCS = ("off", "cut")
READ_STRENGTH_MAX = 1e3  # --read-strength-init: beta * cosine in [-beta, beta]
# the settings that take one of a few names, and those names (the CLI offers them as choices)
CHOICES: dict[str, tuple[str, ...]] = {
    "agent": AGENTS,
    "device": DEVICES,
    "allocation": ALLOCATIONS,
    "reward_norm": REWARD_NORMS,
    "advantage_norm": ADVANTAGE_NORMS,
    "policy_input": POLICY_INPUTS,
    "encoder_norm": ENCODER_NORMS,
    "latent": LATENTS,
    "latent_input_norm": LATENT_INPUT_NORMS,
    "prior_grad": PRIOR_GRADS,
    "posterior_form": POSTERIOR_FORMS,
    "read_target_weighting": READ_TARGET_WEIGHTINGS,
    "vector_sigma": VECTOR_SIGMAS,
    "baseline": BASELINES,
    "value_input": VALUE_INPUTS,
    "lr_schedule": LR_SCHEDULES,
    "replay_view": REPLAY_VIEWS,
    "elbo": ELBOS,
    "mbp_clip": MBP_CLIPS,
    "image_decoder": IMAGE_DECODERS,
    "image_output": IMAGE_OUTPUTS,
    "policy_bonus": POLICY_BONUSES,
    "credit_cut": CREDIT_CUTS,
    "future_cv": FUTURE_CVS,
    "return_input": RETURN_INPUTS,
    "policy_film": POLICY_FILMS,
    "policy_sees": POLICY_SEES,
    "ablation_mbp_lr": ABLATION_MBP_LRS,
    "image_codes": IMAGE_CODES,
    "desync": DESYNCS,
}
# settings added after runs and checkpoints already existed, with the value that reproduces what
# those older runs did (a checkpoint or config.json without the key ran with this)
LEGACY_SETTINGS: dict[str, Any] = {
    "image_scale": 255.0,  # every uint8 image was divided by 255 (encoders.PIXEL_SCALE)
    "replay_view": "current",  # the replayed policy read what the current MBP recomputed
    "decoder_hidden": 0,  # the decoders were mlp_hidden wide
    "lr_schedule": "constant",  # both learning rates stayed at lr_mbp and lr_policy
    "policy_epochs": 0,  # the policy stepped only in the K joint epochs
    "target_kl": 0.0,  # no KL early stop
    "policy_input": "sample",  # the policy read the posterior sample z_t
    "lam_value": 0.0,  # the return heads' targets used lam
    "value_input": "sample",  # the advantages' baseline V_t was evaluated on the sample z_t
    "policy_minibatches": 0,  # the policy-only epochs used --minibatches
    "baseline": "mbp",  # the advantages' baseline was the MBP's V
    "policy_value_cost": 0.5,
    "encoder_norm": "none",  # each input kind's encoding entered e_t at its own scale
    "latent": "joint",  # one posterior over all inputs, every decoder reading all of z
    "vector_sigma": "fixed",  # vector inputs: squared error of weight 1 (a fixed Gaussian scale)
    "mbp_clip": "global",  # one gradient-norm clip over all the MBP's parameters
    "credit_cut": "off",  # the policy's GAE trace ran through rewarded steps
    "future_cv": "off",  # the later steps' TD errors entered an advantage as they were
    "return_input": "z",  # the return heads read z_t (and log pi_t or a_t) only
    "image_decoder": "auto",  # an MLP for images of at most 32 x 32, else the convolutional one
    "image_output": "sigmoid",  # the squared error of sigmoid(decoder output)
    "policy_bonus": "entropy",  # entropy_cost weighed the policy's entropy
    "policy_reads": 1,  # the policy read the memory with one key
    "policy_film": "off",  # the policy's head took z_t as it is
    "policy_sees": "z",  # the policy took z_t in, not the MBP's reads
    "image_codes": "scaled",  # an image of small codes was scored as pixels (codes / scale)
    "tvt_alpha": 0.0,  # no value transport
    "tvt_threshold": 2.0,
    "logsig_bound_cost": 0.0,  # the log sigmas drifted freely past their clamp's bounds
    "latent_input_norm": "none",  # the prior and posterior took their inputs as they were
    "prior_grad": "all",  # every MBP loss reached the prior through the posterior's residual
    "posterior_form": "residual",  # the posterior added the prior's parameters
    "read_target_cost": 0.0,  # the MBP's read keys learned from the ELBO and return loss alone
    "read_target_weighting": "uniform",
    "ablation_mbp_lr": "mbp",  # an ablation's MBP, trained by the RL losses alone, stepped at lr_mbp
    "desync": "off",  # the env copies started together (in step on tasks of fixed length)
}


class ConfigError(ValueError):
    """A configuration value is out of range; the message names it and what is allowed."""


# eval's default cap on each env copy's steps: an env that never ends stops there (--max-steps)
EVAL_MAX_STEPS = 100_000


@dataclass
class Config:
    # what to train
    env: str = DEFAULT_ENV
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    env_import: str = ""  # module(s) to import first, comma-separated (they register their envs)
    agent: str = "merlin"
    preset: str = "small"
    # budget and batching
    total_steps: int = 300_000
    num_envs: int = 32
    seed: int = 0
    device: str = "cpu"
    run_dir: str = ""
    async_envs: bool = False  # environments in subprocess workers (AsyncVectorEnv)
    compile: bool = False  # torch.compile the per-step cell (Agent.step); see docs/performance.md
    # "cut": each env copy's second episode is cut at a random step (acting.EnvLoop), so that the
    # copies of a task of fixed episode length stop running in step; "off": they start together
    # (the default before the forty-seventh session; docs/learning.md, forty-sixth and -seventh)
    desync: str = "cut"
    # model sizes
    z_dim: int = 32
    enc_dim: int = 64  # encoding size per observation modality
    # "layer": each input kind's encoding is layer-normalised (with a learned gain and bias) before
    # the encodings are joined into e_t, so that no kind enters the prior/posterior and the
    # policy at a far smaller scale than another (InstructedGoal's text encoding ended 20-60x
    # smaller than its image encoding); "none": the paper's plain concatenation
    encoder_norm: str = "none"
    # "joint": the paper's single posterior over all inputs; "factored": with two or more
    # observation kinds, z has one z_dim slice per kind, each with its own posterior and read by
    # that kind's decoder alone (mbp.MBP), so that a heavy image cannot crowd a small input out
    # of z (docs/learning.md: not the default by the sixteenth session's rule; the default since
    # the thirtieth, with discrete_weight 10, by session30/factored.sh's rule)
    latent: str = "factored"
    # what MERLIN's prior and posterior MLPs take in: each part as it is ("none", the paper's) or
    # "layer": each part layer-normalised first (each kind's encoding, h_{t-1}, m_{t-1} and the
    # prior's parameters; a_{t-1} and r_{t-1} as they are). With the parts at their own scales
    # the MLPs' tanh units saturate (MiniGrid: 100% of the direction posterior's units past
    # |0.99|, the memory reads' share of the pre-activations 150x the direction code's), and a
    # saturated posterior passes almost no gradient to learn from its input (docs/learning.md,
    # thirty-first session; the default since then, by session31/input_norm.sh's rule). The
    # ablations' deterministic z is unchanged.
    latent_input_norm: str = "layer"
    # what trains the prior's MLP: "all" (the paper's model as written: the posterior adds the
    # prior's [mu_p, log sigma_p] and reads them, so the reconstructions and the return loss
    # reach the prior through z as well as the KL) or "kl" (the posterior adds and reads a
    # stopgrad copy, so the prior learns only to predict the posterior: the KL term). The
    # thirty-seventh session found the trained prior's mean worse than a linear read of its own
    # inputs at predicting mu_q (docs/learning.md); under "kl" it predicts, but the agent learns
    # worse (WaterMaze 0.156 against 0.220), so "kl" failed its rule and stays an option.
    prior_grad: str = "all"
    # the posterior's form: "residual" (the paper's: f_post reads [mu_p, log sigma_p] and adds
    # them) or "direct" (Dreamer's RSSM: f_post reads e_t, h_{t-1} and m_{t-1} alone and gives
    # [mu_q, log sigma_q] as they are, so z is anchored by its own network and the prior, which
    # only the KL term then reaches, learns to predict it). Thirty-eighth session (docs/
    # learning.md): under "direct" the prior predicts (WaterMaze R^2 0.90) and mu_q stays near
    # zero (under "kl" it drifted), the suite's memory tasks hold, but ColourMatch reached 0.9 on
    # 2 of 3 seeds against 3 of 3, so "direct" failed its rule and stays an option.
    posterior_form: str = "residual"
    image_channels: int = 16
    mlp_hidden: int = 128  # prior, posterior, return heads, policy head (decoders: decoder_hidden)
    # hidden units of the MBP's decoders; 0 = mlp_hidden. 512: a 128-wide MLP image decoder could
    # not draw the suite's views (docs/learning.md, seventh session)
    decoder_hidden: int = 512
    # the image decoder: "auto" (an MLP, decoder_hidden wide, for images of at most 32 x 32
    # pixels; transposed convolutions for larger ones), or "mlp" / "conv" for every size
    # (encoders.ImageModality; eighteenth session: the MLP does not draw InstructedGoal's tiles)
    image_decoder: str = "auto"
    # what the image decoder's outputs are scored as: "linear" (the squared error of the output
    # itself: a Gaussian of fixed scale, whose gradient never vanishes; the reconstruction shown
    # is clipped to [0, 1]) or "sigmoid" (the squared error of sigmoid(output), before the
    # nineteenth session: a pixel whose logit has run far below 0 gets no gradient, so an object
    # the decoder did not learn to draw early is never drawn; docs/learning.md, nineteenth session)
    # or "bernoulli" (the pixels' cross-entropy under Bernoulli(sigmoid(output)): a bounded mean
    # whose gradient does not vanish; the default since the twentieth session, calibrated with
    # MERLIN alone, docs/learning.md; `--preset paper` keeps linear, DESIGN.md's Gaussian)
    image_output: str = "bernoulli"
    # integer images of small codes (MiniGrid's object, colour and state ids; the auto
    # --image-scale finds them): "scaled", the codes / scale scored as pixels by --image-output
    # (key 5 and ball 6 are neighbouring greys), or "categorical", each cell's and channel's code
    # one of scale + 1 classes, scored by cross-entropy (docs/learning.md, 26th session)
    image_codes: str = "scaled"
    mbp_hidden: int = 128  # each of the 2 MBP LSTM layers
    policy_hidden: int = 128  # each of the 2 policy LSTM layers (64 before the eleventh session)
    mbp_reads: int = 3  # K^r
    # the policy's read keys K~ (the paper's: 1). One key tells apart only the cues whose rows
    # it matches: a ColourMatch run read two of four colours' rows and mixed up the other two
    # (docs/learning.md, twenty-first session); more keys, more rows that can be told apart
    policy_reads: int = 1
    # how the policy's head takes z_t: as it is ("off", the paper's concatenation), or modulated
    # by what the policy remembers ("history": FiLM, z * (1 + gamma) + beta with [gamma, beta] a
    # linear map of [h~_t, m~_t]; Perez et al. 2018), so that a choice that matches a remembered
    # cue against the current view (ActiveVisualMatch, InstructedGoal, MiniGrid-Memory) is a
    # product of the two, not a conjunction the MLP must find (docs/learning.md, 26th session)
    policy_film: str = "off"
    # what the policy takes in beside its own read of the memory: "z" (the paper's: z_t alone), or
    # "z+reads": [z_t, m_{t-1}], the MBP's reads that step t's prior and posterior took in (a
    # departure from the paper: at ActiveVisualMatch's choice the cue's colour is in the MBP's
    # reads and not in z_t, the policy's h~ or its own read; docs/learning.md, twenty-seventh
    # session). stopgrad for MERLIN, as z_t. RL-LSTM, which has no memory, takes z_t alone.
    policy_sees: str = "z"
    memory_rows: int = 0  # N; 0 = auto: the env's declared episode length (<= 1024), else 64
    allocation: str = "usage"  # decaying usage; or "usage-literal" (the paper's rule), "fifo"
    # what the policy reads of z_t: the "mean" mu_q, or the "sample" (the paper's; the noise of the
    # units that carry nothing slows the policy's learning: docs/learning.md, eleventh session)
    policy_input: str = "mean"
    # the z_t that the advantages' baseline V_t(z_t, log pi_t) and the lambda-return targets are
    # evaluated on: the "sample" (the paper's; its noise is noise in every advantage) or "mean" mu_q
    value_input: str = "sample"
    # replay (K epochs): MERLIN's policy reads the z_t and memory it "acted" on, or the "current"
    # ones that the MBP, already moved by this update's earlier minibatches, recomputes
    replay_view: str = "current"
    read_strength_init: float = 5.0  # initial read strength beta = softplus(bias) of every key
    # learning
    tau: int = 20
    gamma: float = 0.96
    # lambda 0.5 helps per-step rewards (RepeatSymbol) but hurt WaterMaze: docs/learning.md
    lam: float = 0.9
    # lambda of the return heads' targets R_t = Adv_t(lam_value) + V_t; 0 = lam. A lower lam with
    # lam_value 0.9 shortens only the policy's credit tail (docs/learning.md, twelfth session)
    lam_value: float = 0.0
    # "reward": the policy's GAE trace stops at every step with a reward (Adv_t = delta_t there),
    # so an action's advantage takes in the TD errors only up to the next reward; the return
    # heads' lambda-return targets are unchanged (losses.gae; docs/learning.md, twenty-third
    # session). "off": the paper's GAE.
    credit_cut: str = "off"
    # "a-head": in the policy's advantage of a_t, each later step's TD error delta_{t+k} has that
    # step's own action advantage subtracted, A(z, a_{t+k}) - sum_a pi(a) A(z, a) from the MBP's A
    # head (a control variate of zero mean under pi, so the estimate stays unbiased): the noise of
    # later actions leaves a_t's credit, the credit through later states stays (lambda unchanged;
    # the return heads' targets unchanged; docs/learning.md, twenty-eighth session). "policy-q":
    # the same with A from the policy's own action-value head Q~(h~_t, a) = MLP([z_t, h~_t, m~_t]),
    # trained on the one-step targets r_t + gamma V_{t+1} at a_t (weight policy_value_cost), which
    # sees what the policy remembers (the MBP's A sees z_t alone). "off": GAE.
    future_cv: str = "off"
    # Temporal Value Transport (Hung et al. 2019; tvt.py), a departure from the MERLIN paper: a
    # strong MBP read of a row older than 1 / (1 - gamma) steps sends alpha x its weight x V of
    # the reading step to the policy's reward at the step that wrote the row (the return heads'
    # targets are unchanged). Inside one segment only, so it needs a --tau that spans the
    # episode. 0 = off; Hung et al.: 0.9. tvt_threshold: the read strength beta a read must pass
    tvt_alpha: float = 0.0
    tvt_threshold: float = 2.0
    lr_mbp: float = 3e-3
    lr_policy: float = 5e-4  # 2e-3 before policy_epochs 8 (tenth session, docs/learning.md)
    # "linear": both learning rates decay linearly to 0 at total_steps (CleanRL's and SB3's PPO
    # option); "constant": they stay at lr_mbp and lr_policy
    lr_schedule: str = "constant"
    # the learning rate of an ablation's MBP (RL-LSTM, RL-MEM: encoders, latent and return head,
    # trained by the RL losses alone): "policy" (lr_policy, the rate of the other parameters the
    # RL losses train; the default since the forty-fifth session by its pre-registered readings on
    # the suite and POPGym, docs/learning.md) or "mbp" (lr_mbp, as in every grid before; at it
    # RL-LSTM learned POPGym's tasks and then lost them). MERLIN's MBP, trained by its own
    # losses, always steps at lr_mbp.
    ablation_mbp_lr: str = "policy"
    adam_eps: float = 1e-6
    grad_clip: float = 20.0
    # how MERLIN's MBP gradient (the ELBO and the return heads) is clipped at grad_clip: "global"
    # (one norm over all its parameters, the paper's), "kind" (each observation kind's own
    # parameters, mbp.MBP.clip_groups, by their own norm, and the rest by theirs: a heavy image's
    # norm cannot shrink a rare input's step) or "off". The policy's optimiser, and both of an
    # ablation's (no ELBO), are clipped globally (docs/learning.md, eighteenth session)
    mbp_clip: str = "global"
    entropy_cost: float = 0.01
    # what entropy_cost weighs (losses.policy_bonus): the policy's "entropy" (the paper's), or
    # "log-barrier": -KL(uniform || pi), whose pull on an action does not vanish as the policy
    # stops taking it (a ColourMatch run that never chose one colour: docs/learning.md), or
    # "entropy-floor": the entropy plus that barrier on the actions below 0.01 / A only
    policy_bonus: str = "entropy"
    kl_weight: float = 1.0
    elbo: str = "balanced"  # KL balancing + free nats (losses.kl_objective); "literal": the paper's
    kl_free_nats: float = 1.0  # balanced ELBO: KL below this many nats per step costs nothing
    kl_balance: float = 0.8  # balanced ELBO: share of the KL gradient that trains the prior
    # weight of sum_d relu(x_d - 1)^2 + relu(-5 - x_d)^2 over the prior's and posterior's log
    # sigmas x before their clamp to (-5, 1) (mbp.logsig_excess): deep past a bound the clamp
    # passes almost no gradient (MiniGrid's `direction` slice: x ~ 5-7.5, 1-3% of it; docs/
    # learning.md, thirty-first session); 0 = off, the log sigmas drift freely past the bounds
    logsig_bound_cost: float = 0.0
    # weight of the hindsight read term (losses.hindsight_read_loss; MERLIN only), a departure
    # from the MERLIN paper: the MBP's first read key at t, whose read m_t the prior of z_{t+1}
    # takes in, is also trained to put its weight on the row of M_{t-1} whose z half is nearest
    # (cosine) to mu_q,t+1, the posterior's mean one step later. On MemoryGame that row is the
    # row written when the card turned up again was last face up 81-83% of the time, while the
    # MBP's own read puts less than a random row's weight there (docs/learning.md, fortieth
    # session). 0 = off
    read_target_cost: float = 0.0
    # which steps the term weighs: every one alike ("uniform"), or each by the surprise of the
    # step it looks ahead to, KL(q_{t+1} || p_{t+1}) over its mean in the minibatch ("surprise":
    # where the prior failed, the moments a fetched row could have told; on MemoryGame the uniform
    # term moved the read at re-flips only to a random row's share, fortieth session)
    read_target_weighting: str = "uniform"
    image_weight: float = 50.0  # on the per-image sum of squared pixel errors
    # divisor of integer (uint8) image inputs; 0 = auto: 255 for pixels, 2^k - 1 for small codes
    image_scale: float = 0.0
    vector_weight: float = 1.0
    # the Gaussian scale of each vector input dimension's likelihood: "learned" (a free log sigma
    # per dimension, at least 0.1: a calibrated decoder, so that a rare cue, e.g. a context shown
    # at step 0 only, costs far more to leave out of z than its share of the mean squared error
    # says; docs/learning.md, seventeenth session) or "fixed" (the squared error, sigma^2 = 1/2,
    # the default before); encoders.VectorModality
    vector_sigma: str = "learned"
    # the learned scale's floor: a dimension's weight 1 / (2 sigma^2) is at most 50 at 0.1 (what
    # the default image_weight puts on a pixel's squared error)
    vector_sigma_min: float = 0.1
    # 100 since the thirty-sixth session (1 before; session36/text_weight100.sh's rule): a token
    # input at weight 1 stays half out of z (benchmarks/latent.py: 0.52-0.57 of the way left;
    # 0.05-0.08 at 100), and RepeatSymbol read as one-token text learns faster at 100 (0.776
    # against 0.608 on seeds 101-103); the same weight as a Discrete input's, for the same reason
    text_weight: float = 100.0
    # 100 since the thirty-fourth session (10 since the thirtieth, 1 before): with the factored
    # latent, a Discrete input beside an image gets into z at 10 (ActiveVisualMatch's shown cue:
    # 0.03 nats; about ln 8 at weight 1 or under the joint latent); without an image, RepeatSymbol
    # learns faster at 100 (0.843 against 0.695 on fresh seeds; docs/learning.md)
    discrete_weight: float = 100.0
    action_weight: float = 1.0
    reward_weight: float = 1.0
    return_weight: float = 0.4
    # what the return heads read besides log pi_t / a_t: "z" (the paper's V(z_t, log pi_t)), or
    # "z+reads": z_t and the MBP's reads m_{t-1} that step t's prior and posterior took in (a
    # departure from the paper, as a diagnostic: KeyToDoor's reads carry the key and z does
    # not; docs/learning.md, twenty-third session). Needs memory (merlin, rl-mem).
    return_input: str = "z"
    # learner (learner.py): K epochs of replayed segments, minibatches over environments
    epochs: int = 3  # K; 1 with 1 minibatch is the paper's A2C update on one graph
    minibatches: int = 2  # minibatches over environments per epoch (at most one per env)
    # extra epochs of the policy alone on what it acted on (stored z_t and memory; no MBP pass),
    # the same minibatches and clipped ratio: cheap policy gradient steps (learner.replay_policy);
    # many small policy steps, as RecurrentPPO takes (calibrated: docs/learning.md, ninth and
    # tenth sessions)
    policy_epochs: int = 8
    # minibatches of environments in each policy-only epoch; 0 = --minibatches. More of them:
    # more, smaller policy steps for the same joint cost (RecurrentPPO takes ~4.5x as many policy
    # steps per env step as the defaults here)
    policy_minibatches: int = 0
    # the advantages' baseline: the MBP's V(z_t, log pi_t) (the paper's), or "policy": a value
    # head on the policy's own features [z_t, h~_t, m~_t] (RecurrentPPO's critic sees the
    # history; MERLIN's V sees z_t, which holds little of the past), trained by the policy's
    # optimiser with weight policy_value_cost; the MBP's return heads are trained as before.
    # "critic": the same head on [z_t, c~_t], c~_t the state of a critic LSTM of its own on z_t
    # (RecurrentPPO's separate critic LSTM), so that its regression does not move the policy.
    # "critic" since the thirty-sixth session (session35/critic_stage2.sh's rule: RepeatSymbol
    # 0.916 against 0.850 on six fresh seeds, the suite and POPGym within their bars; 17% fewer
    # env steps/s; "mbp" before; docs/learning.md)
    baseline: str = "critic"
    policy_value_cost: float = 0.5
    ppo_clip: float = 0.2  # PPO's clipped ratio on the policy term (inactive at K = 1)
    target_kl: float = 0.0  # stop a segment's epochs once approx KL(pi_old||pi) > 1.5x this; 0 off
    reward_norm: str = "return-std"  # rewards / running sqrt(E[G^2]) of discounted returns; "off"
    advantage_norm: str = "batch"  # advantages to zero mean, unit std per minibatch; "off"
    # bookkeeping
    log_interval: int = 10_000  # env steps between metrics rows
    checkpoint_interval: int = 100_000  # env steps between checkpoints
    keep_checkpoints: int = 3  # newest step_*.pt files kept
    max_nonfinite: int = 5  # non-finite updates in a row before the run stops
    tb_images_every: int = 200  # updates between TensorBoard reconstruction / read-map images

    def validate(self) -> "Config":
        """Raise ConfigError naming the first bad value and what is allowed."""
        _check_types(self)
        if not _is_json_table(self.env_kwargs):
            shown = repr(self.env_kwargs)
            raise ConfigError(
                "--env-kwargs must be a table of JSON values (strings, finite numbers, booleans, "
                "null, lists, and tables with string keys; at most "
                f"{JSON_DEPTH} levels deep), got {shown[:80] + ('...' if len(shown) > 80 else '')}"
            )
        if self.preset not in PRESETS:
            raise ConfigError(
                f"--preset {self.preset!r} is not known; allowed: {', '.join(PRESETS)}"
            )
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(
                    f"{_flag(name)} {value!r} is not known; allowed: {', '.join(allowed)}"
                )
        for name in (
            "epochs",
            "minibatches",
            "total_steps",
            "num_envs",
            "z_dim",
            "enc_dim",
            "image_channels",
            "mlp_hidden",
            "mbp_hidden",
            "policy_hidden",
            "mbp_reads",
            "policy_reads",
            "tau",
            "log_interval",
            "checkpoint_interval",
            "keep_checkpoints",
            "max_nonfinite",
            "tb_images_every",
        ):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ConfigError(f"{_flag(name)} must be a positive integer, got {v!r}")
        for name, zero in (
            ("memory_rows", "auto: the env's episode length"),
            ("decoder_hidden", "the same as --mlp-hidden"),
            ("policy_epochs", "none"),
            ("policy_minibatches", "the same as --minibatches"),
        ):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ConfigError(
                    f"{_flag(name)} must be a positive integer or 0 ({zero}), got {v!r}"
                )
        if (
            not isinstance(self.seed, int)
            or isinstance(self.seed, bool)
            or not 0 <= self.seed < 2**31
        ):
            raise ConfigError(f"--seed must be an integer in [0, 2**31), got {self.seed!r}")
        if self.tau > self.total_steps:
            raise ConfigError(
                f"--tau {self.tau} must not exceed --total-steps "
                f"{self.total_steps} (tau is the rollout length in env steps)"
            )
        for name in ("async_envs", "compile"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"{_flag(name)} must be true or false, got {getattr(self, name)!r}"
                )
        for name in ("gamma", "lam"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0.0 < v <= 1.0:
                raise ConfigError(f"{_flag(name)} must be in (0, 1], got {v!r}")
        if not isinstance(self.lam_value, (int, float)) or not 0.0 <= self.lam_value <= 1.0:
            raise ConfigError(
                f"--lam-value must be 0 (= --lam) or in (0, 1], got {self.lam_value!r}"
            )
        for name in (
            "ppo_clip",
            "lr_mbp",
            "lr_policy",
            "adam_eps",
            "grad_clip",
            "read_strength_init",
            "vector_sigma_min",
        ):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ConfigError(f"{_flag(name)} must be a positive finite number, got {v!r}")
        if self.read_strength_init > READ_STRENGTH_MAX:
            raise ConfigError(
                f"--read-strength-init must be at most {READ_STRENGTH_MAX:g} (the read over cosine "
                f"similarities is one-hot long before), got {self.read_strength_init!r}"
            )
        v = self.policy_value_cost
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
            raise ConfigError(f"--policy-value-cost must be a finite number >= 0, got {v!r}")
        if not isinstance(self.kl_balance, (int, float)) or not 0.0 < self.kl_balance < 1.0:
            raise ConfigError(f"--kl-balance must be in (0, 1), got {self.kl_balance!r}")
        for name in (
            "entropy_cost",
            "target_kl",
            "kl_weight",
            "kl_free_nats",
            "logsig_bound_cost",
            "read_target_cost",
            "image_weight",
            "image_scale",
            "vector_weight",
            "text_weight",
            "discrete_weight",
            "action_weight",
            "reward_weight",
            "return_weight",
        ):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ConfigError(f"{_flag(name)} must be a finite number >= 0, got {v!r}")
        v = self.tvt_alpha
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ConfigError(f"--tvt-alpha must be a finite number >= 0 (0 = off), got {v!r}")
        v = self.tvt_threshold
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(f"--tvt-threshold must be a finite number, got {v!r}")
        if self.tvt_alpha > 0 and self.agent == "rl-lstm":
            raise ConfigError(
                "--tvt-alpha needs the MBP's memory reads; allowed with --agent merlin or rl-mem"
            )
        if self.read_target_cost > 0 and self.tau < 2:
            raise ConfigError(
                "--read-target-cost pairs each step with the next one in its segment; allowed "
                f"with --tau >= 2, got --tau {self.tau}"
            )
        if self.return_input == "z+reads" and self.agent == "rl-lstm":
            raise ConfigError(
                "--return-input z+reads needs the MBP's memory reads; allowed with --agent "
                "merlin or rl-mem, got rl-lstm"
            )
        if self.future_cv == "policy-q" and self.baseline != "mbp":
            raise ConfigError(
                "--future-cv policy-q gives the policy's value head to Q~(a); allowed with "
                f"--baseline mbp, got --baseline {self.baseline}"
            )
        if not self.env:
            raise ConfigError("--env must name an environment id, got ''")
        if ":" in self.env:  # Gymnasium would import the module before the colon
            raise ConfigError(
                f"--env {self.env!r}: the 'module:id' form is not accepted (it "
                "imports code); use --env-import MODULE --env ID"
            )
        return self

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "Config":
        known = {f.name for f in dataclasses.fields(Config)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown config keys {unknown}; allowed: {sorted(known)}")
        return Config(**d)


AUTO_MEMORY_CAP = 1024  # most rows chosen automatically
AUTO_MEMORY_FALLBACK = 64  # rows when the env declares no episode length


def auto_memory_rows(episode_length: int | None) -> int:
    """N = the episode length (the paper's choice), capped at 1024; 64 when it is unknown."""
    if episode_length is None or episode_length <= 0:
        return AUTO_MEMORY_FALLBACK
    return min(int(episode_length), AUTO_MEMORY_CAP)


JSON_DEPTH = 32  # levels of nesting an env_kwargs table may have


def _is_json_table(value: Any) -> bool:
    """Whether ``value`` is a dict that config.json can record exactly: string keys, and values
    that are strings, finite numbers, booleans, None, lists (or tuples) and such dicts, to
    ``JSON_DEPTH`` levels (a YAML set, date or bytes is not)."""

    def ok(v: Any, depth: int) -> bool:
        if depth > JSON_DEPTH:
            return False
        if v is None or isinstance(v, (bool, str, int)):
            return True
        if isinstance(v, float):
            return math.isfinite(v)
        if isinstance(v, (list, tuple)):
            return all(ok(x, depth + 1) for x in v)
        if isinstance(v, dict):
            return all(isinstance(k, str) and ok(x, depth + 1) for k, x in v.items())
        return False

    return isinstance(value, dict) and ok(value, 1)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


# annotation -> (accepted Python types, words for the message)
_TYPES: dict[str, tuple[Any, str]] = {
    "int": (int, "an integer"),
    "float": ((int, float), "a number"),
    "str": (str, "a string"),
    "bool": (bool, "true or false"),
    "dict": (dict, "a JSON object"),
}


def _check_types(cfg: "Config") -> None:
    """Raise ConfigError for the first field whose value has the wrong type (every field of
    type int, float, str, bool or dict, so new fields are covered too)."""
    for f in dataclasses.fields(cfg):
        name = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        want = _TYPES.get(name.split("[")[0])
        if want is None:
            continue
        v = getattr(cfg, f.name)
        if not isinstance(v, want[0]) or (name != "bool" and isinstance(v, bool)):
            raise ConfigError(f"{_flag(f.name)} must be {want[1]}, got {v!r}")


# Values each preset sets; anything the user passes explicitly wins over the preset.
PRESETS: dict[str, dict[str, Any]] = {
    # Sized so the built-in task trains on a 2-core laptop CPU in minutes (docs/results.md).
    "small": {},
    # The paper's reference values (DESIGN §3); 64x64 images for the built-in tasks.
    "paper": dict(
        z_dim=200,
        enc_dim=256,
        image_channels=32,
        mlp_hidden=256,
        decoder_hidden=0,  # = mlp_hidden (64x64 images get the convolutional decoder anyway)
        mbp_hidden=256,
        policy_hidden=256,
        policy_input="sample",
        value_input="sample",
        image_output="linear",  # a Gaussian of fixed scale (DESIGN.md: "Gaussian/MSE on pixels")
        mbp_reads=3,
        memory_rows=1350,
        tau=20,
        gamma=0.96,
        lam=0.9,
        lr_mbp=2e-4,
        lr_policy=2e-4,
        entropy_cost=0.01,
        num_envs=16,
        read_strength_init=1.0,
        env_kwargs={"image_size": 64},
        # the paper's update and ELBO: one A2C step per segment, literal KL, no normalisation
        # (the forgetting usage allocation stays: the literal rule freezes a full memory)
        epochs=1,
        minibatches=1,
        policy_epochs=0,
        elbo="literal",
        vector_sigma="fixed",
        latent="joint",  # the paper's one posterior over all inputs
        latent_input_norm="none",  # the paper's MLPs read their inputs as they are
        discrete_weight=1.0,
        text_weight=1.0,
        baseline="mbp",  # the paper's V(z_t, log pi_t) as the advantages' baseline
        mbp_clip="global",  # DESIGN §2: gradient-norm clipping on both optimisers
        reward_norm="off",
        advantage_norm="off",
    ),
}


def make_config(preset: str = "small", **overrides: Any) -> Config:
    """Defaults, then the preset's values, then ``overrides`` (e.g. from the command line)."""
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ConfigError(f"--preset {preset!r} is not known; allowed: {', '.join(PRESETS)}")
    values: dict[str, Any] = dict(PRESETS[preset])
    values.update({k: v for k, v in overrides.items() if v is not None})
    if "env_kwargs" not in overrides and not str(values.get("env", DEFAULT_ENV)).startswith(
        "merlin_rl/"
    ):
        values.pop("env_kwargs", None)  # a preset's task settings only apply to built-in tasks
    values["preset"] = preset
    return Config.from_dict(values).validate()


def load_json(text: str) -> Any:
    """``json.loads`` that refuses an object giving a key twice (json keeps the last one
    silently). Raises ValueError with the reason."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ValueError(f"{key!r} is given twice; give each setting once")
            out[key] = value
        return out

    return json.loads(text, object_pairs_hook=unique)


def load_yaml(text: str) -> Any:
    """Plain YAML values (``yaml.safe_load``: no objects, no code) without anchors and aliases
    (``&a`` / ``*a``): a few nested aliases expand to a value of any size when printed ("billion
    laughs"), so a settings file may not use them. Raises ValueError with the reason."""
    import yaml

    class _NoAliases(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise ValueError(
                    f"line {mark.line + 1}: YAML aliases (*name) are not accepted in a "
                    "settings file; write the value out"
                )
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: {...}`: the parent merges
                    continue
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, Hashable):
                    continue  # the parent says so: "found unhashable key"
                if key in seen:
                    raise ValueError(
                        f"line {key_node.start_mark.line + 1}: {key!r} is given twice; give "
                        "each setting once"
                    )
                seen.add(key)
            return super().construct_mapping(node, deep)

    try:
        return yaml.load(text, Loader=_NoAliases)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as e:
        raise ValueError(" ".join(str(e).split())) from None
