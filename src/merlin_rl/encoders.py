"""Per-modality encoders and decoders chosen from the observation space (DESIGN.md §4).

* image ``Box`` (H, W, C) or (C, H, W), C in {1, 3, 4}, uint8 or float -> image: small ResNet /
  decoder (an MLP up to 32x32 pixels, transposed convolutions above), reconstruction of pixels
  scaled to [0, 1] (``--image-output``); a uint8 grid of small codes (MiniGrid's ids,
  :func:`auto_image_scale`) may instead be scored as one categorical per cell and channel
  (``--image-codes categorical``).
* 1-D float ``Box``                                 -> vector ("velocity"): linear / linear, MSE.
* 2-D float ``Box`` (a matrix of features)          -> the same vector, flattened.
* 1-D integer ``Box`` or ``MultiDiscrete`` of ids   -> text tokens (0 = padding): LSTM / per-token
  logits, cross-entropy.
* ``Text`` (or any other space of strings, e.g. MiniGrid's ``MissionSpace``) -> the same text
  modality over characters: :class:`CharTokenizer` turns each batch of strings into ids
  (0 = padding, 1..len(charset) the characters), fixed length = the space's ``max_length``.
* ``Discrete``                                       -> one-hot / logits, cross-entropy.
* 1-D ``MultiBinary``                                -> the vector modality (bits as 0/1 floats).
* ``Dict`` maps each key to one of the above; ``Tuple`` entries are named "0", "1", ...

The previous action and reward are added by the MBP itself (see :mod:`merlin_rl.mbp`).
"""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn


class UnsupportedSpaceError(ValueError):
    """The observation or action space cannot be handled."""


SUPPORTED_OBS = (
    "Dict or Tuple of the following; image Box (H, W, C) or (C, H, W), C in {1, 3, 4}, uint8 or "
    "float; 1-D or 2-D (flattened) float Box vector; 1-D integer Box or MultiDiscrete of token "
    "ids; Text (or another space of strings); Discrete; 1-D MultiBinary (read as a 0/1 vector)"
)


class ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


def _num_downsamples(size: int) -> int:
    """Stride-2 stages that bring the smaller image side down to at most 4 pixels (at least one)."""
    return max(1, math.ceil(math.log2(max(size, 4) / 4)))


class ImageEncoder(nn.Module):
    """Small ResNet: [conv stride 2 -> residual block] x S, then a linear layer."""

    def __init__(self, shape: tuple[int, int, int], channels: int, out_dim: int) -> None:
        super().__init__()
        h, w, c = shape
        layers: list[nn.Module] = []
        in_ch = c
        for _ in range(_num_downsamples(min(h, w))):
            layers += [nn.Conv2d(in_ch, channels, 3, stride=2, padding=1), ResBlock(channels)]
            in_ch = channels
        layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)
        with torch.no_grad():
            flat = self.net(torch.zeros(1, c, h, w)).numel()
        self.out = nn.Linear(flat, out_dim)
        self.out_dim = out_dim

    def forward(self, x: Tensor) -> Tensor:  # x: (B, C, H, W) float in [0, 1]
        return F.relu(self.out(self.net(x).flatten(1)))


class MLPImageDecoder(nn.Module):
    """Small images (at most 32x32): an MLP straight to (C, H, W) logits (fast to learn and run)."""

    def __init__(self, shape: tuple[int, int, int], hidden: int, in_dim: int) -> None:
        super().__init__()
        h, w, c = shape
        self.shape = (c, h, w)
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, c * h * w))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(-1, *self.shape)


class ImageDecoder(nn.Module):
    """Linear layer to a small feature map, then transposed convolutions up to (C, H, W) logits."""

    def __init__(self, shape: tuple[int, int, int], channels: int, in_dim: int) -> None:
        super().__init__()
        h, w, c = shape
        s = _num_downsamples(min(h, w))
        self.hw0 = (math.ceil(h / 2**s), math.ceil(w / 2**s))
        self.channels = channels
        self.inp = nn.Linear(in_dim, channels * self.hw0[0] * self.hw0[1])
        layers: list[nn.Module] = []
        for i in range(s):
            layers += [nn.ReLU(), nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1)]
        layers += [nn.ReLU(), nn.Conv2d(channels, c, 3, padding=1)]
        self.net = nn.Sequential(*layers)
        self.shape = (c, h, w)

    def forward(self, z: Tensor) -> Tensor:
        x = self.inp(z).view(-1, self.channels, *self.hw0)
        x = self.net(x)
        c, h, w = self.shape
        return x[:, :, :h, :w]  # crop when H or W is not a multiple of 2^s


