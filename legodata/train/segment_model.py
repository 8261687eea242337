"""The masking model that segments every part at once: a plain U-Net, then two per-pixel embeddings.

The query-conditioned U-Net (:class:`legodata.train.models.MaskUNet`) runs once per query, and a query only ever
names something in the scene, so it can score well by masking the queried colour. This model runs once per image
and answers every query from it: each pixel gets a *part* embedding, scored against every part's row (softmax over
the parts and the background: which shape is this pixel?), and a *colour* embedding, scored against the colours'
vectors (from index and sRGB, so an unseen colour is still a vector) and "no colour". The answer to the query
(part p, colour c) is where p is the pixel's likeliest part and c its likeliest colour. Training supervises every
part and colour of every pixel, so each image teaches every query and every absent part at once
(:func:`segment_loss`).
"""

from __future__ import annotations

from legodata.errors import LegodataError
from legodata.train.models import _block, torch

nn = torch.nn
F = torch.nn.functional


class SegmentQuery(nn.Module):
    """Vectors of the parts (one row each, the background last) and of colours (index row + sRGB; index 0, the
    unknown colour, works from its sRGB alone), in the pixel embeddings' space."""

    def __init__(self, n_parts: int, n_colours: int, dim: int) -> None:
        super().__init__()
        self.part = nn.Embedding(n_parts, dim)
        self.background = nn.Parameter(torch.zeros(dim))
        self.colour = nn.Embedding(n_colours + 1, dim)  # row 0: unknown colour
        self.rgb = nn.Linear(3, dim)
        self.mlp = nn.Sequential(nn.ReLU(), nn.Linear(dim, dim))
        self.no_colour = nn.Parameter(torch.zeros(dim))  # the background's "colour"

    def parts(self):
        """(n_parts + 1, dim): every part's row, the background last."""
        return torch.cat([self.part.weight, self.background[None]], dim=0)

    def colours(self, colour, colour_rgb):
        """(..., dim) vectors of colour indices ``colour`` with sRGB ``colour_rgb`` (..., 3)."""
        return self.mlp(self.colour(colour) + self.rgb(colour_rgb))


