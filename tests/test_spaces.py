"""Observation spaces beyond the built-in task: CHW and float images, Tuple, third-party envs
registered through --env-import, and clear errors for unsupported spaces."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from merlin_rl.agent import Agent
from merlin_rl.cli import main as cli_main
from merlin_rl.config import make_config
from merlin_rl.encoders import (
    ObservationCodec,
    UnsupportedSpaceError,
    auto_image_scale,
    integer_image_keys,
    integer_image_max,
)

torch.set_num_threads(1)
CFG = make_config(
    "small",
    z_dim=8,
    enc_dim=16,
    image_channels=4,
    mlp_hidden=16,
    mbp_hidden=16,
    policy_hidden=16,
    memory_rows=6,
)


def _run(space: gym.Space, steps: int = 3, b: int = 2):
    agent = Agent(space, gym.spaces.Discrete(3), CFG)
    state = agent.initial_state(b)
    batch = gym.vector.utils.batch_space(space, b)
    batch.seed(0)
    outs = []
    for _ in range(steps):
        obs = agent.mbp.codec.to_tensors(batch.sample(), torch.device("cpu"))
        out, state = agent.step(obs, state)
        outs.append(out)
    pred = agent.evaluate(outs)
    assert all(torch.isfinite(v).all() for v in pred.recon.values())
    return agent, outs


@pytest.mark.parametrize(
    "shape,dtype,high,first",
    [
        ((8, 8, 3), np.uint8, 255, False),
        ((3, 8, 8), np.uint8, 255, True),
        ((8, 8, 1), np.float32, 1.0, False),
        ((4, 10, 12), np.float32, 255.0, True),
    ],
)
def test_image_layouts(shape, dtype, high, first):
    space = gym.spaces.Box(0, high, shape, dtype)
    agent, outs = _run(space)
    m = agent.mbp.codec.modality("obs")
    assert m.kind == "image" and m.channels_first == first
    c = shape[0] if first else shape[-1]
    assert outs[0].obs["obs"].shape[1] == c  # tensors are (B, C, H, W)
    assert 0.0 <= float(outs[0].obs["obs"].min()) and float(outs[0].obs["obs"].max()) <= 1.0


@pytest.mark.parametrize(
    "values_max,scale",
    [(0, 255.0), (1, 1.0), (3, 3.0), (6, 7.0), (10, 15.0), (31, 31.0), (32, 255.0), (255, 255.0)],
)
def test_auto_image_scale(values_max, scale):
    assert auto_image_scale(values_max) == scale


def test_image_scale_divides_integer_images_only():
    space = gym.spaces.Dict(
        {
            "grid": gym.spaces.Box(0, 255, (4, 4, 3), np.uint8),
            "camera": gym.spaces.Box(0.0, 1.0, (4, 4, 3), np.float32),
        }
    )
    obs = {"grid": np.full((2, 4, 4, 3), 7, np.uint8), "camera": np.full((2, 4, 4, 3), 0.5)}
    assert integer_image_keys(space) == ["grid"] and integer_image_max(space, obs) == 7.0
    for image_scale, grid in ((7.0, 1.0), (0.0, 7 / 255)):  # 0 = 255, as before the setting
        t = ObservationCodec(space, 4, 8, image_scale).to_tensors(obs, torch.device("cpu"))
        np.testing.assert_allclose(t["grid"].numpy(), grid, rtol=1e-6)
        np.testing.assert_allclose(t["camera"].numpy(), 0.5, rtol=1e-6)
    assert integer_image_keys(gym.spaces.Discrete(3)) == []
    assert integer_image_max(gym.spaces.Discrete(3), np.zeros(2)) == 0.0


def test_tuple_observations():
    space = gym.spaces.Tuple((gym.spaces.Box(-1, 1, (4,), np.float32), gym.spaces.Discrete(5)))
    agent, outs = _run(space)
    assert [k for k, _ in agent.mbp.codec.items()] == ["0", "1"]
    assert set(agent.evaluate(outs).recon) == {"vector:0", "discrete:1", "action", "reward"}


def test_unsupported_space_names_it():
    with pytest.raises(UnsupportedSpaceError, match="Graph"):
        Agent(gym.spaces.Graph(gym.spaces.Box(0, 1, (2,)), None), gym.spaces.Discrete(2), CFG)
    with pytest.raises(UnsupportedSpaceError, match="Box"):
        Agent(gym.spaces.Box(0, 1, (2, 3, 5, 7), np.float32), gym.spaces.Discrete(2), CFG)


MODULE = """
import gymnasium as gym
import numpy as np


