"""External memory (DESIGN.md §1): reads, delta + retroactive writes, usage allocation, resets,
gradients. Every check compares the library against a naive loop reference written here."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from merlin_rl import memory as mem_ops
from merlin_rl.memory import MemoryState

torch.set_num_threads(1)


# ----------------------------------------------------------------------------- naive references
def ref_cosine(k: list[float], m: list[float]) -> float:
    dot = sum(a * b for a, b in zip(k, m))
    nk = math.sqrt(sum(a * a for a in k))
    nm = math.sqrt(sum(b * b for b in m))
    return dot / (nk * nm)


def ref_read_one(
    M: list[list[float]], written: list[bool], key: list[float], beta: float
) -> tuple[list[float], list[float]]:
    """Weights over the N rows (softmax of beta*cos over written rows; 0 elsewhere) and readout."""
    n, w = len(M), len(M[0])
    idx = [j for j in range(n) if written[j]]
    weights = [0.0] * n
    if idx:
        logits = {j: beta * ref_cosine(key, M[j]) for j in idx}
        mx = max(logits.values())
        ex = {j: math.exp(logits[j] - mx) for j in idx}
        s = sum(ex.values())
        for j in idx:
            weights[j] = ex[j] / s
    readout = [sum(weights[j] * M[j][c] for j in range(n)) for c in range(w)]
    return weights, readout


def ref_read(mem: MemoryState, keys: torch.Tensor, beta: torch.Tensor):
    """Loop over envs and heads; returns (readouts (B, H, W), weights (B, H, N)) as float64."""
    B, H, _ = keys.shape
    N = mem.M.shape[1]
    out_w = torch.zeros(B, H, N, dtype=torch.float64)
    out_r = torch.zeros(B, H, keys.shape[-1], dtype=torch.float64)
    for b in range(B):
        M = mem.M[b].double().tolist()
        written = mem.written[b].tolist()
        for h in range(H):
            w, r = ref_read_one(M, written, keys[b, h].double().tolist(), float(beta[b, h]))
            out_w[b, h] = torch.tensor(w, dtype=torch.float64)
            out_r[b, h] = torch.tensor(r, dtype=torch.float64)
    return out_r, out_w


class RefMemory:
    """One environment's memory, written the way DESIGN.md §1 says, with plain Python lists."""

    def __init__(self, rows: int, z_dim: int) -> None:
        self.N, self.Z = rows, z_dim
        self.M = [[0.0] * (2 * z_dim) for _ in range(rows)]
        self.v_ret = [0.0] * rows
        self.last_row: int | None = None  # v^w_{t-1}
        self.usage = [0.0] * rows
        self.written = [False] * rows
        self.write_step = [0] * rows
        self.count = 0

    def add_usage(self, weights: list[list[float]], allocation: str = "usage-literal") -> None:
        """weights (H, N). ``usage``: u = (1 - 2/N) u + mean_h w; otherwise u += sum_h w."""
        if allocation == "usage":
            decay = max(0.0, 1.0 - 2.0 / self.N)
            for j in range(self.N):
                self.usage[j] = decay * self.usage[j] + sum(h[j] for h in weights) / len(weights)
            return
        for head in weights:
            for j in range(self.N):
                self.usage[j] += head[j]

    def choose(self, allocation: str) -> int:
        if self.count < self.N:
            return self.count
        if allocation == "fifo":
            return self.count % self.N
        best = None
        for j in range(self.N):
            key = (self.usage[j], self.write_step[j])  # smallest usage, then oldest write
            if best is None or key < best[0]:
                best = (key, j)
        return best[1]

    def write(self, z: list[float], gamma: float, allocation: str) -> int:
        row = self.choose(allocation)
        # clear the chosen row: both halves and its retroactive weight
        self.M[row] = [0.0] * (2 * self.Z)
        new_v_ret = [0.0] * self.N
        for j in range(self.N):
            if j == row:
                continue  # a fresh event has no retroactive weight on itself yet
            prev_w = 1.0 if j == self.last_row else 0.0
            new_v_ret[j] = gamma * self.v_ret[j] + (1.0 - gamma) * prev_w
        self.v_ret = new_v_ret
        for c in range(self.Z):
            self.M[row][c] = z[c]
        for j in range(self.N):
            for c in range(self.Z):
                self.M[j][self.Z + c] += self.v_ret[j] * z[c]
        self.usage[row] = 1.0
        self.written[row] = True
        self.write_step[row] = self.count
        self.last_row = row
        self.count += 1
        return row


