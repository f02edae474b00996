"""experiments/cue_probe.py: the memory chain's counts (cue seen, drawn, read, used) on
untrained agents of each task it knows, and its colour test on hand-made pictures."""

from __future__ import annotations

import numpy as np
import pytest

from merlin_rl.envs.gridworld import FLOOR_TINTS, KEY_RGB, PALETTE
from scripts import load_script


def _probe_module():
    return load_script("experiments/cue_probe.py")


@pytest.mark.parametrize("baseline", ["mbp", "critic"])
def test_cue_probe_on_untrained_agents(baseline):
    """experiments/cue_probe.py runs the chain's counts on a fresh MERLIN: shares in [0, 1], the
    episodes that chose a square split into those that saw the cue and those that did not, and
    the uniform read share is the share of cue rows among the rows held; also for a run with
    --baseline critic, whose policy state carries the critic LSTM's layers too."""
    import torch

    from merlin_rl.agent import Agent
    from merlin_rl.config import make_config
    from merlin_rl.envs import make_vector_env

    mod = _probe_module()
    torch.manual_seed(0)
    cfg = make_config(
        "small", env=mod.TASK, num_envs=16, z_dim=8, enc_dim=16, image_channels=4,
        mlp_hidden=16, mbp_hidden=16, policy_hidden=16, memory_rows=80, baseline=baseline,
    )  # fmt: skip
    env = make_vector_env(cfg.env, 16, cfg.env_kwargs)
    agent = Agent(env.single_observation_space, env.single_action_space, cfg).eval()
    obs = np.zeros((4, 4, 3))
    obs[1:3, 1:3] = PALETTE[5] / 255
    assert mod.painted_colour(obs, obs, PALETTE[5] / 255) == 5  # a perfect drawing
    assert mod.painted_colour(obs, obs + 0.02, PALETTE[5] / 255) == 5
    other = np.where(obs.any(-1, keepdims=True), PALETTE[2] / 255, 0)
    assert mod.painted_colour(obs, other, PALETTE[5] / 255) == 2  # the square drawn wrong
    assert mod.painted_colour(obs, obs, PALETTE[1] / 255) is None  # not in view
    res = mod.probe(agent, env, seed=0)
    assert res["episodes"] == 16 and 0 < res["seen"] <= 1 and res["in_view_steps"] > 0
    assert 0 <= res["drawn"] <= 1
    assert res["chose_seen"] + res["chose_unseen"] <= 16
    assert abs(res["chose"] - (res["chose_seen"] + res["chose_unseen"]) / 16) < 1e-3
    assert 0 <= res["apples"] <= 4 and res["apples"] <= res["return"] <= res["apples"] + 5
    heads = [k.removeprefix("read_uniform_") for k in res if k.startswith("read_uniform_")]
    assert sorted(heads) == ["mbp1", "mbp2", "mbp3", "policy"]
    for h in heads:
        assert 0 <= res[f"read_{h}"] <= 1 and 0 < res[f"read_uniform_{h}"] <= 1
    assert 0 <= res["drawn_final"] <= 1 and res["final_square_views"] > 0  # the final room
    held = sorted(k for k in res if k.startswith("cue_in_"))  # None where too few saw the cue
    assert held == [f"cue_in_{n}_choice" for n in ("mbp_reads", "policy_h", "policy_read", "z")]
    assert all(res[k] is None or 0 <= res[k] <= 1 for k in held)
    # KeyToDoor: the key is the cue; fetching it is counted, and no door opens without it
    env = make_vector_env(mod.TASKS[1], 16, {})
    res = mod.probe(agent, env, seed=0)
    assert "match_seen" not in res and 0 <= res["drawn"] <= 1 and res["in_view_steps"] > 0
    key = np.zeros((4, 4, 3))
    key[1, 1:3] = np.array(KEY_RGB) / 255
    pair = np.stack([np.array(KEY_RGB), FLOOR_TINTS[0]]) / 255
    assert mod.painted_colour(key, key, key[1, 1], pair) == 0  # the key drawn
    blank = np.broadcast_to(FLOOR_TINTS[0] / 255, key.shape)
    assert mod.painted_colour(key, blank, key[1, 1], pair) == 1  # a floor where the key is
    assert 0 <= res["opened"] <= res["fetched"] <= 1
    assert res["fetched_when_seen"] is None or res["fetched"] <= res["seen"]
    assert any(k.startswith("tvt_key_") for k in res)  # what value transport would send
    # WaterMaze: finds per step searched, before and after the first find
    env = make_vector_env(mod.TASKS[3], 16, {})
    cfg = make_config("small", env=mod.TASKS[3], num_envs=16, z_dim=8, enc_dim=16,
                      image_channels=4, mlp_hidden=16, mbp_hidden=16, policy_hidden=16)  # fmt: skip
    agent3 = Agent(env.single_observation_space, env.single_action_space, cfg).eval()
    res = mod.platform_probe(agent3, env, seed=0)
    assert res["episodes"] == 16 and 0 <= res["episodes_with_a_find"] <= 1
    assert res["steps_per_first_find"] is None or res["steps_per_first_find"] >= 1
    # InstructedGoal: the instruction at step 0 is the cue; a fresh decoder knows nothing of it
    env = make_vector_env(mod.TASKS[2], 16, {})
    cfg = make_config("small", env=mod.TASKS[2], num_envs=16, z_dim=8, enc_dim=16,
                      image_channels=4, mlp_hidden=16, mbp_hidden=16, policy_hidden=16)  # fmt: skip
    agent = Agent(env.single_observation_space, env.single_action_space, cfg).eval()
    res = mod.instruction_probe(agent, env, seed=0)
    assert res["drawn_nll"] > 2.0 and 0 <= res["used"] <= 1
    assert 0 <= res["read_policy"] <= 1 and 0 < res["read_uniform_policy"] <= 1


