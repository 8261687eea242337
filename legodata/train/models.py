"""The two networks: a part-conditioned U-Net (FiLM) for masks and a small CNN scoring an SO(3) rotation grid.

Both are rebuilt from a plain ``model_config`` dict stored in every checkpoint (:func:`build_model`).
"""

from __future__ import annotations

from typing import Any

from legodata.errors import LegodataError, require

torch = require("torch", "train")
nn = torch.nn
F = torch.nn.functional


def rotation_6d_to_matrix(x):
    """Gram-Schmidt on two 3-vectors (..., 6) -> rotation matrices (..., 3, 3) whose first two columns follow them."""
    a1, a2 = x[..., 0:3], x[..., 3:6]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


class _SumOverProcesses(torch.autograd.Function):
    """``all_reduce(SUM)`` with its gradient: the sum over processes of the gradients of every process."""

    @staticmethod
    def forward(ctx, x):
        x = x.clone()
        torch.distributed.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        torch.distributed.all_reduce(grad)
        return grad


class BatchNorm2d(nn.BatchNorm2d):
    """BatchNorm whose training statistics are those of the global batch under DDP (every process), so N processes
    of batch B train as one process of batch N*B. torch's SyncBatchNorm does this only on GPUs; this works with gloo
    on CPU too. Single-process training and eval use ``nn.BatchNorm2d`` unchanged (same state dict)."""

    def forward(self, x):
        dist = torch.distributed
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        xf = x.float()
        count = torch.tensor([xf.numel() / xf.shape[1]], device=x.device)
        sums = _SumOverProcesses.apply(torch.cat([xf.sum(dim=(0, 2, 3)), count]))
        n = sums[-1]
        mean = sums[:-1] / n
        centred = xf - mean[None, :, None, None]
        var = _SumOverProcesses.apply((centred * centred).sum(dim=(0, 2, 3))) / n
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                f = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - f).add_(mean.detach(), alpha=f)
                self.running_var.mul_(1 - f).add_(var.detach() * (n / (n - 1)), alpha=f)
        y = centred * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y.to(x.dtype)


def _block(cin: int, cout: int):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class FiLM(nn.Module):
    """Feature-wise affine modulation ``x * (1 + gamma) + beta`` from a conditioning vector."""

    def __init__(self, cond_dim: int, channels: int) -> None:
        super().__init__()
        self.proj = nn.Linear(cond_dim, 2 * channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x, cond):
        gamma, beta = self.proj(cond).chunk(2, dim=-1)
        return x * (1 + gamma[..., None, None]) + beta[..., None, None]


class QueryEncoder(nn.Module):
    """(part index, colour index, colour sRGB) -> conditioning vector."""

    def __init__(self, n_parts: int, n_colours: int, dim: int) -> None:
        super().__init__()
        self.part = nn.Embedding(n_parts, dim)
        self.colour = nn.Embedding(n_colours + 1, dim)  # row 0: unknown colour
        self.rgb = nn.Linear(3, dim)
        self.mlp = nn.Sequential(nn.ReLU(), nn.Linear(dim, dim), nn.ReLU())

    def forward(self, part, colour, colour_rgb):
        return self.mlp(self.part(part) + self.colour(colour) + self.rgb(colour_rgb))


class ReferenceEncoder(nn.Module):
    """Reference image of the part (B, 3, R, R) -> conditioning vector: a small strided CNN, mean- and max-pooled."""

    def __init__(self, dim: int, width: int = 16) -> None:
        super().__init__()
        layers, cin = [], 3
        for c in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(cin, c, 3, stride=2, padding=1, bias=False), BatchNorm2d(c), nn.ReLU(inplace=True)]
            cin = c
        layers += [nn.Conv2d(cin, dim, 3, padding=1), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.mlp = nn.Sequential(nn.Linear(2 * dim, dim), nn.ReLU(), nn.Linear(dim, dim), nn.ReLU())

    def forward(self, ref):
        f = self.features(ref)
        return self.mlp(torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], dim=1))


QUERY_MODES = ("id", "image")