def assert_state_matches(mem: MemoryState, refs: list[RefMemory], atol: float = 1e-5) -> None:
    for b, ref in enumerate(refs):
        for name in ("M", "v_ret", "usage"):
            torch.testing.assert_close(
                getattr(mem, name)[b].double(),
                torch.tensor(getattr(ref, name), dtype=torch.float64),
                atol=atol,
                rtol=1e-5,
                msg=lambda m, n=name: f"{n}: {m}",
            )
        assert mem.written[b].tolist() == ref.written
        assert mem.write_step[b][torch.tensor(ref.written)].tolist() == [
            s for s, w in zip(ref.write_step, ref.written) if w
        ]
        assert int(mem.count[b]) == ref.count
        if ref.last_row is not None:
            expected_vw = [1.0 if j == ref.last_row else 0.0 for j in range(ref.N)]
            assert mem.v_w[b].tolist() == expected_vw


def written_memory(
    B: int, N: int, Z: int, steps: list[int], gamma: float = 0.9, seed: int = 0
) -> MemoryState:
    """Memory where env b has had ``steps[b]`` random writes (steps <= N)."""
    g = torch.Generator().manual_seed(seed)
    mem = MemoryState.zeros(B, N, 2 * Z)
    for t in range(max(steps)):
        z = torch.randn(B, Z, generator=g)
        new = mem_ops.write(mem, z, gamma)
        active = torch.tensor([t < s for s in steps])
        # keep envs that are done writing unchanged
        mem = MemoryState(
            **{
                name: torch.where(
                    active.view(-1, *([1] * (getattr(new, name).dim() - 1))),
                    getattr(new, name),
                    getattr(mem, name),
                )
                for name in ("M", "v_ret", "v_w", "usage", "written", "write_step", "count")
            }
        )
    return mem


# ------------------------------------------------------------------------------------- reading
def test_cosine_similarity_vs_loop():
    g = torch.Generator().manual_seed(1)
    keys = torch.randn(2, 3, 6, generator=g)
    M = torch.randn(2, 5, 6, generator=g)
    c = mem_ops.cosine_similarity(keys, M)
    for b in range(2):
        for i in range(3):
            for j in range(5):
                ref = ref_cosine(keys[b, i].tolist(), M[b, j].tolist())
                assert abs(float(c[b, i, j]) - ref) < 1e-5


def test_read_weights_and_readout_vs_loop_partially_written():
    B, N, Z, H = 3, 6, 4, 2
    mem = written_memory(B, N, Z, steps=[2, 5, 6], seed=2)  # different numbers of written rows
    g = torch.Generator().manual_seed(3)
    keys = torch.randn(B, H, 2 * Z, generator=g)
    beta = torch.rand(B, H, generator=g) * 5.0 + 0.1
    readout, weights = mem_ops.read(mem, keys, beta)
    w_only = mem_ops.read_weights(mem, keys, beta)
    ref_r, ref_w = ref_read(mem, keys, beta)
    assert readout.shape == (B, H, 2 * Z) and weights.shape == (B, H, N)
    torch.testing.assert_close(weights.double(), ref_w, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w_only, weights)
    torch.testing.assert_close(readout.double(), ref_r, atol=1e-5, rtol=1e-5)
    # unwritten rows get exactly zero weight; written rows sum to one
    assert (weights[~mem.written.unsqueeze(1).expand(-1, H, -1)] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, H))


def test_read_weights_sharpen_with_strength():
    """Large beta concentrates the weight on the most similar written row (loop argmax)."""
    B, N, Z = 2, 5, 3
    mem = written_memory(B, N, Z, steps=[4, 5], seed=4)
    keys = mem.M[:, 1:2, :].clone() + 0.01  # close to row 1 of each env
    w = mem_ops.read_weights(mem, keys, torch.full((B, 1), 200.0))
    for b in range(B):
        sims = [
            ref_cosine(keys[b, 0].tolist(), mem.M[b, j].tolist())
            if mem.written[b, j]
            else -float("inf")
            for j in range(N)
        ]
        best = max(range(N), key=lambda j: sims[j])
        assert best == 1
        assert float(w[b, 0, best]) > 0.99