def test_find_rates_agree_for_a_memoryless_searcher_and_not_for_one_that_recalls():
    mod = _probe_module()
    rng = np.random.default_rng(0)
    finds = rng.random((4000, 200)) < 0.02  # a find with probability 0.02 at every step
    first, later = mod.find_rates(finds)
    assert abs(first - 0.02) < 0.002 and abs(later - 0.02) < 0.002
    recall = np.zeros((2, 20), bool)
    recall[:, [9, 11, 13, 15]] = True  # 10 steps to the first find, then 3 in the 10 left
    assert mod.find_rates(recall) == (0.1, 0.3)
    assert np.isnan(mod.find_rates(np.zeros((3, 5), bool))[1])


def test_key_gaps_compare_value_and_return_between_key_and_no_key_episodes():
    mod = _probe_module()
    # two episodes of 4 steps: phase 0 for steps 0-1, 1 for step 2, 2 for step 3
    phases = np.array([[0, 0, 1, 2], [0, 0, 1, 2]])
    rewards = np.array([[0.0, 0.0, 0.0, 5.0], [0.0, 0.0, 0.0, 0.0]])  # the key episode opens
    values = np.array([[0.0, 1.0, 2.0, 4.0], [0.0, 0.5, 0.5, 1.0]])
    gaps = mod.key_gaps(values, rewards, phases, np.array([True, False]), gamma=0.5)
    assert gaps["value_gap_end0"] == 0.5 and gaps["value_gap_start1"] == 1.5
    assert gaps["value_gap_start2"] == 3.0 and gaps["return_gap_start2"] == 5.0
    assert gaps["return_gap_start1"] == 2.5 and gaps["return_gap_end0"] == 1.25
    # with lam: the lambda-returns on these V, G_t = r_t + gamma ((1 - lam) V_{t+1} + lam G_{t+1})
    gaps = mod.key_gaps(values, rewards, phases, np.array([True, False]), gamma=0.5, lam=0.5)
    assert gaps["target_gap_start2"] == 5.0  # the last step: its reward alone
    g_key = 0.0 + 0.5 * (0.5 * 4.0 + 0.5 * 5.0)  # step 2 of the key episode: 2.25
    g_not = 0.0 + 0.5 * (0.5 * 1.0 + 0.5 * 0.0)  # of the other: 0.25
    assert gaps["target_gap_start1"] == g_key - g_not
    assert gaps["value_sd_phase0"] == np.concatenate([values[:, :2]]).std().round(3)
    assert -1 <= gaps["value_target_corr_phase0"] <= 1 and "value_sd_phase2" not in gaps
    assert "target_gap_start1" not in mod.key_gaps(
        values, rewards, phases, np.array([True, False]), 0.5
    )
    # an episode that ended before the door phase counts only where it has steps
    phases[1, 3] = -1
    gaps = mod.key_gaps(values, rewards, phases, np.array([True, False]), gamma=0.5)
    assert "value_gap_start2" not in gaps and "value_gap_start1" in gaps