class TextEncoder(nn.Module):
    """Token ids (B, L) with 0 = padding -> embedding -> LSTM; the output at the last non-padding
    position (position 0 if all are padding). Zeros before it are read as they are (a zero
    embedding), so categorical features whose value 0 falls anywhere (a ``MultiDiscrete``
    [0, 3]) keep every position's information, and text padded on the left is read to its end."""

    def __init__(self, vocab: int, length: int, out_dim: int, embed: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed, padding_idx=0)
        self.lstm = nn.LSTM(embed, out_dim, batch_first=True)
        self.out_dim = out_dim

    def forward(self, tokens: Tensor) -> Tensor:
        out, _ = self.lstm(self.embed(tokens))  # (B, L, D)
        positions = torch.arange(1, tokens.shape[-1] + 1, device=tokens.device)
        last = ((tokens != 0) * positions).amax(-1).clamp(min=1) - 1  # (B,)
        return out.gather(1, last.view(-1, 1, 1).expand(-1, 1, out.shape[-1])).squeeze(1)


class Modality(nn.Module):
    """One observation entry: how to turn it into a tensor, encode it, decode it and score it."""

    kind: str = ""

    def __init__(self, encoder: nn.Module, enc_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.enc_dim = enc_dim
        self.decoder: nn.Module | None = None

    def build_decoder(self, z_dim: int, hidden: int) -> None:
        raise NotImplementedError

    def to_tensor(self, x: Any, device: torch.device) -> Tensor:
        raise NotImplementedError

    def recon_loss(self, z: Tensor, target: Tensor) -> Tensor:
        """Negative log-likelihood of ``target`` under the decoder given z, summed per env -> (B,)."""
        raise NotImplementedError


def to_device(x: Any, device: torch.device, dtype: Any = None) -> Tensor:
    """A batch of observations (NumPy) as a tensor on ``device``, moved once: on CUDA through
    pinned host memory with a non-blocking copy (it overlaps with the work already queued)."""
    t = torch.from_numpy(np.ascontiguousarray(np.asarray(x, dtype=dtype)))
    if torch.device(device).type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


class ImageModality(Modality):
    kind = "image"

    def __init__(
        self,
        shape: tuple[int, int, int],
        channels: int,
        out_dim: int,
        channels_first: bool = False,
        scale: float = 255.0,
        integer: bool = False,
    ) -> None:
        super().__init__(ImageEncoder(shape, channels, out_dim), out_dim)
        self.shape = shape  # (H, W, C) whatever the layout of the observation
        self.channels = channels
        self.channels_first, self.scale = channels_first, scale
        self.integer = integer  # uint8 observations (their divisor is ObservationCodec's)
        self.output = "sigmoid"  # build_decoder's ``output``
        self.codes = 0  # K > 0: each value is one of K codes, scored as a categorical

    @property
    def symbolic(self) -> bool:
        """An integer image of small codes (MiniGrid's object, colour and state ids): its divisor
        is not the pixels' 255 (auto_image_scale)."""
        return self.integer and self.scale != PIXEL_SCALE

    def build_decoder(
        self,
        z_dim: int,
        hidden: int,
        kind: str = "auto",
        output: str = "sigmoid",
        codes: str = "scaled",
    ) -> None:
        """``kind`` "auto": an MLP for at most 32 x 32 pixels, else transposed convolutions;
        "mlp" or "conv": that one at every size. ``output``: what ``recon_loss`` scores (the
        decoder's output through a sigmoid, or as it is). ``codes`` "categorical" and a
        :attr:`symbolic` image: each value is one of K = scale + 1 codes, the decoder gives K
        logits per cell and channel, and ``recon_loss`` is their cross-entropy (``output`` is
        not used); "scaled": the codes / scale are scored as pixels."""
        self.output = output
        self.codes = int(round(self.scale)) + 1 if codes == "categorical" and self.symbolic else 0
        h, w, c = self.shape
        shape = (h, w, c * max(self.codes, 1))
        if kind == "mlp" or (kind == "auto" and h * w <= 32 * 32):
            self.decoder = MLPImageDecoder(shape, hidden, z_dim)
        else:
            self.decoder = ImageDecoder(shape, self.channels, z_dim)

    def code_logits(self, z: Tensor) -> Tensor:
        """Categorical images: the decoder's logits (B, K, C, H, W) of each cell's K codes."""
        h, w, c = self.shape
        return self.decoder(z).view(-1, self.codes, c, h, w)

    def to_tensor(self, x: Any, device: torch.device) -> Tensor:
        t = to_device(x, device)  # uint8 over the bus, converted to float on the device
        t = t if self.channels_first else t.permute(0, 3, 1, 2)
        return t.float().div_(self.scale)

    def mean(self, z: Tensor) -> Tensor:
        """The decoder's pixel means (B, C, H, W): sigmoid(output) ("sigmoid", "bernoulli"), or
        the output ("linear"); for categorical codes the likeliest code / scale."""
        if self.codes:
            return self.code_logits(z).argmax(1).float() / self.scale
        out = self.decoder(z)
        return out if self.output == "linear" else torch.sigmoid(out)

    def reconstruct(self, z: Tensor) -> Tensor:
        """The image drawn from z (B, C, H, W) in [0, 1]."""
        return self.mean(z).clamp(0.0, 1.0)

    def recon_loss(self, z: Tensor, target: Tensor) -> Tensor:
        """The ELBO's image term, summed per env (B,). "sigmoid", "linear": the squared error of
        the pixel means, a Gaussian NLL of fixed scale up to a constant (DESIGN.md: "Image:
        Gaussian/MSE on pixels"). "bernoulli": the cross-entropy of the pixels under
        Bernoulli(sigmoid(output)), -[x log p + (1 - x) log(1 - p)], whose gradient in the
        output, p - x, never vanishes while the pixel is wrong. Categorical codes: the
        cross-entropy -log p(code) of each cell's and channel's code (target x scale, rounded;
        a value above K - 1 counts as K - 1)."""
        if self.codes:
            codes = (target * self.scale).round().long().clamp_(0, self.codes - 1)
            ce = F.cross_entropy(self.code_logits(z), codes, reduction="none")
            return ce.flatten(1).sum(-1)
        if self.output == "bernoulli":
            bce = F.binary_cross_entropy_with_logits(self.decoder(z), target, reduction="none")
            return bce.flatten(1).sum(-1)
        return (self.mean(z) - target).pow(2).flatten(1).sum(-1)


# vector inputs with a learned scale: log sigma starts where the Gaussian NLL has the squared
# error's gradient (sigma^2 = 1/2) and stays at or above log config.vector_sigma_min
VECTOR_LOG_SIGMA_INIT = 0.5 * math.log(0.5)


class VectorModality(Modality):
    kind = "vector"

    def __init__(self, dim: int, out_dim: int, shape: tuple[int, ...] | None = None) -> None:
        super().__init__(nn.Linear(dim, out_dim), out_dim)
        self.dim = dim
        self.shape = shape or (dim,)  # the space's shape; (D,) unless a matrix is flattened
        self.log_sigma: nn.Parameter | None = None
        self.log_sigma_min = math.log(0.1)

    def build_decoder(
        self, z_dim: int, hidden: int, sigma: str = "fixed", sigma_min: float = 0.1
    ) -> None:
        """A linear decoder; ``sigma`` "learned" adds a free log sigma per dimension (D,), used
        at ``sigma_min`` or above."""
        self.decoder = nn.Linear(z_dim, self.dim)
        self.log_sigma_min = math.log(sigma_min)
        if sigma == "learned":
            self.log_sigma = nn.Parameter(torch.full((self.dim,), VECTOR_LOG_SIGMA_INIT))

    def to_tensor(self, x: Any, device: torch.device) -> Tensor:
        """(..., *shape) -> (..., D): a matrix-shaped float Box is flattened."""
        t = to_device(x, device, np.float32)
        if len(self.shape) == 1:
            return t
        return t.reshape(*t.shape[: t.dim() - len(self.shape)], self.dim)

    def recon_loss(self, z: Tensor, target: Tensor) -> Tensor:
        """Fixed: sum_d (x_d - mu_d)^2. Learned: the Gaussian NLL up to its constant,
        sum_d (x_d - mu_d)^2 / (2 sigma_d^2) + log sigma_d, sigma_d >= sigma_min (calibrated:
        the scale follows each dimension's error, so a dimension that is rarely informative, e.g.
        a cue shown at step 0 only, is weighted by its small error elsewhere) -> (B,)."""
        err = (self.decoder(z) - target).pow(2)
        if self.log_sigma is None:
            return err.sum(-1)
        log_sigma = self.log_sigma.clamp(min=self.log_sigma_min)
        return (0.5 * err * torch.exp(-2.0 * log_sigma) + log_sigma).sum(-1)


class TextModality(Modality):
    kind = "text"

    def __init__(self, vocab: int, length: int, out_dim: int) -> None:
        super().__init__(TextEncoder(vocab, length, out_dim), out_dim)
        self.vocab, self.length = vocab, length

    def build_decoder(self, z_dim: int, hidden: int) -> None:
        self.decoder = nn.Sequential(
            nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, self.length * self.vocab)
        )

    def to_tensor(self, x: Any, device: torch.device) -> Tensor:
        return to_device(x, device, np.int64)

    def recon_loss(self, z: Tensor, target: Tensor) -> Tensor:
        logits = self.decoder(z).view(-1, self.length, self.vocab)
        return F.cross_entropy(logits.transpose(1, 2), target, reduction="none").sum(-1)