def test_read_empty_memory_is_zero_and_finite():
    B, N, Z, H = 2, 4, 3, 3
    mem = MemoryState.zeros(B, N, 2 * Z)
    mem = replace(mem, M=mem.M.clone().requires_grad_(True))
    keys = torch.randn(B, H, 2 * Z, generator=torch.Generator().manual_seed(5)).requires_grad_(True)
    beta = torch.full((B, H), 2.0, requires_grad=True)
    readout, weights = mem_ops.read(mem, keys, beta)
    assert torch.equal(weights, torch.zeros(B, H, N))
    assert torch.equal(readout.detach(), torch.zeros(B, H, 2 * Z))
    assert torch.isfinite(readout).all() and torch.isfinite(weights).all()
    (readout.sum() + weights.sum()).backward()
    for t in (mem.M, keys, beta):
        assert t.grad is not None
        assert torch.isfinite(t.grad).all()
    # one env empty, the other not: the empty one still reads zero
    mem2 = written_memory(B, N, Z, steps=[0, 2], seed=6)
    r2, w2 = mem_ops.read(mem2, keys.detach(), beta.detach())
    assert torch.equal(r2[0], torch.zeros(H, 2 * Z)) and torch.equal(w2[0], torch.zeros(H, N))
    ref_r, ref_w = ref_read(mem2, keys.detach(), beta.detach())
    torch.testing.assert_close(w2.double(), ref_w, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(r2.double(), ref_r, atol=1e-5, rtol=1e-5)


# -------------------------------------------------------------------- delta + retroactive write
@pytest.mark.parametrize("allocation", ["usage", "usage-literal", "fifo"])
def test_retroactive_write_closed_form(allocation):
    """Row s (no overwrites) holds [z_s, (1-gamma) sum_{t>s} gamma^(t-s-1) z_t] (DESIGN §1)."""
    B, N, Z, T, gamma = 3, 8, 4, 6, 0.85
    g = torch.Generator().manual_seed(7)
    zs = torch.randn(T, B, Z, generator=g, dtype=torch.float64)
    mem = MemoryState.zeros(B, N, 2 * Z, dtype=torch.float64)
    for t in range(T):
        mem = mem_ops.write(mem, zs[t], gamma, allocation)
    for b in range(B):
        for s in range(N):
            row = mem.M[b, s].tolist()
            if s >= T:
                assert row == [0.0] * (2 * Z)
                assert not bool(mem.written[b, s])
                continue
            assert bool(mem.written[b, s])
            for c in range(Z):
                assert row[c] == pytest.approx(float(zs[s, b, c]), abs=1e-12)
                ret = 0.0
                for t in range(s + 1, T):
                    ret += (1 - gamma) * gamma ** (t - s - 1) * float(zs[t, b, c])
                assert row[Z + c] == pytest.approx(ret, abs=1e-12)
            # v^ret of row s after T writes: (1-gamma) gamma^(T-1-s-1) for s < T-1, 0 for the last
            exp_v = (1 - gamma) * gamma ** (T - s - 2) if s < T - 1 else 0.0
            assert float(mem.v_ret[b, s]) == pytest.approx(exp_v, abs=1e-12)
            assert int(mem.write_step[b, s]) == s
    assert mem.count.tolist() == [T] * B
    assert mem.v_w.argmax(-1).tolist() == [T - 1] * B


@pytest.mark.parametrize("allocation", ["usage", "usage-literal", "fifo"])
def test_random_read_write_sequence_vs_reference(allocation):
    """Reads + usage + writes for more steps than rows (overwrites) against RefMemory."""
    B, N, Z, H, T, gamma = 3, 4, 3, 2, 13, 0.8
    g = torch.Generator().manual_seed({"usage": 10, "usage-literal": 8, "fifo": 9}[allocation])
    mem = MemoryState.zeros(B, N, 2 * Z)
    refs = [RefMemory(N, Z) for _ in range(B)]
    overwritten: set[int] = set()
    for t in range(T):
        keys = torch.randn(B, H, 2 * Z, generator=g)
        beta = torch.rand(B, H, generator=g) * 4.0
        readout, weights = mem_ops.read(mem, keys, beta)
        for b in range(B):
            for h in range(H):
                w, r = ref_read_one(
                    refs[b].M, refs[b].written, keys[b, h].tolist(), float(beta[b, h])
                )
                torch.testing.assert_close(
                    weights[b, h].double(),
                    torch.tensor(w, dtype=torch.float64),
                    atol=1e-5,
                    rtol=1e-5,
                )
                torch.testing.assert_close(
                    readout[b, h].double(),
                    torch.tensor(r, dtype=torch.float64),
                    atol=1e-5,
                    rtol=1e-5,
                )
            refs[b].add_usage(weights[b].tolist(), allocation)
        mem = mem_ops.add_usage(mem, weights, allocation)
        # extra random use of written rows (other readers), so that different rows get overwritten
        extra = torch.rand(B, 1, N, generator=g) * 2.0 * mem.written[:, None].float()
        mem = mem_ops.add_usage(mem, extra, allocation)
        for b in range(B):
            refs[b].add_usage(extra[b].tolist(), allocation)
        z = torch.randn(B, Z, generator=g)
        rows = mem_ops.choose_rows(mem, allocation)
        mem = mem_ops.write(mem, z, gamma, allocation)
        for b in range(B):
            ref_row = refs[b].write(z[b].tolist(), gamma, allocation)
            assert int(rows[b]) == ref_row, f"step {t} env {b}"
            if t >= N:
                overwritten.add(ref_row)
        assert_state_matches(mem, refs)
    assert len(overwritten) > 1  # the sequence exercised several overwrite targets


# --------------------------------------------------------------------------- usage + allocation
def test_add_usage_sums_heads_without_grad():
    B, N, H = 2, 5, 3
    mem = written_memory(B, N, 2, steps=[5, 3], seed=10)
    w = torch.rand(B, H, N, generator=torch.Generator().manual_seed(11)).requires_grad_(True)
    new = mem_ops.add_usage(mem, w, "usage-literal")
    for b in range(B):
        for j in range(N):
            expected = float(mem.usage[b, j]) + sum(float(w[b, h, j].detach()) for h in range(H))
            assert float(new.usage[b, j]) == pytest.approx(expected, abs=1e-6)
    assert not new.usage.requires_grad
    torch.testing.assert_close(new.M, mem.M)  # nothing else changes
    assert torch.equal(new.count, mem.count)


def test_fresh_rows_start_with_usage_one():
    mem = written_memory(2, 4, 3, steps=[3, 1], seed=12)
    assert mem.usage.tolist() == [[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]]


def test_free_rows_are_filled_in_order_even_if_used():
    """While free rows remain the next free row is written, whatever the usage says."""
    mem = written_memory(1, 4, 2, steps=[2], seed=13)
    mem = replace(mem, usage=torch.tensor([[0.0, 5.0, 0.0, 0.0]]))
    assert mem_ops.choose_rows(mem, "usage").tolist() == [2]
    assert mem_ops.choose_rows(mem, "fifo").tolist() == [2]


def test_least_used_overwrite_ties_oldest_and_clears_row():
    B, N, Z, gamma = 3, 4, 3, 0.7
    mem = written_memory(B, N, Z, steps=[N, N, N], gamma=gamma, seed=14)
    # hand-made usage / write order (count stays N: the episode step of the next write)
    usage = torch.tensor(
        [
            [2.0, 1.0, 3.0, 1.0],  # tie rows 1 and 3
            [1.5, 1.2, 0.5, 0.9],  # unique minimum: row 2
            [1.0, 1.0, 1.0, 1.0],
        ]
    )  # four-way tie
    write_step = torch.tensor(
        [
            [0, 3, 1, 2],  # row 3 (step 2) is older than row 1 (step 3)
            [0, 1, 2, 3],
            [2, 1, 3, 0],
        ]
    )  # row 3 is the oldest
    mem = replace(mem, usage=usage, write_step=write_step)
    expected_rows = []
    for b in range(B):  # loop reference: smallest usage, then smallest write_step
        cands = [j for j in range(N) if float(usage[b, j]) == min(usage[b].tolist())]
        expected_rows.append(min(cands, key=lambda j: int(write_step[b, j])))
    assert expected_rows == [3, 2, 3]
    assert mem_ops.choose_rows(mem, "usage").tolist() == expected_rows

    g = torch.Generator().manual_seed(15)
    z_new = torch.randn(B, Z, generator=g)
    new = mem_ops.write(mem, z_new, gamma, "usage")
    last = mem.v_w.argmax(-1)
    for b, r in enumerate(expected_rows):
        # the overwritten row holds only the new event: [z_new, 0]; its v^ret is 0; usage 1
        torch.testing.assert_close(new.M[b, r], torch.cat([z_new[b], torch.zeros(Z)]))
        assert float(new.v_ret[b, r]) == 0.0
        assert float(new.usage[b, r]) == 1.0
        assert int(new.write_step[b, r]) == N
        assert new.v_w[b].tolist() == [1.0 if j == r else 0.0 for j in range(N)]
        for j in range(N):
            if j == r:
                continue
            # other rows: first half unchanged, retroactive half grows by v^ret_t z_new
            v = gamma * float(mem.v_ret[b, j]) + (1 - gamma) * (1.0 if j == int(last[b]) else 0.0)
            assert float(new.v_ret[b, j]) == pytest.approx(v, abs=1e-6)
            torch.testing.assert_close(new.M[b, j, :Z], mem.M[b, j, :Z])
            torch.testing.assert_close(new.M[b, j, Z:], mem.M[b, j, Z:] + v * z_new[b])
            assert float(new.usage[b, j]) == float(usage[b, j])
    assert new.count.tolist() == [N + 1] * B

    # one more write: the new row's retroactive half is (1-gamma) z_next, nothing of the old event
    new = replace(
        new,
        usage=new.usage
        + 10.0 * torch.nn.functional.one_hot(torch.tensor(expected_rows), N).float(),
    )  # keep the fresh row from being chosen again
    z_next = torch.randn(B, Z, generator=g)
    nxt = mem_ops.write(new, z_next, gamma, "usage")
    for b, r in enumerate(expected_rows):
        torch.testing.assert_close(nxt.M[b, r], torch.cat([z_new[b], (1 - gamma) * z_next[b]]))


def test_overwrite_of_last_written_row_does_not_leak():
    """When the least-used row is the one written last step it is cleared completely."""
    N, Z, gamma = 3, 2, 0.5
    mem = written_memory(1, N, Z, steps=[N], gamma=gamma, seed=16)
    # the last written row (2) is the least used
    mem = replace(mem, usage=torch.tensor([[2.0, 2.0, 1.0]]))
    z = torch.tensor([[1.0, -2.0]])
    new = mem_ops.write(mem, z, gamma, "usage")
    assert int(new.v_w.argmax()) == 2
    torch.testing.assert_close(new.M[0, 2], torch.tensor([1.0, -2.0, 0.0, 0.0]))
    assert float(new.v_ret[0, 2]) == 0.0
    ref = RefMemory(N, Z)
    ref.M = mem.M[0].double().tolist()
    ref.v_ret = mem.v_ret[0].double().tolist()
    ref.last_row, ref.usage = 2, [2.0, 2.0, 1.0]
    ref.written, ref.write_step, ref.count = [True] * N, [0, 1, 2], N
    ref.write(z[0].tolist(), gamma, "usage")
    assert_state_matches(new, [ref])


def test_fifo_is_circular():
    B, N, Z, gamma = 2, 3, 2, 0.9
    g = torch.Generator().manual_seed(17)
    mem = MemoryState.zeros(B, N, 2 * Z)
    refs = [RefMemory(N, Z) for _ in range(B)]
    for t in range(3 * N + 1):
        # usage must not matter for fifo
        mem = replace(mem, usage=torch.rand(B, N, generator=g) * 3)
        for b in range(B):
            refs[b].usage = mem.usage[b].tolist()
        rows = mem_ops.choose_rows(mem, "fifo")
        assert rows.tolist() == [t % N] * B
        z = torch.randn(B, Z, generator=g)
        mem = mem_ops.write(mem, z, gamma, "fifo")
        for b in range(B):
            assert refs[b].write(z[b].tolist(), gamma, "fifo") == t % N
        assert_state_matches(mem, refs)
        torch.testing.assert_close(mem.M[:, t % N, :Z], z)


def test_unknown_allocation_raises():
    mem = MemoryState.zeros(1, 2, 4)
    with pytest.raises(ValueError):
        mem_ops.choose_rows(mem, "random")


# ----------------------------------------------------------------------------------------- reset
def test_reset_zeroes_only_masked_envs():
    B, N, Z = 4, 5, 3
    mem = written_memory(B, N, Z, steps=[5, 3, 4, 2], seed=18)
    mem = mem_ops.add_usage(mem, torch.rand(B, 2, N, generator=torch.Generator().manual_seed(19)))
    mask = torch.tensor([True, False, True, False])
    out = mem.reset(mask)
    for name in ("M", "v_ret", "v_w", "usage", "written", "write_step", "count"):
        before, after = getattr(mem, name), getattr(out, name)
        assert after.dtype == before.dtype and after.shape == before.shape
        for b in range(B):
            if mask[b]:
                assert not after[b].any(), f"{name} of env {b} not zeroed"
            else:
                assert torch.equal(after[b], before[b]), f"{name} of env {b} changed"
    # a reset env starts writing again at row 0 and reads nothing
    rows = mem_ops.choose_rows(out, "usage")
    assert rows[0] == 0 and rows[2] == 0
    r, w = mem_ops.read(out, torch.randn(B, 1, 2 * Z), torch.ones(B, 1))
    assert not r[0].any() and not w[2].any()


# -------------------------------------------------------------------------------------- gradient
def test_read_is_differentiable_wrt_earlier_writes_and_detach_cuts():
    B, N, Z, gamma = 2, 6, 3, 0.9
    g = torch.Generator().manual_seed(20)
    zs = [torch.randn(B, Z, generator=g).requires_grad_(True) for _ in range(4)]
    mem = MemoryState.zeros(B, N, 2 * Z)
    for z in zs:
        mem = mem_ops.write(mem, z, gamma)
    keys = torch.randn(B, 2, 2 * Z, generator=g)
    beta = torch.full((B, 2), 3.0)
    readout, _ = mem_ops.read(mem, keys, beta)
    grads = torch.autograd.grad(readout.pow(2).sum(), zs, allow_unused=True)
    for t, gr in enumerate(grads):
        assert gr is not None, f"no gradient to z_{t}"
        assert torch.isfinite(gr).all()
        assert gr.abs().sum() > 0, f"zero gradient to z_{t}"

    # after detach nothing flows back to the written z
    det = mem.detach()
    for name in ("M", "v_ret", "v_w", "usage"):
        assert not getattr(det, name).requires_grad
    readout2, _ = mem_ops.read(det, keys, beta)
    assert not readout2.requires_grad
    # writing a new z into the detached memory: gradient reaches only the new z
    z_new = torch.randn(B, Z, generator=g).requires_grad_(True)
    mem2 = mem_ops.write(det, z_new, gamma)
    readout3, _ = mem_ops.read(mem2, keys, beta)
    grads = torch.autograd.grad(readout3.pow(2).sum(), zs + [z_new], allow_unused=True)
    assert all(gr is None for gr in grads[:-1])
    assert grads[-1] is not None and grads[-1].abs().sum() > 0


# ------------------------------------------------- hand-written backward passes (_Read, _Write)
def _plain_read(M, keys, beta, written):
    """The read written with plain autograd ops (what _Read must equal, values and gradients)."""
    k = keys / torch.sqrt(keys.pow(2).sum(-1, keepdim=True) + 1e-6)
    m = M / torch.sqrt(M.pow(2).sum(-1, keepdim=True) + 1e-6)
    logits = beta.unsqueeze(-1) * torch.einsum("bhw,bnw->bhn", k, m)
    logits = logits.masked_fill(~written.unsqueeze(1), -1e9)
    w = torch.softmax(logits, -1) * written.unsqueeze(1).to(M.dtype)
    return torch.einsum("bhn,bnw->bhw", w, M), w


def _plain_write(M, z, v_ret, row):
    zd = z.shape[-1]
    v_w = torch.nn.functional.one_hot(row, M.shape[1]).to(M.dtype)
    keep = 1.0 - v_w
    update = torch.cat(
        [v_w.unsqueeze(-1) * z.unsqueeze(1), v_ret.unsqueeze(-1) * z.unsqueeze(1)], -1
    )
    assert M.shape[-1] == 2 * zd
    return M * keep.unsqueeze(-1) + update


def _read_inputs(seed: int, written_rows: int):
    g = torch.Generator().manual_seed(seed)
    b, h, n, w = 2, 3, 5, 4
    M = torch.randn(b, n, w, generator=g, dtype=torch.float64)
    written = torch.zeros(b, n, dtype=torch.bool)
    written[:, :written_rows] = True
    written[1, :] = written_rows > 0  # second env: everything written (or nothing)
    M = M * written.unsqueeze(-1)  # unwritten rows are zero, as in the memory
    keys = torch.randn(b, h, w, generator=g, dtype=torch.float64)
    beta = torch.rand(b, h, generator=g, dtype=torch.float64) * 3 + 0.5
    return M, keys, beta, written


@pytest.mark.parametrize("written_rows", [0, 2, 5])
def test_read_backward_matches_autograd_of_plain_formula(written_rows):
    M, keys, beta, written = _read_inputs(0, written_rows)
    g = torch.Generator().manual_seed(1)
    d_r = torch.randn(2, 3, 4, generator=g, dtype=torch.float64)
    d_w = torch.randn(2, 3, 5, generator=g, dtype=torch.float64)
    grads = []
    for fn in (mem_ops._Read.apply, _plain_read):
        leaves = [x.clone().requires_grad_() for x in (M, keys, beta)]
        r, w = fn(leaves[0], leaves[1], leaves[2], written)
        ((r * d_r).sum() + (w * d_w).sum()).backward()
        grads.append([r.detach(), w.detach()] + [x.grad for x in leaves])
    for ours, plain in zip(*grads):
        torch.testing.assert_close(ours, plain, rtol=1e-9, atol=1e-10)


def test_read_and_write_pass_gradcheck():
    M, keys, beta, written = _read_inputs(2, 3)
    M, keys, beta = (x.requires_grad_() for x in (M, keys, beta))
    assert torch.autograd.gradcheck(
        lambda m, k, b: mem_ops._Read.apply(m, k, b, written), (M, keys, beta)
    )
    g = torch.Generator().manual_seed(3)
    z = torch.randn(2, 2, generator=g, dtype=torch.float64, requires_grad=True)
    v_ret = torch.rand(2, 5, generator=g, dtype=torch.float64)
    row = torch.tensor([1, 4])
    v_ret[torch.arange(2), row] = 0.0  # the chosen row has no retroactive weight
    assert torch.autograd.gradcheck(
        lambda m, zz: mem_ops._Write.apply(m, zz, v_ret, row),
        (M.detach().clone().requires_grad_(), z),
    )


def test_write_matches_plain_formula_and_its_gradients():
    g = torch.Generator().manual_seed(4)
    M = torch.randn(3, 6, 8, generator=g, dtype=torch.float64)
    z = torch.randn(3, 4, generator=g, dtype=torch.float64)
    v_ret = torch.rand(3, 6, generator=g, dtype=torch.float64)
    row = torch.tensor([0, 5, 2])
    v_ret[torch.arange(3), row] = 0.0
    d_out = torch.randn(3, 6, 8, generator=g, dtype=torch.float64)
    grads = []
    for fn in (mem_ops._Write.apply, _plain_write):
        m, zz = M.clone().requires_grad_(), z.clone().requires_grad_()
        out = fn(m, zz, v_ret, row)
        (out * d_out).sum().backward()
        grads.append((out.detach(), m.grad, zz.grad))
    for ours, plain in zip(*grads):
        torch.testing.assert_close(ours, plain, rtol=1e-12, atol=1e-12)
    assert (grads[0][1][torch.arange(3), row] == 0).all()  # overwritten rows get no gradient


def test_read_of_detached_memory_computes_no_memory_gradient():
    M, keys, beta, written = _read_inputs(5, 4)
    keys.requires_grad_()
    r, _ = mem_ops._Read.apply(M, keys, beta, written)  # M does not require grad
    r.sum().backward()
    assert keys.grad is not None and M.grad is None


def test_double_backward_raises_instead_of_being_wrong():
    M, keys, beta, written = _read_inputs(6, 3)
    keys.requires_grad_()
    r, _ = mem_ops._Read.apply(M.requires_grad_(), keys, beta, written)
    (g,) = torch.autograd.grad(r.square().sum(), keys, create_graph=True)
    with pytest.raises(RuntimeError):
        g.sum().backward()


def test_read_under_autocast_and_write_with_nonzero_v_ret_on_the_row():
    M, keys, beta, written = _read_inputs(7, 4)
    M, keys = M.float().requires_grad_(), keys.float().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        r, _ = mem_ops._Read.apply(M, keys, beta.float(), written)
    r.float().sum().backward()
    assert torch.isfinite(M.grad).all() and torch.isfinite(keys.grad).all()
    g = torch.Generator().manual_seed(8)
    z = torch.randn(2, 2, generator=g, dtype=torch.float64, requires_grad=True)
    v_ret = torch.rand(2, 5, generator=g, dtype=torch.float64)  # nonzero on the chosen rows too
    row = torch.tensor([0, 3])
    m0 = torch.randn(2, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda m, zz: mem_ops._Write.apply(m, zz, v_ret, row), (m0, z))


# ------------------------------------------------- forgetting usage (DESIGN §1 correction)
def test_decaying_usage_matches_loop_reference():
    B, N, H = 2, 5, 3
    mem = written_memory(B, N, 2, steps=[5, 3], seed=30)
    w = torch.rand(B, H, N, generator=torch.Generator().manual_seed(31))
    new = mem_ops.add_usage(mem, w, "usage")
    decay = 1.0 - 2.0 / N
    for b in range(B):
        for j in range(N):
            expected = decay * float(mem.usage[b, j]) + sum(float(w[b, h, j]) for h in range(H)) / H
            assert float(new.usage[b, j]) == pytest.approx(expected, abs=1e-6)
    assert mem_ops.usage_decay(1) == 0.0 and mem_ops.usage_decay(100) == pytest.approx(0.98)


def _random_read_episode(
    allocation: str,
    N: int,
    steps: int,
    strong_row: int | None = None,
    seed: int = 40,
    B: int = 4,
    Z: int = 8,
    H: int = 3,
) -> list[list[int]]:
    """Write z_t = a random vector every step, after H random-key reads (as the agent does:
    read, add usage, write). With ``strong_row`` one head reads that row's event with a sharp
    key every step. Returns, per env, the episode step held by each row at the end."""
    g = torch.Generator().manual_seed(seed)
    mem = MemoryState.zeros(B, N, 2 * Z)
    target = None
    for t in range(steps):
        keys = torch.randn(B, H, 2 * Z, generator=g)
        beta = torch.full((B, H), 5.0)
        if strong_row is not None and target is not None:
            keys[:, 0] = target
            beta[:, 0] = 200.0
        _, w = mem_ops.read(mem, keys, beta)
        mem = mem_ops.add_usage(mem, w, allocation)
        mem = mem_ops.write(mem, torch.randn(B, Z, generator=g), gamma=0.9, allocation=allocation)
        if strong_row is not None and t == strong_row:
            target = mem.M[:, t].clone()  # the key that finds that event (cosine 1)
    return mem.write_step.tolist()


@pytest.mark.parametrize("N", [16, 64])
def test_memory_keeps_recent_steps_after_3n_random_reads(N):
    """After 3N steps of random reads at least half of the last N steps are held (the literal
    rule keeps steps 0..N-2 and the latest, and fails this)."""
    steps = 3 * N
    for allocation in ("usage", "fifo"):
        for held in _random_read_episode(allocation, N, steps):
            recent = sum(1 for s in held if s >= steps - N)
            assert recent >= N // 2, (allocation, recent)
    literal = _random_read_episode("usage-literal", N, steps)
    assert all(sum(1 for s in held if s >= steps - N) <= 2 for held in literal)


@pytest.mark.parametrize("N", [8, 32])
def test_strongly_read_row_survives_10n_steps(N):
    """An event read strongly every step stays in memory for 10N steps (fifo loses it)."""
    kept = _random_read_episode("usage", N, 10 * N, strong_row=2)
    assert all(2 in held for held in kept)
    assert not any(2 in held for held in _random_read_episode("fifo", N, 10 * N, strong_row=2))


def test_retroactive_closed_form_for_rows_never_overwritten():
    """With overwrites going on (usage allocation, T > N), a row whose event was never replaced
    holds [z_s, (1-gamma) sum_{t>s} gamma^(t-s-1) z_t], and overwritten rows hold only their
    new event's z (nothing of the old one leaks)."""
    B, N, Z, T, H, gamma = 3, 6, 3, 20, 2, 0.8
    g = torch.Generator().manual_seed(50)
    mem = MemoryState.zeros(B, N, 2 * Z, dtype=torch.float64)
    zs = torch.randn(T, B, Z, generator=g, dtype=torch.float64)
    history = [[None] * N for _ in range(B)]  # per row: list of writes (step) in order
    for b in range(B):
        history[b] = [[] for _ in range(N)]
    for t in range(T):
        keys = torch.randn(B, H, 2 * Z, generator=g, dtype=torch.float64)
        # env 0 keeps re-reading its first event, so that row is never overwritten
        keys[0, 0] = torch.cat([zs[0, 0], torch.zeros(Z, dtype=torch.float64)])
        beta = torch.tensor([[100.0, 3.0]] * B, dtype=torch.float64)
        _, w = mem_ops.read(mem, keys, beta)
        mem = mem_ops.add_usage(mem, w, "usage")
        rows = mem_ops.choose_rows(mem, "usage")
        mem = mem_ops.write(mem, zs[t], gamma, "usage")
        for b in range(B):
            history[b][int(rows[b])].append(t)
    survivors = 0
    for b in range(B):
        for j in range(N):
            s = history[b][j][-1]  # the event the row holds now
            torch.testing.assert_close(mem.M[b, j, :Z], zs[s, b])
            ret = sum((1 - gamma) * gamma ** (t - s - 1) * zs[t, b] for t in range(s + 1, T))
            torch.testing.assert_close(mem.M[b, j, Z:], torch.as_tensor(ret) + 0 * zs[0, b])
            survivors += len(history[b][j]) == 1
    assert history[0][0] == [0]  # the strongly read first event survived
    assert survivors >= 1 and any(len(h) > 1 for hb in history for h in hb)