class MaskSegNet(nn.Module):
    """U-Net features -> per-pixel part and colour embeddings; see the module docstring."""

    query_mode = "id"

    def __init__(self, n_parts: int, colour_rgb, base: int = 16, depth: int = 4, dim: int = 32) -> None:
        """``colour_rgb``: (n_colours, 3) sRGB of the vocabulary's colours (index k + 1 is row k): every pixel is
        scored against all of them in training, and a queried colour against them in prediction."""
        super().__init__()
        table = torch.as_tensor(colour_rgb, dtype=torch.float32).reshape(-1, 3)
        self.register_buffer("colour_table", table, persistent=False)
        chans = [base * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList()
        cin = 3
        for c in chans:
            self.down.append(_block(cin, c))
            cin = c
        self.up = nn.ModuleList()
        self.up_conv = nn.ModuleList()
        for c in reversed(chans[:-1]):
            self.up.append(nn.ConvTranspose2d(cin, c, 2, stride=2))
            self.up_conv.append(_block(2 * c, c))
            cin = c
        self.part_pixels = nn.Conv2d(cin, dim, 1)
        self.colour_pixels = nn.Conv2d(cin, dim, 1)
        # most pixels are background: start there, as a detector starts its classifier at the prior
        self.part_bias = nn.Parameter(torch.cat([torch.zeros(n_parts), torch.tensor([3.0])]))
        self.no_colour_bias = nn.Parameter(torch.tensor(3.0))
        self.query = SegmentQuery(n_parts, table.shape[0], dim)
        self.multiple = 2**depth
        self.scale = dim**-0.5

    def features(self, image):
        """(B, 3, H, W) -> per-pixel features (B, base, H, W)."""
        h, w = image.shape[-2:]
        if h % self.multiple or w % self.multiple:
            raise LegodataError(f"image size {h}x{w}: the mask model needs multiples of {self.multiple}")
        skips, x = [], image
        for i, block in enumerate(self.down):
            x = block(F.max_pool2d(x, 2) if i else x)
            skips.append(x)
        for up, conv, skip in zip(self.up, self.up_conv, reversed(skips[:-1])):
            x = conv(torch.cat([up(x), skip], dim=1))
        return x

    def part_logits(self, feats):
        """(B, n_parts + 1, H, W): every part's score per pixel, the background last."""
        scores = torch.einsum("bdhw,pd->bphw", self.part_pixels(feats), self.query.parts()) * self.scale
        return scores + self.part_bias.to(scores.dtype)[None, :, None, None]

    def colour_logits(self, feats, vectors):
        """(B, 1 + K, H, W): every pixel's score for no colour (the background) and each colour of ``vectors``
        (B, K, dim)."""
        pixels = self.colour_pixels(feats)
        scores = torch.einsum("bdhw,bkd->bkhw", pixels, vectors.to(pixels.dtype)) * self.scale
        none = torch.einsum("bdhw,d->bhw", pixels, self.query.no_colour.to(pixels.dtype))[:, None] * self.scale
        return torch.cat([none + self.no_colour_bias.to(none.dtype), scores], dim=1)

    def vocabulary_colours(self, batch: int):
        """(batch, K, dim): the vectors of the vocabulary's colours, index k + 1 in row k."""
        k = self.colour_table.shape[0]
        index = torch.arange(1, k + 1, device=self.colour_table.device)
        return self.query.colours(index, self.colour_table).expand(batch, k, -1)

    def forward(self, image, part=None, colour=None, colour_rgb=None, ref=None):
        """With a query (``part``, ``colour``, ``colour_rgb``, one per image): (B, 1, H, W) scores, positive where
        the queried part is the pixel's likeliest and the queried colour its likeliest (as :class:`MaskUNet`
        answers). Without one (training, through ``forward`` so DDP sees it): part logits (B, n_parts + 1, H, W)
        and colour logits (B, 1 + K, H, W) (no colour first, then the K vocabulary colours)."""
        feats = self.features(image)
        vocab = self.vocabulary_colours(len(image))
        if part is None:
            return self.part_logits(feats), self.colour_logits(feats, vocab)
        part_margin = _margin(self.part_logits(feats).float(), part)
        # the queried colour against no colour and every vocabulary colour but itself
        queried = self.query.colours(colour, colour_rgb)[:, None]
        scores = self.colour_logits(feats, torch.cat([queried, vocab], dim=1)).float()
        rivals = scores.clone()
        rivals[:, 1] = float("-inf")
        known = colour > 0
        rivals[known, 1 + colour[known]] = float("-inf")
        colour_margin = scores[:, 1:2] - rivals.amax(dim=1, keepdim=True)
        return torch.minimum(part_margin, colour_margin)


def _margin(scores, index):
    """(B, 1, H, W): score of class ``index[b]`` minus the best other class's, per pixel."""
    where = index.view(-1, 1, 1, 1).expand(-1, 1, *scores.shape[-2:])
    return scores.gather(1, where) - scores.scatter(1, where, float("-inf")).amax(dim=1, keepdim=True)


def _dice_of_present(prob, target):
    """Mean (1 - soft Dice) over the (image, class) pairs the targets (B, K, H, W) hold."""
    present = target.amax(dim=(2, 3))
    inter = (prob * target).sum(dim=(2, 3))
    dice = (2 * inter + 1) / (prob.sum(dim=(2, 3)) + target.sum(dim=(2, 3)) + 1)
    return ((1 - dice) * present).sum() / present.sum().clamp(min=1)


def segment_loss(part_logits, colour_logits, part_map, colour_map):
    """Per pixel, cross-entropy of its part (background = the last index) and of its colour (0 = none, the
    background); plus, as the per-query model's Dice, a soft Dice of every part and colour an image holds (small
    parts count as much as large ones)."""
    part_logits, colour_logits = part_logits.float(), colour_logits.float()
    loss = F.cross_entropy(part_logits, part_map) + F.cross_entropy(colour_logits, colour_map)
    n_parts, n_colours = part_logits.shape[1] - 1, colour_logits.shape[1]
    part_target = F.one_hot(part_map, n_parts + 1).movedim(-1, 1).float()[:, :n_parts]
    colour_target = F.one_hot(colour_map, n_colours).movedim(-1, 1).float()[:, 1:]
    loss = loss + _dice_of_present(torch.softmax(part_logits, dim=1)[:, :n_parts], part_target)
    return loss + _dice_of_present(torch.softmax(colour_logits, dim=1)[:, 1:], colour_target)