class Corridor(gym.Env):
    observation_space = gym.spaces.Tuple((gym.spaces.Box(0, 255, (3, 6, 6), np.uint8),
                                          gym.spaces.Discrete(4)))
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def _obs(self):
        return (np.full((3, 6, 6), 40 * self.t, np.uint8), self.t)

    def step(self, action):
        self.t += 1
        return self._obs(), float(action), self.t >= 3, False, {}


gym.register(id="thirdparty/Corridor-v0", entry_point=Corridor)
"""


def test_env_import_registers_third_party_env(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_envs_pkg.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    rc = cli_main(
        [
            "train",
            "--env",
            "thirdparty/Corridor-v0",
            "--env-import",
            "my_envs_pkg",
            "--total-steps",
            "40",
            "--num-envs",
            "2",
            "--tau",
            "4",
            "--z-dim",
            "8",
            "--mbp-hidden",
            "16",
            "--policy-hidden",
            "16",
            "--mlp-hidden",
            "16",
            "--enc-dim",
            "16",
            "--image-channels",
            "4",
            "--memory-rows",
            "8",
            "--run-dir",
            str(tmp_path / "run"),
            "--no-progress",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    rc = cli_main(
        [
            "eval",
            "--checkpoint",
            str(tmp_path / "run" / "checkpoints" / "final.pt"),
            "--episodes",
            "2",
        ]
    )
    assert rc == 0


def test_env_import_failure_is_one_line(tmp_path, capsys):
    rc = cli_main(["train", "--env-import", "no_such_module_xyz", "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "no_such_module_xyz" in err and err.count("\n") == 0


# ---- MultiDiscrete, classic control, strings (gymnasium.spaces.Text) ----------------------------


def test_multidiscrete_observations_are_token_ids():
    space = gym.spaces.MultiDiscrete([5, 5, 7])
    agent, outs = _run(space)
    m = agent.mbp.codec.modality("obs")
    assert m.kind == "text" and (m.vocab, m.length) == (7, 3)
    assert outs[0].obs["obs"].dtype == torch.int64 and outs[0].obs["obs"].shape == (2, 3)
    assert "text:obs" in agent.evaluate(outs).recon
    with pytest.raises(UnsupportedSpaceError, match="start"):
        Agent(gym.spaces.MultiDiscrete([3, 3], start=[1, 1]), gym.spaces.Discrete(2), CFG)


def test_matrix_float_observations_are_a_flattened_vector():
    space = gym.spaces.Dict({"m": gym.spaces.Box(-1, 1, (3, 4), np.float32)})
    agent, outs = _run(space)
    m = agent.mbp.codec.modality("m")
    assert m.kind == "vector" and m.dim == 12 and outs[0].obs["m"].shape == (2, 12)
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    flat = m.to_tensor(x, torch.device("cpu"))
    assert torch.equal(flat, torch.from_numpy(x.reshape(2, 12)))  # row-major, batch kept
    assert "vector:m" in agent.evaluate(outs).recon
    with pytest.raises(UnsupportedSpaceError, match="at most"):
        Agent(gym.spaces.Box(0, 1, (300, 300), np.float32), gym.spaces.Discrete(2), CFG)


def _text_reference(enc, tokens: torch.Tensor) -> torch.Tensor:
    """The text encoding row by row: the LSTM run over the tokens up to the last non-zero one."""
    rows = []
    for row in tokens:
        nonzero = [i for i, t in enumerate(row.tolist()) if t != 0]
        upto = (nonzero[-1] if nonzero else 0) + 1
        out, _ = enc.lstm(enc.embed(row[:upto][None]))
        rows.append(out[0, -1])
    return torch.stack(rows)


def test_token_encoder_reads_every_position_up_to_the_last_token():
    """A zero (padding id) before the last token no longer hides what follows it: [0, 3] and
    [0, 1] (a MultiDiscrete's categories) encode differently (before: both read position 0 only)."""
    from merlin_rl.encoders import TextEncoder

    torch.manual_seed(0)
    enc = TextEncoder(vocab=5, length=4, out_dim=6)
    tokens = torch.tensor(
        [
            [0, 3, 0, 0],
            [0, 1, 0, 0],
            [2, 0, 1, 0],
            [2, 0, 3, 0],
            [2, 4, 1, 0],
            [0, 0, 0, 0],
            [0, 0, 0, 4],
            [1, 2, 3, 4],
        ]
    )
    got = enc(tokens)
    assert torch.allclose(got, _text_reference(enc, tokens), atol=1e-6)
    assert not torch.allclose(got[0], got[1]) and not torch.allclose(got[2], got[3])


def test_multibinary_observations_are_a_vector():
    space = gym.spaces.Dict({"bits": gym.spaces.MultiBinary(5), "s": gym.spaces.Discrete(3)})
    agent, outs = _run(space)
    m = agent.mbp.codec.modality("bits")
    assert m.kind == "vector" and m.dim == 5
    assert outs[0].obs["bits"].dtype == torch.float32 and outs[0].obs["bits"].shape == (2, 5)
    assert "vector:bits" in agent.evaluate(outs).recon
    with pytest.raises(UnsupportedSpaceError, match="MultiBinary"):
        Agent(gym.spaces.MultiBinary([2, 3]), gym.spaces.Discrete(2), CFG)


def _train_tiny(env_id: str, tmp_path, **overrides):
    from merlin_rl.train import Trainer

    torch.manual_seed(0)
    cfg = make_config(
        "small",
        env=env_id,
        num_envs=2,
        tau=4,
        total_steps=24,
        z_dim=8,
        enc_dim=16,
        image_channels=4,
        mlp_hidden=16,
        mbp_hidden=16,
        policy_hidden=16,
        memory_rows=8,
        log_interval=8,
        checkpoint_interval=24,
        **overrides,
    )
    tr = Trainer(cfg, run_dir=tmp_path, progress=False)
    tr.train()
    assert tr.env_steps >= 24 and (tmp_path / "checkpoints" / "final.pt").exists()
    return tr


def test_cartpole_vector_env_trains(tmp_path):
    from merlin_rl.envs import make_vector_env

    env = make_vector_env("CartPole-v1", 2)
    assert env.metadata.get("autoreset_mode") is not None  # Gymnasium's own batched CartPole
    env.close()
    tr = _train_tiny("CartPole-v1", tmp_path)
    m = tr.agent.mbp.codec.modality("obs")
    assert m.kind == "vector" and m.dim == 4


def test_char_tokenizer_round_trip_padding_cut_unknown_and_cache():
    from merlin_rl.encoders import CharTokenizer

    tok = CharTokenizer("abc ", 6)
    assert tok.vocab == 6 and tok.unknown == 5  # 0 pad, 1..4 the characters, 5 any other
    ids = tok.encode(("ab c", "", "abcabcab", "a\u00e9z"))
    assert ids.dtype == np.int64 and ids.tolist() == [
        [1, 2, 4, 3, 0, 0],
        [0] * 6,
        [1, 2, 3, 1, 2, 3],
        [1, 5, 5, 0, 0, 0],
    ]
    assert tok.decode(ids) == ["ab c", "", "abcabc", "a\ufffd\ufffd"]
    np.testing.assert_array_equal(tok.encode("ca"), [[3, 1, 0, 0, 0, 0]])  # one string
    np.testing.assert_array_equal(
        tok.encode(np.array(["ca", "b"], dtype=object)), [[3, 1, 0, 0, 0, 0], [2, 0, 0, 0, 0, 0]]
    )
    first = tok.encode(("ba", "c"))
    first[:] = 0  # the caller's copy: the cached ids stay intact
    np.testing.assert_array_equal(tok.encode(("ba", "c")), [[2, 1, 0, 0, 0, 0], [3, 0, 0, 0, 0, 0]])
    # against a naive per-character reference on random strings (with characters outside the set)
    rng = np.random.default_rng(0)
    chars = list("abc xyz")
    strings = tuple("".join(rng.choice(chars, size=rng.integers(0, 9))) for _ in range(50))
    ref = [[("abc ".index(c) + 1 if c in "abc " else 5) for c in s[:6]] for s in strings]
    ref = np.array([r + [0] * (6 - len(r)) for r in ref])
    np.testing.assert_array_equal(tok.encode(strings), ref)


def test_text_space_ids_follow_its_sorted_character_set():
    space = gym.spaces.Dict(
        {
            "mission": gym.spaces.Text(5, min_length=0, charset=frozenset("dcba")),
            "v": gym.spaces.Box(-1, 1, (2,), np.float32),
        }
    )
    agent, outs = _run(space)
    m = agent.mbp.codec.modality("mission")
    assert m.kind == "text" and m.tokenizer.charset == "abcd" and (m.vocab, m.length) == (6, 5)
    ids = outs[0].obs["mission"]
    assert ids.dtype == torch.int64 and ids.shape == (2, 5) and int(ids.max()) <= 4
    assert set(agent.evaluate(outs).recon) >= {"text:mission", "vector:v"}
    x = m.to_tensor(("dab", "c"), torch.device("cpu"))
    assert x.tolist() == [[4, 1, 2, 0, 0], [3, 0, 0, 0, 0]]


class _Missions(gym.spaces.Space):
    """A string space without a character set or length (like MiniGrid's MissionSpace)."""

    def __init__(self):
        super().__init__(dtype=str)

    def sample(self, mask=None, probability=None):
        n = int(self.np_random.integers(1, 4))
        return " ".join(["go"] * n) + " \u00fcber"

    def contains(self, x):
        return isinstance(x, str)


def test_other_string_spaces_use_printable_ascii_and_sampled_length():
    from merlin_rl.encoders import DEFAULT_CHARSET, ObservationCodec

    a = ObservationCodec(gym.spaces.Dict({"m": _Missions()}), 4, 16).modality("m")
    b = ObservationCodec(gym.spaces.Dict({"m": _Missions()}), 4, 16).modality("m")
    assert a.tokenizer.charset == b.tokenizer.charset == DEFAULT_CHARSET + "\u00fc"
    assert a.length == b.length == len("go go go \u00fcber")  # the longest sampled string
    assert a.tokenizer.decode(a.tokenizer.encode("go \u00fcber")) == ["go \u00fcber"]


TEXT_MODULE = '''
import gymnasium as gym
import numpy as np


class Spell(gym.Env):
    """Spell the word shown at the first step: a Text observation beside a small image."""
    observation_space = gym.spaces.Dict({
        "image": gym.spaces.Box(0, 255, (6, 6, 3), np.uint8),
        "word": gym.spaces.Text(4, min_length=0, charset="abcd")})
    action_space = gym.spaces.Discrete(4)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.word = 0, "".join(self.np_random.choice(list("abcd"), size=3))
        return self._obs(), {}

    def _obs(self):
        return {"image": np.full((6, 6, 3), 30 * self.t, np.uint8),
                "word": self.word if self.t == 0 else ""}

    def step(self, action):
        r = float("abcd"[action] == self.word[self.t])
        self.t += 1
        return self._obs(), r, self.t >= 3, False, {}


gym.register(id="thirdparty/Spell-v0", entry_point=Spell)
'''


def test_text_observations_train_end_to_end(tmp_path, monkeypatch):
    (tmp_path / "spell_envs_pkg.py").write_text(TEXT_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    tr = _train_tiny("thirdparty/Spell-v0", tmp_path / "run", env_import="spell_envs_pkg")
    m = tr.agent.mbp.codec.modality("word")
    assert m.kind == "text" and m.tokenizer.charset == "abcd" and m.length == 4


class _PairActionEnv(gym.Env):
    """Actions MultiDiscrete([2, 3], start [0, 1]); the observation is the last action received
    (a MultiBinary of its two entries' parity); reward 1 for the pair (1, 3)."""

    def __init__(self) -> None:
        self.action_space = gym.spaces.MultiDiscrete([2, 3], start=[0, 1])
        self.observation_space = gym.spaces.MultiBinary(2)
        self.received: list[tuple[int, int]] = []
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.int8), {}

    def step(self, action):
        assert self.action_space.contains(action), action
        pair = (int(action[0]), int(action[1]))
        self.received.append(pair)
        self.t += 1
        obs = np.array([pair[0] % 2, pair[1] % 2], np.int8)
        return obs, float(pair == (1, 3)), self.t >= 6, False, {}


def _register_pair_env() -> str:
    env_id = "merlin_rl_test/PairAction-v0"
    if env_id not in gym.registry:
        gym.register(env_id, entry_point=_PairActionEnv)
    return env_id


def test_multidiscrete_actions_are_offered_as_joint_actions():
    """Joint action k reaches the env as the pair a hand-written nested loop gives it."""
    from merlin_rl.envs import make_vector_env

    env = make_vector_env(_register_pair_env(), 6)
    assert env.single_action_space == gym.spaces.Discrete(6)
    expected = [(i, j) for i in range(2) for j in range(1, 4)]  # row-major, start added
    env.reset(seed=0)
    env.step(np.arange(6))
    got = [sub.unwrapped.received[-1] for sub in env.unwrapped.envs]
    env.close()
    assert got == expected


def test_multidiscrete_action_env_trains_and_too_many_joint_actions_are_refused(tmp_path):
    from merlin_rl.envs import MAX_JOINT_ACTIONS, JointActions, make_vector_env

    tr = _train_tiny(_register_pair_env(), tmp_path)
    assert isinstance(tr.env, JointActions) and tr.agent.mbp.codec.modality("obs").kind == "vector"

    class Big(_PairActionEnv):
        def __init__(self) -> None:
            super().__init__()
            self.action_space = gym.spaces.MultiDiscrete([MAX_JOINT_ACTIONS, 2])

    big = "merlin_rl_test/BigAction-v0"
    if big not in gym.registry:
        gym.register(big, entry_point=Big)
    with pytest.raises(UnsupportedSpaceError, match="joint actions"):
        make_vector_env(big, 2)


def test_joint_actions_keep_their_layout_and_pass_on_worker_calls():
    """Two MultiDiscrete layouts with the same number of joint actions are different envs to a
    checkpoint (record's --env check); get_attr/call reach the copies through the wrapper."""
    from merlin_rl.envs import action_layout, make_vector_env

    class Swapped(_PairActionEnv):
        def __init__(self) -> None:
            super().__init__()
            self.action_space = gym.spaces.MultiDiscrete([3, 2], start=[1, 0])

    swapped = "merlin_rl_test/SwappedAction-v0"
    if swapped not in gym.registry:
        gym.register(swapped, entry_point=Swapped)
    a, b = make_vector_env(_register_pair_env(), 2), make_vector_env(swapped, 2)
    assert a.single_action_space == b.single_action_space  # both Discrete(6)
    assert action_layout(a) != action_layout(b)
    assert action_layout(make_vector_env("CartPole-v1", 1)) == gym.spaces.Discrete(2)
    a.reset(seed=0)
    assert a.get_attr("t") == (0, 0) and len(a.call("reset")) == 2
    a.close(), b.close()