class MaskUNet(nn.Module):
    """U-Net whose every level is FiLM-modulated by the query; one logit per pixel (the queried part's mask).

    The query is (part, colour) with ``query="id"``, or a reference image of the part with ``query="image"``.
    ``part_head`` adds a second output: every pixel's part class (0 background, else part index + 1), whatever the
    query; :meth:`forward` returns it with ``with_parts=True``. ``colour_head`` adds another: every instance of the
    queried colour, whatever its part (the second look's candidates, :mod:`legodata.train.chooser`), returned with
    ``with_colour=True`` after the others."""

    def __init__(
        self,
        n_parts: int,
        n_colours: int,
        base: int = 16,
        depth: int = 4,
        cond_dim: int = 64,
        query: str = "id",
        part_head: bool = False,
        colour_head: bool = False,
    ) -> None:
        super().__init__()
        chans = [base * 2**i for i in range(depth + 1)]
        if query not in QUERY_MODES:
            raise LegodataError(f"mask model query {query!r}: expected one of {', '.join(QUERY_MODES)}")
        self.query_mode = query
        self.query = QueryEncoder(n_parts, n_colours, cond_dim) if query == "id" else ReferenceEncoder(cond_dim)
        self.down = nn.ModuleList()
        self.down_film = nn.ModuleList()
        cin = 3
        for c in chans:
            self.down.append(_block(cin, c))
            self.down_film.append(FiLM(cond_dim, c))
            cin = c
        self.up = nn.ModuleList()
        self.up_conv = nn.ModuleList()
        self.up_film = nn.ModuleList()
        for c in reversed(chans[:-1]):
            self.up.append(nn.ConvTranspose2d(cin, c, 2, stride=2))
            self.up_conv.append(_block(2 * c, c))
            self.up_film.append(FiLM(cond_dim, c))
            cin = c
        self.head = nn.Conv2d(cin, 1, 1)
        self.part_head = nn.Conv2d(cin, n_parts + 1, 1) if part_head else None
        self.colour_head = nn.Conv2d(cin, 1, 1) if colour_head else None
        self.multiple = 2**depth

    def forward(self, image, part, colour, colour_rgb, ref=None, with_parts: bool = False, with_colour: bool = False):
        h, w = image.shape[-2:]
        if h % self.multiple or w % self.multiple:
            raise LegodataError(f"image size {h}x{w}: the mask model needs multiples of {self.multiple}")
        if self.query_mode == "image":
            if ref is None:
                raise LegodataError("this mask model is queried by a reference image of the part: give one")
            cond = self.query(ref)
        else:
            cond = self.query(part, colour, colour_rgb)
        if with_parts and self.part_head is None:
            raise LegodataError("this mask model has no part head")
        if with_colour and self.colour_head is None:
            raise LegodataError("this mask model has no colour head")
        skips = []
        x = image
        for i, (block, film) in enumerate(zip(self.down, self.down_film)):
            if i:
                x = F.max_pool2d(x, 2)
            x = film(block(x), cond)
            skips.append(x)
        for up, conv, film, skip in zip(self.up, self.up_conv, self.up_film, reversed(skips[:-1])):
            x = film(conv(torch.cat([up(x), skip], dim=1)), cond)
        outputs = [self.head(x)]
        if with_parts:
            outputs.append(self.part_head(x))
        if with_colour:
            outputs.append(self.colour_head(x))
        return tuple(outputs) if len(outputs) > 1 else outputs[0]


class RotationGrid(nn.Module):
    """A fixed grid of rotations (:mod:`legodata.geometry.so3_grid`) and the maps between it and rotations.

    The network scores every grid rotation; :meth:`decode` turns the scores into one rotation: the softmax-weighted
    mean of the best-scoring grid rotation's ``k`` nearest neighbours, projected back onto SO(3) by Gram-Schmidt on
    its first two columns (the 6D representation). This is differentiable, so a geodesic loss can act on it.
    Buffers are not saved in checkpoints: the grid is rebuilt from its size.
    """

    def __init__(self, bins: int, k: int = 48) -> None:
        super().__init__()
        from legodata.geometry.so3_grid import grid_neighbours, super_fibonacci_rotations

        grid = super_fibonacci_rotations(bins)
        self.register_buffer("rotations", torch.from_numpy(grid).float(), persistent=False)
        self.register_buffer("neighbours", torch.from_numpy(grid_neighbours(grid, k)), persistent=False)

    def decode(self, logits):
        """Scores (B, N) -> rotations (B, 3, 3)."""
        near = self.neighbours[logits.argmax(dim=1)]  # (B, k)
        weights = torch.softmax(logits.gather(1, near).to(self.rotations.dtype), dim=1)
        mean = (weights[..., None, None] * self.rotations[near]).sum(dim=1)
        return rotation_6d_to_matrix(torch.cat([mean[..., 0], mean[..., 1]], dim=-1))

    def angles_to(self, R, sym):
        """Geodesic angle (B, N) from each grid rotation to the nearest of ``R @ S`` for S in ``sym`` (B, G, 3, 3)."""
        trace = torch.einsum("bgij,nij->bgn", R[:, None] @ sym, self.rotations).amax(dim=1)
        return torch.acos(((trace - 1) / 2).clamp(-1.0, 1.0))