def test_linear_probe_finds_a_linear_label_and_not_a_random_one():
    mod = _probe_module()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 8)).astype(np.float32)
    assert mod.linear_probe(x, x[:, 3] + 0.5 * x[:, 5] > 0.3) > 0.95
    assert abs(mod.linear_probe(x, rng.random(400) < 0.3) - 0.5) < 0.1
    assert mod.linear_probe(x, np.zeros(400, bool)) is None  # one class only


def test_class_probe_finds_a_linear_class_and_not_a_random_one():
    mod = _probe_module()
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 600)
    x = rng.normal(size=(600, 8)).astype(np.float32)
    x[:, :5] += 3 * np.eye(5)[y]  # each class a direction
    assert mod.class_probe(x, y) > 0.9
    assert abs(mod.class_probe(x, rng.integers(0, 5, 600)) - 0.2) < 0.1  # chance 1 / 5
    assert mod.class_probe(x, np.zeros(600, int)) is None  # one class only
    y[-1] = 7  # a class the fit never saw
    assert mod.class_probe(x, y) is None


def test_key_fit_finds_rows_a_linear_key_can_and_not_random_ones():
    """Rows hold a random code per class; the target rows carry x's class: a linear key from x
    finds one (top row) on held-out episodes nearly always, a constant key (the content-free
    control) about as often as a random written row; for random targets neither beats their
    share; and targets that differ from the other rows in content alone (an "age" offset) are
    found by the constant key too, which is what the control is for."""
    mod = _probe_module()
    rng = np.random.default_rng(0)
    n, rows, width, classes = 600, 12, 16, 6
    codes = rng.normal(size=(classes, width))
    y = rng.integers(0, classes, n)
    x = np.eye(classes)[y] + 0.3 * rng.normal(size=(n, classes))
    episode = np.repeat(np.arange(60), 10)  # 10 reads an episode
    row_class = rng.integers(0, classes, (n, rows))
    row_class[:, 0] = y  # every read has a target row
    m = codes[row_class] + 0.3 * rng.normal(size=(n, rows, width))
    written = rng.random((n, rows)) < 0.8
    written[:, 0] = True
    target = row_class == y[:, None]
    hit, share = mod.key_fit(x, m, written, target, episode)
    assert hit > 0.9 and share < 0.35
    control, _ = mod.key_fit(np.zeros((n, 1)), m, written, target, episode)
    assert control < share + 0.1
    noise = rng.random((n, rows)) < 0.2  # targets that nothing in x or the rows tells apart
    noise[np.arange(n), rng.integers(0, rows, n)] = True
    written |= noise
    hit, share = mod.key_fit(x, m, written, noise, episode)
    assert abs(hit - share) < 0.1
    aged = m.copy()
    aged[:, :2] += 2.0  # the two targets stand out by content alone
    first_two = np.zeros((n, rows), bool)
    first_two[:, :2] = True
    control, share = mod.key_fit(np.zeros((n, 1)), aged, written, first_two, episode)
    assert control > 0.9 and share < 0.3
    assert mod.key_fit(x[:10], m[:10], written[:10], target[:10], episode[:10]) is None  # 1 episode