# characters of string spaces that declare none (e.g. MiniGrid's MissionSpace): printable ASCII
DEFAULT_CHARSET = "".join(chr(c) for c in range(32, 127))
MAX_TEXT_LENGTH = 1024  # longest string observation (characters) the text encoder takes


class CharTokenizer:
    """Strings -> character ids, vectorised over a batch with NumPy.

    Ids: 0 padding, ``1..len(charset)`` the characters of ``charset`` in order, ``len(charset) + 1``
    any other character (never produced for a ``Text`` space's own strings). Every string becomes
    ``length`` ids: shorter ones are padded with 0, longer ones cut. The last batch of strings and
    its ids are cached: missions that do not change between steps are converted once."""

    def __init__(self, charset: str, length: int) -> None:
        if len(set(charset)) != len(charset) or not charset:
            raise ValueError(f"charset must be distinct characters, got {charset!r}")
        self.charset, self.length = charset, length
        self.vocab = len(charset) + 2
        self.unknown = len(charset) + 1
        codes = np.array([ord(c) for c in charset])
        self.lut = np.full(int(codes.max()) + 2, self.unknown, np.int64)  # code point -> id
        self.lut[codes] = np.arange(1, len(charset) + 1)
        self.lut[0] = 0  # NUL: what NumPy pads shorter strings with
        self._last: tuple[tuple[str, ...], np.ndarray] | None = None

    def encode(self, strings: Any) -> np.ndarray:
        """A string or a batch of them (tuple, list or array) -> int64 ids [B, length]."""
        if isinstance(strings, str):
            strings = (strings,)
        key = tuple(strings) if isinstance(strings, (tuple, list)) else None
        if key is not None and self._last is not None and self._last[0] == key:
            return self._last[1].copy()
        arr = np.asarray(strings if key is None else key, dtype=np.str_).reshape(-1)
        width = arr.dtype.itemsize // 4  # UCS-4: one uint32 code point per character
        points = np.ascontiguousarray(arr).view(np.uint32).reshape(len(arr), width)
        points = points[:, : self.length]
        ids = np.zeros((len(arr), self.length), np.int64)
        # code points past the table (its last entry is "unknown") clip onto that entry
        ids[:, : points.shape[1]] = self.lut[np.minimum(points, len(self.lut) - 1)]
        if key is not None:
            self._last = (key, ids.copy())
        return ids

    def decode(self, ids: Any) -> list[str]:
        """Ids [B, L] -> strings (padding dropped; unknown characters as U+FFFD)."""
        chars = ("",) + tuple(self.charset) + ("\ufffd",)
        return ["".join(chars[int(i)] for i in row) for row in np.atleast_2d(np.asarray(ids))]


