"""`merlin-rl record`: episode videos with what the agent remembers beside each frame.

Panels per step: the environment frame; the observed image next to the MBP's reconstruction;
the read weights over memory rows so far (time x row: mean of the MBP heads, and the policy's
head); V_t, the return prediction R^_t = V_t + A_t and the reward so far. GIF with Pillow alone,
MP4 with the optional ``video`` extra (imageio + imageio-ffmpeg).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from merlin_rl.config import ConfigError


def _image_key(agent) -> str | None:
    for name, m in agent.mbp.codec.items():
        if m.kind == "image":
            return name
    return None


def _render(env) -> np.ndarray | None:
    """The env's own picture of copy 0, if it draws one."""
    try:
        frame = env.render()
    except Exception:  # noqa: BLE001 - envs without rgb_array rendering
        return None
    if isinstance(frame, (tuple, list)):
        frame = frame[0] if frame else None
    return frame if isinstance(frame, np.ndarray) and frame.ndim == 3 else None


@torch.no_grad()
def collect_episode(agent, env, loop) -> list[dict]:
    """Step one env (index 0) to the end of an episode, keeping what the panels show."""
    key = _image_key(agent)
    steps: list[dict] = []
    state = agent.initial_state(1, loop.device)
    while True:
        state = state.reset(loop.episode_start)
        out, state = agent.step(loop.obs, state)
        pred = agent.evaluate([out])
        frame = _render(env)
        if frame is None and key is not None:
            frame = (out.obs[key][0].permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)
        rec = None
        if key is not None and agent.mbp.decoders:
            m = agent.mbp.codec.modality(key)
            rec = m.reconstruct(agent.mbp.decoder_input(out.z[:1], key))[0]
            rec = rec.permute(1, 2, 0).cpu().numpy()
        r, done, _, valid = loop.step(out.action)
        state.prev_reward = (r * agent.reward_scale())[:, None]
        if not bool(valid[0]):  # the autoreset step after the previous episode: not shown
            continue
        steps.append(
            {
                "frame": frame,
                "obs": out.obs[key][0].permute(1, 2, 0).cpu().numpy() if key else None,
                "recon": rec,
                "value": float(pred.value[0, 0]),
                "return_pred": float(pred.value[0, 0] + pred.advantage[0, 0]),
                "reward": float(r[0]),
                "mbp_w": None
                if out.mbp_weights is None
                else out.mbp_weights[0].cpu().numpy(),  # (K^r, N)
                "pol_w": None
                if out.policy_weights is None
                else out.policy_weights[0].mean(0).cpu().numpy(),  # (N,) mean over its keys
            }
        )
        if bool(done[0]) or len(steps) >= 5_000:
            return steps


def panel_image(obs: np.ndarray, recon: np.ndarray | None) -> np.ndarray:
    """The observation (H, W, C) beside its reconstruction, or alone for an agent without
    decoders (RL-MEM, RL-LSTM): no black panel that would read as a failed reconstruction."""
    return obs if recon is None else np.concatenate([obs, recon], 1)