def test_rows_showing_against_a_loop():
    from types import SimpleNamespace

    import torch

    mod = _probe_module()
    rng = np.random.default_rng(1)
    b, n, steps, cells, t = 3, 5, 9, 4, 6
    shown = rng.random((b, steps + 1, cells)) < 0.5
    write_step = torch.as_tensor(rng.integers(0, steps, (b, n)))  # 0 also where never written
    cell = rng.integers(0, cells, b)
    got = mod.rows_showing(SimpleNamespace(write_step=write_step), shown, t, cell)
    for i in range(b):
        for j in range(n):
            s = min(int(write_step[i, j]), t)
            assert got[i, j] == shown[i, s, cell[i]]


def test_value_fit_finds_the_gap_a_feature_carries_and_not_one_it_lacks():
    """A ridge regression on a feature that holds "fetched" recovers the targets' gap between the
    groups on held-out episodes (and a constant V shows none); on noise alone it finds none."""
    mod = _probe_module()
    rng = np.random.default_rng(0)
    n = 2000
    fetched = rng.random(n) < 0.4
    target = 2.0 * fetched + rng.normal(size=n)  # a door opened: about 2 more with the key
    first = np.arange(n) % 5 == 0  # each "episode" has 5 door steps, the first marked
    train = np.arange(n) < n // 2
    noise = rng.normal(size=(n, 6))
    carries = np.concatenate([noise, fetched[:, None] + 0.1 * rng.normal(size=(n, 1))], 1)
    out = mod.value_fit(
        {"carries": carries, "noise": noise}, target, np.full(n, 0.8), fetched, first, train
    )
    assert abs(out["fit_gap_carries"] - 2.0) < 0.3 and out["fit_r2_carries"] > 0.4
    assert abs(out["fit_gap_noise"]) < 0.3 and out["fit_r2_noise"] < 0.05
    assert out["fit_gap_value"] == 0.0 and out["fit_r2_value"] < 0
    assert abs(out["fit_gap_target"] - 2.0) < 0.3
    # the ridge itself: a linear target is recovered exactly on held-out rows
    x = rng.normal(size=(300, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 3.0
    pred = mod.ridge_fit(x, y, np.arange(300) < 150, ridge=1e-6)
    assert np.allclose(pred[150:], y[150:], atol=1e-4)


def test_episode_returns_cut_at_segment_starts_bootstrap_from_v():
    """With ``starts`` the lambda-return stops at a segment's last step and takes V there, as
    the learner's targets do; without, it runs over the whole episode."""
    mod = _probe_module()
    phases = np.zeros((1, 4), int)
    rewards = np.array([[1.0, 0.0, 0.0, 4.0]])
    values = np.array([[0.5, 1.0, 2.0, 3.0]])
    g, lam = 0.5, 0.5
    _, whole = mod.episode_returns(values, rewards, phases, g, lam)
    starts = np.array([[True, False, True, False]])  # segments [0, 1] and [2, 3]
    _, cut = mod.episode_returns(values, rewards, phases, g, lam, starts)
    assert cut[0, 3] == whole[0, 3] == 4.0 and cut[0, 2] == whole[0, 2]
    assert cut[0, 1] == 0.0 + g * values[0, 2]  # the segment's last step: r + gamma V
    assert cut[0, 0] == 1.0 + g * ((1 - lam) * values[0, 1] + lam * cut[0, 1])
    assert whole[0, 1] != cut[0, 1]


def _kd_stepper(**settings):
    """cue_probe's module, a tiny untrained MERLIN on KeyToDoor (4 envs) and its stepper."""
    import torch

    from merlin_rl.agent import Agent
    from merlin_rl.config import make_config
    from merlin_rl.envs import make_vector_env

    mod = _probe_module()
    torch.manual_seed(0)
    cfg = make_config(
        "small", env=mod.TASKS[1], num_envs=4, z_dim=8, enc_dim=16, image_channels=4,
        mlp_hidden=16, mbp_hidden=16, policy_hidden=16, **settings,
    )  # fmt: skip
    env = make_vector_env(cfg.env, 4, cfg.env_kwargs)
    agent = Agent(env.single_observation_space, env.single_action_space, cfg).eval()
    return mod, agent, mod._Stepper(agent, env, 0)


def test_recomputed_read_strengths_are_the_ones_the_step_used():
    """cue_probe's read strengths for a checkpoint trained without --tvt-alpha (recomputed from
    the MBP LSTM's input) equal those Agent.step records with it."""
    import dataclasses

    import torch

    mod, agent, stepper = _kd_stepper(tvt_alpha=0.9)
    with torch.no_grad():
        for _ in range(3):
            before = stepper.state
            _, out = stepper.act()
            recorded = out.mbp_strengths
            again = mod._mbp_strengths(agent, before, dataclasses.replace(out, mbp_strengths=None))
            torch.testing.assert_close(again, recorded)
            stepper.advance(out)


@pytest.mark.parametrize("baseline", ["mbp", "critic"])
def test_recomputed_policy_read_strengths_give_the_policys_read_weights(baseline):
    """cue_probe's strengths of the policy's reads (recomputed from its LSTM's input) read the
    memory with the weights the policy's step read it with (with --baseline critic too, whose
    critic LSTM's outputs the reads never see)."""
    import torch

    from merlin_rl import memory as mem_ops

    mod, agent, stepper = _kd_stepper(read_strength_init=3.0, baseline=baseline)
    pol = agent.policy
    with torch.no_grad():
        for t in range(5):
            before = stepper.state
            memory, out = stepper.act()
            beta = mod._policy_strengths(agent, before, out, memory)
            z_pol, _ = agent.policy_inputs(out.z, out.dist, out.reads, memory)
            h_cat = pol.core(z_pol, before.pol_h, before.pol_c)[0][:, : pol.lstm.out_dim]
            keys = pol.interface(h_cat).view(4, pol.reads, pol.mem_width + 1)[..., :-1]
            if t >= 2:  # two rows or more written: the weights depend on beta
                torch.testing.assert_close(mem_ops.read(memory, keys, beta)[1], out.policy_weights)
                wrong = mem_ops.read(memory, keys, beta * 2)[1]
                assert not torch.allclose(wrong, out.policy_weights)
            stepper.advance(out)


def _count_cards(player: str, episodes: int = 128) -> dict:
    """CardCounter over scripted MemoryGame players (experiments/memory_ceilings.py)."""
    ceilings = load_script("experiments/memory_ceilings.py")
    return ceilings.play_memory_game(player, episodes, 0)["cards"]


def test_card_counter_tells_a_perfect_memory_from_the_view_alone():
    """A perfect memory matches every second flip whose twin it has seen and re-opens a seen
    card only as half of a seen pair; the view-only player matches those no more often than a
    random pick would, and re-opens seen cards whose twin it has not seen."""
    memory, view = _count_cards("memory"), _count_cards("no-memory")
    assert memory["pairs_per_episode"] == 6.0 and memory["noop_flips_per_episode"] == 0
    assert memory["match_twin_seen"] == 1.0 and memory["second_flips_twin_seen"] > 0
    # it opens on a seen card only when it knows that card's twin too
    assert memory["first_flips_on_seen_cards"] == memory["first_flips_on_a_seen_pair"] > 0
    chance = view["match_twin_seen_by_chance"]
    assert 0.05 < chance < 0.3 and view["match_twin_seen"] <= chance
    assert view["first_flips_on_seen_cards"] > view["first_flips_on_a_seen_pair"]
    assert view["pairs_per_episode"] < 2


def test_cards_probe_on_an_untrained_agent():
    import torch

    from merlin_rl.agent import Agent
    from merlin_rl.config import make_config
    from merlin_rl.envs import make_vector_env

    mod = _probe_module()
    torch.manual_seed(0)
    cfg = make_config("small", env=mod.TASKS[4], num_envs=8, z_dim=8, enc_dim=16,
                      image_channels=4, mlp_hidden=16, mbp_hidden=16, policy_hidden=16)  # fmt: skip
    env = make_vector_env(cfg.env, 8, cfg.env_kwargs)
    agent = Agent(env.single_observation_space, env.single_action_space, cfg).eval()
    res = mod.cards_probe(agent, env, seed=0)
    assert res["episodes"] == 8 and 0 <= res["pairs_per_episode"] <= 6
    shares = ("match", "first", "cell_in_", "twin_", "face_in_", "reflipped_face_in_")
    assert all(res[k] is None or 0 <= res[k] <= 1 for k in res if k.startswith(shares))
    cells = sorted(k.removeprefix("cell_in_") for k in res if k.startswith("cell_in_"))
    assert cells == ["mbp_h", "mbp_reads", "policy_h", "view", "z"]
    rows = sorted(k for k in res if "_row" in k)
    assert rows == [
        "reflipped_row_by_constant_key",
        "reflipped_row_by_fitted_key",
        "reflipped_row_by_mbp_read",
        "reflipped_row_by_next_z_key",
        "reflipped_row_by_z_key",
        "reflipped_rows_share",
        "reflipped_rows_share_held_out",
        "reflipped_rows_weight_by_mbp_read",
        "twin_row_by_constant_key",
        "twin_row_by_fitted_key",
        "twin_row_by_policy_read",
        "twin_row_by_z_key",
        "twin_rows_share",
        "twin_rows_share_held_out",
        "twin_rows_weight_by_policy_read",
    ]
    for name in ("mbp", "policy"):
        assert res[f"{name}_read_age_median"] >= 0
        assert 0 <= res[f"{name}_read_last_two_steps"] <= 1


def test_hindsight_tops_against_a_loop():
    """cue_probe._hindsight_tops: for each live env, whether the written row whose z half is
    nearest the key in cosine is a target row."""
    import torch

    mod = _probe_module()
    rng = np.random.default_rng(0)
    b, n, zd = 16, 7, 3
    rows = rng.standard_normal((b, n, 2 * zd)).astype(np.float32)
    written = rng.random((b, n)) < 0.7
    written[:, 0] = True
    target = rng.random((b, n)) < 0.3
    live = rng.random(b) < 0.8
    key = torch.as_tensor(rng.standard_normal((b, zd)).astype(np.float32))
    envs, hits = mod._hindsight_tops(key, rows, written, target, live)
    assert envs.tolist() == np.nonzero(live)[0].tolist()
    for i, hit in zip(envs, hits):
        k = key[i].numpy()
        cos = {
            j: rows[i, j, :zd] @ k / (np.linalg.norm(rows[i, j, :zd]) * np.linalg.norm(k))
            for j in range(n)
            if written[i, j]
        }
        assert hit == target[i, max(cos, key=cos.get)]


def test_turn_state_against_a_loop():
    """cue_probe.turn_state on random MemoryGame play, against a loop over copies and cells: a
    shown mismatch counts as face down, and the twin is the seen face-down card with the up
    card's face."""
    from merlin_rl.envs.memory_game import FACE_DOWN, FACE_UP, MemoryGameCore

    mod = _probe_module()
    core = MemoryGameCore(32)
    core.rng.seed(np.arange(32))
    core.reset(np.ones(32, bool))
    rng = np.random.default_rng(1)
    cases = {"shown mismatch": 0, "twin seen": 0}
    for _ in range(40):
        core.step(rng.choice(5, size=32, p=[0.15, 0.15, 0.15, 0.15, 0.4]), np.ones(32, bool))
        seen = rng.random((32, core.cells)) < 0.5
        up, down, here, known, twin = mod.turn_state(core, seen)
        for i in range(32):
            ups = [c for c in range(core.cells) if core.status[i, c] == FACE_UP]
            open_card = ups[0] if len(ups) == 1 else None  # two up: a mismatch being shown
            for c in range(core.cells):
                assert up[i, c] == (c == open_card)
                assert down[i, c] == (core.status[i, c] == FACE_DOWN or len(ups) == 2 and c in ups)
            assert here[i] == core.row[i] * core.cols + core.col[i]
            twins = [
                c
                for c in range(core.cells)
                if open_card is not None
                and down[i, c]
                and seen[i, c]
                and core.face[i, c] == core.face[i, open_card]
            ]
            assert known[i] == bool(twins)
            if twins:
                assert twin[i] == twins[0]
            cases["shown mismatch"] += len(ups) == 2
            cases["twin seen"] += bool(twins)
    assert min(cases.values()) > 10, cases  # both cases were checked