def _is_string_space(space: gym.Space) -> bool:
    return isinstance(space, gym.spaces.Text) or (
        space.dtype is not None and np.dtype(space.dtype).kind == "U"
    )


def string_tokenizer(name: str, space: gym.Space) -> CharTokenizer:
    """The character tokenizer of a string space: a ``Text`` space's own character set (sorted,
    so ids do not depend on set order) and ``max_length``; for other string spaces (no declared
    characters or length) printable ASCII plus any other character of its strings, and the
    longest string among all MiniGrid-style mission combinations (up to 4096) or 256 samples of a
    copy seeded with 0 (so the same space always gives the same tokenizer)."""
    if isinstance(space, gym.spaces.Text):
        charset, length = "".join(sorted(space.character_set)), int(space.max_length)
    else:
        samples: list[str] = []
        holders = getattr(space, "ordered_placeholders", None)
        func = getattr(space, "mission_func", None)
        if callable(func) and holders is None:
            samples = [func()]
        elif callable(func) and math.prod(len(h) for h in holders) <= 4096:
            samples = [func(*combo) for combo in itertools.product(*holders)]
        if not samples:
            try:
                probe = copy.deepcopy(space)
                probe.seed(0)
                samples = [probe.sample() for _ in range(256)]
            except Exception as e:  # noqa: BLE001 - any failure means: cannot size it
                raise UnsupportedSpaceError(
                    f"observation {name!r}: cannot sample strings from {space} to size the text "
                    f"encoder ({e.__class__.__name__}: {e})"
                ) from None
        extra = sorted({c for t in samples for c in str(t)} - set(DEFAULT_CHARSET))
        charset, length = DEFAULT_CHARSET + "".join(extra), max(1, *(len(str(t)) for t in samples))
    if length > MAX_TEXT_LENGTH:
        raise UnsupportedSpaceError(
            f"observation {name!r}: strings of up to {length} characters; "
            f"at most {MAX_TEXT_LENGTH} are supported"
        )
    if not charset:
        raise UnsupportedSpaceError(f"observation {name!r}: the Text space has no characters")
    return CharTokenizer(charset, length)