def render_frames(steps: list[dict], title: str) -> list[np.ndarray]:
    """One RGB image per step (matplotlib, off-screen)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t_max = len(steps)
    memory = steps[0]["mbp_w"] is not None
    rows = int(max((np.count_nonzero(s["mbp_w"][0]) for s in steps), default=1)) if memory else 1
    frames = []
    fig, axes = plt.subplots(1, 4 if memory else 3, figsize=(12 if memory else 9, 3.2))
    for t, s in enumerate(steps):
        for ax in axes:
            ax.clear()
        axes[0].imshow(s["frame"] if s["frame"] is not None else np.zeros((8, 8, 3)))
        axes[0].set_title(f"{title}  t={t}", fontsize=8)
        if s["obs"] is not None:
            axes[1].imshow(np.clip(panel_image(s["obs"], s["recon"]), 0, 1).squeeze())
            axes[1].set_title(
                "observation | reconstruction"
                if s["recon"] is not None
                else "observation (no decoder: nothing reconstructed)",
                fontsize=8,
            )
        i = 2
        if memory:
            strip = np.zeros((t_max, 2 * rows + 1))
            for u in range(t + 1):
                strip[u, :rows] = steps[u]["mbp_w"].mean(0)[:rows]
                strip[u, rows + 1 :] = steps[u]["pol_w"][:rows]
            axes[2].imshow(strip, aspect="auto", cmap="viridis", vmin=0, vmax=1)
            axes[2].set_title("reads: MBP (mean) | policy", fontsize=8)
            axes[2].set_xlabel("memory row", fontsize=7)
            axes[2].set_ylabel("time", fontsize=7)
            i = 3
        ts = np.arange(t + 1)
        axes[i].plot(ts, [x["value"] for x in steps[: t + 1]], label="V")
        axes[i].plot(ts, [x["return_pred"] for x in steps[: t + 1]], label="R^ = V + A")
        axes[i].plot(ts, np.cumsum([x["reward"] for x in steps[: t + 1]]), label="return so far")
        axes[i].set_xlim(0, max(1, t_max - 1))
        axes[i].legend(fontsize=6, loc="upper left")
        for ax in axes[:2]:
            ax.set_xticks([])
            ax.set_yticks([])
        fig.tight_layout()
        fig.canvas.draw()
        frames.append(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
    plt.close(fig)
    return frames


def save_video(frames: list[np.ndarray], out: str | Path, fps: int) -> None:
    """GIF or MP4 by ``out``'s suffix, written beside it and renamed over it once whole."""
    from merlin_rl.plots import write_replacing

    out = Path(out)
    if out.suffix.lower() == ".gif":
        from PIL import Image

        images = [Image.fromarray(f) for f in frames]
        write_replacing(
            out,
            lambda path: images[0].save(
                path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0
            ),
        )
    elif out.suffix.lower() == ".mp4":
        try:
            import imageio.v2 as imageio
        except ImportError:
            raise ConfigError(
                "MP4 needs the video extra: pip install 'merlin-rl[video]' (or write a .gif)"
            ) from None
        write_replacing(
            out, lambda path: imageio.mimwrite(path, frames, fps=fps, macro_block_size=1)
        )
    else:
        raise ConfigError(f"--out {str(out)!r}: the file must end in .gif or .mp4")


def check_video_out(out: str | Path) -> Path:
    """Refuse an output file before rendering: extension, folder, and the MP4 extra."""
    from merlin_rl.plots import check_output_file

    out = check_output_file(out, (".gif", ".mp4"))
    if out.suffix.lower() == ".mp4":
        try:
            import imageio.v2  # noqa: F401
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise ConfigError(
                f"--out {str(out)!r}: MP4 needs the video extra: pip install "
                "'merlin-rl[video]' (or write a .gif)"
            ) from None
    return out


def record(
    agent,
    cfg,
    out: str | Path,
    episodes: int = 1,
    env_id: str | None = None,
    fps: int = 4,
    seed: int = 0,
) -> dict:
    from merlin_rl.envs import action_layout, make_vector_env
    from merlin_rl.train import EnvLoop

    if episodes <= 0:
        raise ConfigError(f"--episodes must be a positive integer, got {episodes}")
    check_video_out(out)
    env_id = env_id or cfg.env
    env = make_vector_env(env_id, 1, cfg.env_kwargs if env_id == cfg.env else {})
    if env_id != cfg.env:
        ref = make_vector_env(cfg.env, 1, cfg.env_kwargs)
        same_obs = ref.single_observation_space == env.single_observation_space
        same = same_obs and action_layout(ref) == action_layout(env)
        ref.close()
        if not same:
            env.close()
            raise ConfigError(
                f"--env {env_id!r} has other spaces than {cfg.env!r}, the env "
                "the checkpoint was trained on"
            )
    torch.manual_seed(seed)
    loop = EnvLoop(env, agent, torch.device("cpu"), seed)
    frames, returns = [], []
    for k in range(episodes):
        steps = collect_episode(agent, env, loop)
        returns.append(sum(s["reward"] for s in steps))
        frames += render_frames(steps, f"{cfg.agent} ep {k + 1}")
    env.close()
    save_video(frames, out, fps)
    return {
        "out": str(out),
        "frames": len(frames),
        "returns": returns,
        "size": list(frames[0].shape[:2]),
    }