class HarmonicScores(nn.Module):
    """Features -> grid scores through the band-limited functions on SO(3) of degree ``<= degree``
    (:mod:`legodata.geometry.so3_harmonics`): the layer predicts their coefficients, so near rotations get near
    scores."""

    def __init__(self, features: int, bins: int, degree: int) -> None:
        super().__init__()
        from legodata.geometry.so3_harmonics import grid_basis

        basis = torch.from_numpy(grid_basis(bins, degree).copy()).float()
        self.coefficients = nn.Linear(features, basis.shape[1])
        # orthonormal over the grid: scaled so that scores start as spread as the coefficients (not sqrt(K) times)
        self.register_buffer("basis", basis * (bins / basis.shape[1]) ** 0.5, persistent=False)

    def forward(self, x):
        with torch.autocast(device_type=x.device.type, enabled=False):  # scores precise enough to refine
            return self.coefficients(x.float()) @ self.basis.T


ROT_HEADS = ("grid", "harmonic")


class RotationNet(nn.Module):
    """Masked crop (RGB + mask) and part id -> a score per rotation of a fixed SO(3) grid.

    Classifying over the grid learns far faster from scratch than regressing a rotation directly, and a symmetric
    part simply scores all its equivalent rotations high. :meth:`rotation` refines the scores into one rotation.
    ``head="grid"`` scores every grid rotation freely; ``"harmonic"`` predicts a band-limited function of degree
    ``degree`` on SO(3) (:class:`HarmonicScores`), far more sample-efficient.
    """

    def __init__(
        self,
        n_parts: int,
        in_channels: int = 4,
        base: int = 32,
        depth: int = 5,
        emb_dim: int = 32,
        bins: int = 4096,
        head: str = "grid",
        degree: int = 6,
    ) -> None:
        super().__init__()
        layers, cin = [], in_channels
        for i in range(depth):
            c = base * 2 ** min(i, 3)
            layers += [
                nn.Conv2d(cin, c, 3, stride=2, padding=1, bias=False),
                BatchNorm2d(c),
                nn.ReLU(inplace=True),
                nn.Conv2d(c, c, 3, padding=1, bias=False),
                BatchNorm2d(c),
                nn.ReLU(inplace=True),
            ]
            cin = c
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.part = nn.Embedding(n_parts, emb_dim)
        if head not in ROT_HEADS:
            raise LegodataError(f"rotation model head {head!r}: expected one of {', '.join(ROT_HEADS)}")
        scores = nn.Linear(512, bins) if head == "grid" else HarmonicScores(512, bins, degree)
        self.head = nn.Sequential(nn.Linear(cin * 16 + emb_dim, 512), nn.ReLU(inplace=True), scores)
        self.grid = RotationGrid(bins)

    def forward(self, x, part):
        """Scores (B, bins) over ``self.grid``."""
        f = self.pool(self.features(x)).flatten(1)
        return self.head(torch.cat([f, self.part(part)], dim=1))

    def rotation(self, x, part):
        """Rotations (B, 3, 3) (allocentric, as the labels)."""
        return self.grid.decode(self(x, part))


def build_model(model_config: dict[str, Any]):
    """``{"kind": "mask"|"rot", ...}`` -> the network (fresh weights)."""
    kind = model_config.get("kind")
    if kind == "mask":
        return MaskUNet(
            n_parts=len(model_config["part_names"]),
            n_colours=len(model_config["colour_codes"]),
            base=model_config.get("base", 16),
            depth=model_config.get("depth", 4),
            query=model_config.get("query", "id"),
            part_head=model_config.get("part_head", False),
            colour_head=model_config.get("colour_head", False),
        )
    if kind == "rot":
        return RotationNet(
            n_parts=len(model_config["part_names"]),
            in_channels=model_config.get("in_channels", 4),
            base=model_config.get("base", 32),
            bins=model_config.get("bins", 4096),
            head=model_config.get("head", "grid"),
            degree=model_config.get("degree", 6),
        )
    raise LegodataError(f"model kind {kind!r} in a checkpoint is not 'mask' or 'rot'")


def load_weights(model, state_dict: dict, source: str) -> None:
    """Load ``state_dict`` strictly, or a LegodataError saying the checkpoint does not match the model."""
    state_dict = {k.removeprefix("module."): v for k, v in state_dict.items()}
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        first = " ".join(str(exc).split())[:240]
        raise LegodataError(
            f"{source} does not match the model (different task, parts or sizes?): {first}; "
            "use a checkpoint of the same command and settings"
        ) from None