class StringModality(TextModality):
    """Strings (a ``Text`` space): character ids through :class:`CharTokenizer`, then exactly the
    token-id text modality (LSTM encoder, per-character logits, cross-entropy reconstruction)."""

    def __init__(self, tokenizer: CharTokenizer, out_dim: int) -> None:
        super().__init__(tokenizer.vocab, tokenizer.length, out_dim)
        self.tokenizer = tokenizer

    def to_tensor(self, x: Any, device: torch.device) -> Tensor:
        if isinstance(x, Tensor):  # already ids
            return x.to(device=device, dtype=torch.int64)
        return torch.from_numpy(self.tokenizer.encode(x)).to(device)


class DiscreteModality(Modality):
    kind = "discrete"

    def __init__(self, n: int, start: int = 0) -> None:
        super().__init__(nn.Identity(), n)
        self.n, self.start = n, start

    def build_decoder(self, z_dim: int, hidden: int) -> None:
        self.decoder = nn.Linear(z_dim, self.n)

    def to_tensor(self, x: Any, device: torch.device) -> Tensor:
        idx = to_device(x, device, np.int64) - self.start
        return F.one_hot(idx, self.n).float()

    def recon_loss(self, z: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(self.decoder(z), target.argmax(-1), reduction="none")


MAX_VOCAB = 100_000
MAX_VECTOR = 65_536  # numbers in a flattened non-image float Box


def _image_layout(space: gym.spaces.Box) -> tuple[tuple[int, int, int], bool, float] | None:
    """((H, W, C), channels_first, scale to [0, 1]) for a 3-D Box that looks like an image:
    uint8 or float, channels (1, 3 or 4) last (HWC) or first (CHW)."""
    shape = tuple(space.shape)
    if len(shape) != 3:
        return None
    if space.dtype == np.uint8:
        scale = 255.0
    elif np.issubdtype(space.dtype, np.floating) and np.all(np.isfinite(space.high)):
        scale = 255.0 if float(space.high.max()) > 1.0 else 1.0
    else:
        return None
    if shape[-1] in (1, 3, 4):
        return (shape[0], shape[1], shape[2]), False, scale
    if shape[0] in (1, 3, 4):
        return (shape[1], shape[2], shape[0]), True, scale
    return None


def _vocab(name: str, size: int) -> int:
    if size > MAX_VOCAB:
        raise UnsupportedSpaceError(
            f"observation {name!r}: token ids go up to {size - 1}; at most "
            f"{MAX_VOCAB - 1} is supported (is it really text?)"
        )
    return size


def modality_for_space(name: str, space: gym.Space, image_channels: int, enc_dim: int) -> Modality:
    """Pick the encoder for one (non-Dict) observation space, or raise UnsupportedSpaceError."""
    if isinstance(space, gym.spaces.Box):
        shape = tuple(space.shape)
        image = _image_layout(space)
        if image is not None:
            hwc, channels_first, scale = image
            integer = _is_integer_image(space)
            return ImageModality(hwc, image_channels, enc_dim, channels_first, scale, integer)
        if np.issubdtype(space.dtype, np.floating) and len(shape) == 1:
            return VectorModality(shape[0], enc_dim)
        if np.issubdtype(space.dtype, np.floating) and len(shape) == 2 and 0 < math.prod(shape):
            if math.prod(shape) > MAX_VECTOR:
                raise UnsupportedSpaceError(
                    f"observation {name!r}: a float Box of shape {shape} that is not an image "
                    f"flattens to {math.prod(shape)} numbers; at most {MAX_VECTOR} are supported"
                )
            return VectorModality(math.prod(shape), enc_dim, shape)  # flattened
        if np.issubdtype(space.dtype, np.integer) and len(shape) == 1:
            if space.low.min() < 0:
                raise UnsupportedSpaceError(
                    f"observation {name!r}: token ids must be >= 0, got low={space.low.min()}"
                )
            return TextModality(_vocab(name, int(space.high.max()) + 1), shape[0], enc_dim)
    elif isinstance(space, gym.spaces.MultiDiscrete) and len(space.nvec.shape) == 1:
        if np.any(space.start != 0):
            raise UnsupportedSpaceError(
                f"observation {name!r}: MultiDiscrete token ids must start at 0, got start={space.start}"
            )
        return TextModality(_vocab(name, int(space.nvec.max())), int(space.nvec.shape[0]), enc_dim)
    elif isinstance(space, gym.spaces.MultiBinary) and len(space.shape) == 1:
        return VectorModality(int(space.shape[0]), enc_dim)  # bits as a 0/1 float vector
    elif isinstance(space, gym.spaces.Discrete):
        return DiscreteModality(int(space.n), int(space.start))
    elif _is_string_space(space):
        return StringModality(string_tokenizer(name, space), enc_dim)
    raise UnsupportedSpaceError(
        f"observation {name!r} has unsupported space {space}; supported: {SUPPORTED_OBS}"
    )


PIXEL_SCALE = 255.0  # uint8 images are pixels in 0..255 unless their values stay small
SYMBOLIC_MAX = 31  # an integer image whose first observations never exceed this holds codes


def auto_image_scale(values_max: float) -> float:
    """The divisor of an integer image input, from the largest value seen in its first
    observations: pixels (max above 31, or nothing but zeros) are divided by 255; a grid of small
    codes (MiniGrid's object, colour and state ids) by the smallest 2^k - 1 >= its max, so that its
    values span [0, 1] and its reconstruction error counts (the likelihood scale of the modality,
    DESIGN.md §2, "the latent must carry the observation")."""
    if values_max <= 0 or values_max > SYMBOLIC_MAX:
        return PIXEL_SCALE
    return float(2 ** math.ceil(math.log2(values_max + 1)) - 1)


def space_items(space: gym.Space) -> list[tuple[str, gym.Space]]:
    """(key, space) of each modality: a Dict's keys, a Tuple's "0", "1", ..., else "obs"."""
    if isinstance(space, gym.spaces.Dict):
        return list(space.spaces.items())
    if isinstance(space, gym.spaces.Tuple):
        return [(str(i), sub) for i, sub in enumerate(space.spaces)]
    return [("obs", space)]


def obs_by_key(space: gym.Space, obs: Any) -> dict[str, Any]:
    """A (batch of) observation(s) keyed like :func:`space_items`."""
    if isinstance(space, gym.spaces.Tuple):
        return {str(i): o for i, o in enumerate(obs)}
    if isinstance(space, gym.spaces.Dict):
        return obs
    return {"obs": obs}


def _is_integer_image(space: gym.Space) -> bool:
    """A uint8 image Box (its divisor is the codec's ``image_scale``)."""
    return (
        isinstance(space, gym.spaces.Box)
        and space.dtype == np.uint8
        and _image_layout(space) is not None
    )


def integer_image_keys(space: gym.Space) -> list[str]:
    """The keys of the integer (uint8) image inputs of an observation space."""
    return [k for k, s in space_items(space) if _is_integer_image(s)]


def integer_image_max(space: gym.Space, obs: Any) -> float:
    """The largest value of the integer image inputs in a batch of observations (0 if none)."""
    by_key = obs_by_key(space, obs)
    return max(
        (float(np.max(np.asarray(by_key[k]))) for k in integer_image_keys(space)), default=0.0
    )


class ObservationCodec(nn.Module):
    """All modalities of an observation space: tensors in, encoding e_t out, reconstruction losses.

    ``image_scale`` > 0 divides every integer (uint8) image input by it instead of 255 (float
    images keep their own range); 0 keeps 255. ``norm`` "layer" layer-normalises each
    modality's encoding (learned gain and bias) before they are joined; "none" joins them as
    they are."""

    def __init__(
        self,
        space: gym.Space,
        image_channels: int = 16,
        enc_dim: int = 64,
        image_scale: float = 0.0,
        norm: str = "none",
    ) -> None:
        super().__init__()
        self.space = space
        items = space_items(space)
        if not items:
            raise UnsupportedSpaceError(
                "observation space is an empty Dict; it needs at least one key"
            )
        self.names = [k for k, _ in items]  # observation keys, in order
        # modules live under positional names: any observation key works, even "a.b" or "type"
        self.modalities = nn.ModuleDict(
            {
                f"m{i}": modality_for_space(k, s, image_channels, enc_dim)
                for i, (k, s) in enumerate(items)
            }
        )
        self.out_dim = sum(m.enc_dim for m in self.modalities.values())
        # per-modality LayerNorm (norm "layer"); none by default, so older checkpoints load
        self.norms = (
            nn.ModuleDict({n: nn.LayerNorm(m.enc_dim) for n, m in self.modalities.items()})
            if norm == "layer"
            else None
        )
        for m in self.modalities.values():
            if isinstance(m, ImageModality) and m.integer:
                m.scale = float(image_scale) if image_scale > 0 else PIXEL_SCALE

    def build_decoders(
        self,
        z_dim: int,
        hidden: int,
        vector_sigma: str = "fixed",
        sigma_min: float = 0.1,
        image_decoder: str = "auto",
        image_output: str = "sigmoid",
        image_codes: str = "scaled",
    ) -> None:
        """Every modality's decoder; ``vector_sigma`` and ``sigma_min`` are vector inputs' scale
        and its floor (VectorModality), ``image_decoder``, ``image_output`` and ``image_codes``
        images' (ImageModality)."""
        for m in self.modalities.values():
            if isinstance(m, VectorModality):
                m.build_decoder(z_dim, hidden, vector_sigma, sigma_min)
            elif isinstance(m, ImageModality):
                m.build_decoder(z_dim, hidden, image_decoder, image_output, image_codes)
            else:
                m.build_decoder(z_dim, hidden)

    def items(self) -> list[tuple[str, Modality]]:
        """(observation key, modality) pairs."""
        return list(zip(self.names, self.modalities.values()))

    def modality(self, name: str) -> Modality:
        return self.modalities[f"m{self.names.index(name)}"]

    def to_tensors(self, obs: Any, device: torch.device) -> dict[str, Tensor]:
        obs = obs_by_key(self.space, obs)
        return {k: m.to_tensor(obs[k], device) for k, m in self.items()}

    def encode(self, obs: dict[str, Tensor]) -> Tensor:
        """e_t: the modalities' encodings joined (..., out_dim), each layer-normalised first with
        norm "layer"."""
        parts = [m.encoder(obs[k]) for k, m in self.items()]
        if self.norms is not None:  # built in the modalities' order
            parts = [ln(x) for ln, x in zip(self.norms.values(), parts)]
        return torch.cat(parts, dim=-1)
