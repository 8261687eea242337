"""Predictions for new images from a trained run: masks and rotations, e.g. as pre-annotations for annotators.

    from legodata.train.predict import MaskPredictor, RotationPredictor
    masks = MaskPredictor("runs/mask").predict(image_rgb, part_id="3001", colour_code=4)      # bool H x W
    rot = RotationPredictor("runs/rot").predict_instance(image_rgb, instance_mask, "3001", K)  # .R_m2c, .quat_wxyz

Images are RGB uint8 arrays (H, W, 3). Rotations are model-to-camera in the OpenCV camera frame; quaternions are
wxyz with w >= 0. For a symmetric part any member of ``R_m2c @ S`` is equally right; the network returns one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from legodata.core.rotations import matrix_to_quat_wxyz
from legodata.errors import LegodataError
from legodata.geometry.crops import resize
from legodata.train import data


@dataclass(frozen=True)
class RotationPrediction:
    R_m2c: np.ndarray  # (3, 3) model-to-camera, OpenCV camera frame
    quat_wxyz: np.ndarray  # (4,) w >= 0
    confidence: float  # softmax mass of the grid rotations the answer was refined from, in [0, 1]


def _check_image(image: np.ndarray, what: str = "image") -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise LegodataError(f"{what}: expected an RGB uint8 array of shape (H, W, 3), got {image.dtype} {image.shape}")
    return image


def square_padded(image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """``image`` made square by mirroring its edges (the shorter side padded equally on both ends), and the
    ``(top, left)`` offset of the original in it. The models were trained on square scenes: padding keeps a photo's
    parts their shape, where stretching a 4:3 or 16:9 photo to a square would not."""
    h, w = image.shape[:2]
    if h == w:
        return image, (0, 0)
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    padded = cv2.copyMakeBorder(image, top, side - h - top, left, side - w - left, cv2.BORDER_REFLECT_101)
    return padded, (top, left)


def mask_box(mask: np.ndarray, margin: float = 0.1) -> tuple[int, int, int]:
    """The square crop box ``(x, y, size)`` the publisher takes around a boolean instance mask's visible box."""
    from legodata.geometry import crops as crop_ops

    box = crop_ops.mask_box(mask, margin)
    if box is None:
        raise LegodataError("predict_instance: the instance mask is empty")
    return box


class _Predictor:
    kind = ""

    def __init__(self, run_dir: str | Path, checkpoint: str = "best", device: str = "cpu", loaded=None) -> None:
        from legodata.train.evaluate import load_run

        loaded = loaded if loaded is not None else load_run(run_dir, checkpoint, device)
        self.run_dir = Path(run_dir)
        self.task, self.model, self.model_config, self.device = loaded
        if self.task.name != self.kind:
            raise LegodataError(f"{run_dir} is a {self.task.name!r} run, not a {self.kind!r} run")
        self.vocab = data.Vocab.from_json(self.model_config)
        self.image_size = int(self.model_config["image_size"])

    @property
    def part_names(self) -> list[str]:
        return list(self.vocab.part_names)


class MaskPredictor(_Predictor):
    """Mask of the queried part (all its instances of that colour) in a full image."""

    kind = "mask"

    def probabilities(self, image: np.ndarray, part_id: str, colour_code: int, reference=None) -> np.ndarray:
        """Per-pixel probability (H, W) float32 at the image's own size (a non-square image is first made square by
        :func:`square_padded`, the model's input size, and the answer cropped back). A ``--query image`` run needs
        ``reference``: an RGB image of the part alone on black (e.g. :func:`legodata.train.references.masked_crop`)."""
        return self._probabilities(image, part_id, colour_code, reference)[0]

    def colour_probabilities(self, image: np.ndarray, part_id: str, colour_code: int, reference=None) -> np.ndarray:
        """Like :meth:`probabilities`, from the colour head of a ``--second-look`` run: every instance of
        ``colour_code``, whatever its part (the pieces its chooser chooses among)."""
        return self._probabilities(image, part_id, colour_code, reference, same_colour=True)[1]

    def _probabilities(self, image, part_id, colour_code, reference=None, same_colour: bool = False) -> list:
        """[the query's probabilities] (+ the colour head's with ``same_colour``), each (H, W) float32."""
        from legodata.train.losses import torch

        image = _check_image(image)
        h, w = image.shape[:2]
        square, (top, left) = square_padded(image)
        x = data.image_tensor(resize(square, self.image_size))[None].to(self.device)
        part = torch.tensor([self.vocab.part_index(str(part_id))], device=self.device)
        colour = torch.tensor([self.vocab.colour_index(colour_code)], device=self.device)
        rgb = torch.tensor([data.colour_rgb(colour_code)], dtype=torch.float32, device=self.device)
        ref = None
        if reference is not None:
            from legodata.train.references import REF_SIZE

            ref = data.image_tensor(resize(_check_image(reference, "reference"), REF_SIZE))[None].to(self.device)
        with torch.no_grad():
            logits = (
                self.model(x, part, colour, rgb, ref, with_colour=True)
                if same_colour
                else (self.model(x, part, colour, rgb, ref),)
            )
        side, out = max(h, w), []
        for logit in logits:
            prob = resize(torch.sigmoid(logit)[0, 0].float().cpu().numpy(), side, side, shrink=cv2.INTER_LINEAR)
            out.append(np.ascontiguousarray(prob[top : top + h, left : left + w]))  # bilinear both ways
        return out

    def predict(
        self, image: np.ndarray, part_id: str, colour_code: int, threshold: float = 0.5, reference=None
    ) -> np.ndarray:
        """Boolean mask (H, W); a ``--second-look`` run keeps only the pieces (of this mask and of its colour head's
        mask of every instance of ``colour_code``) its chooser takes for ``part_id``."""
        if self.task.chooser is None:
            return self.probabilities(image, part_id, colour_code, reference) > threshold
        from legodata.train.chooser import choose

        probs = self._probabilities(image, part_id, colour_code, reference, same_colour=self.task.colour_head)
        mask, *same_colour = (p > threshold for p in probs)
        part = self.vocab.part_index(str(part_id))
        return choose(mask, _check_image(image), part, self.task.chooser, self.device, *same_colour)

    def masked(self, image: np.ndarray, part_id: str, colour_code: int, reference=None) -> np.ndarray:
        """The masked observation: the image with everything but the queried part set to black."""
        return _check_image(image) * self.predict(image, part_id, colour_code, reference=reference)[..., None]


class RotationPredictor(_Predictor):
    """Orientation ``R_m2c`` of a part from its crop (as in the ``parts`` config) or from a full image + mask."""

    kind = "rot"

    def predict_crops(self, crops, masks, part_ids, K=None, boxes=None) -> list[RotationPrediction]:
        """Square crops (N of (S, S, 3) uint8), binary masks (N of (S, S)), part ids; ``K`` (3x3) and ``boxes``
        (N of (x, y, size) in original pixels) turn the crop-relative rotation into the camera's ``R_m2c``;
        without them each crop is taken as centred on the optical axis."""
        from legodata.train.losses import torch

        if not (len(crops) == len(masks) == len(part_ids)):
            raise LegodataError("predict_crops: crops, masks and part_ids must have the same length")
        if boxes is not None and (K is None or len(boxes) != len(crops)):
            raise LegodataError("predict_crops: boxes need K and one box per crop")
        xs, parts = [], []
        for crop, mask, part in zip(crops, masks, part_ids):
            crop = resize(_check_image(crop, "crop"), self.image_size)
            m = (resize(np.asarray(mask), self.image_size, nearest=True) > 0).astype(np.uint8)
            xs.append(data.rotation_input(crop, m))
            parts.append(self.vocab.part_index(str(part)))
        if not xs:
            return []
        with torch.no_grad():
            x = torch.stack(xs).to(self.device)
            logits = self.model(x, torch.tensor(parts, device=self.device)).float()
            allo = self.model.grid.decode(logits).cpu().numpy().astype(np.float64)
            near = self.model.grid.neighbours[logits.argmax(dim=1)]
            confidence = torch.softmax(logits, dim=1).gather(1, near).sum(dim=1).cpu().numpy()
        out = []
        for i, r in enumerate(allo):
            ray = data.crop_ray(K, *boxes[i]) if boxes is not None else np.eye(3)
            R = ray @ r
            out.append(RotationPrediction(R, matrix_to_quat_wxyz(R), float(confidence[i])))
        return out

    def predict_instance(self, image, instance_mask, part_id, K, margin: float = 0.1, crop_size: int = 128):
        """Crop a full RGB image around a boolean instance mask (as the publisher does) and predict ``R_m2c``."""
        from legodata.geometry import crops as crop_ops

        image = _check_image(image)
        mask = np.asarray(instance_mask).astype(bool)
        box = mask_box(mask, margin)
        crop = crop_ops.crop_image(image, box, crop_size)
        crop_mask = crop_ops.crop_mask(mask.astype(np.uint8), 1, box, crop_size)
        return self.predict_crops([crop], [crop_mask], [part_id], K=K, boxes=[box])[0]


def open_predictor(run_dir: str | Path, checkpoint: str = "best", device: str = "cpu") -> _Predictor:
    """The predictor of whichever kind of run ``run_dir`` is (train-mask or train-rot), loaded once."""
    from legodata.train.evaluate import load_run

    loaded = load_run(run_dir, checkpoint, device)
    cls = MaskPredictor if loaded[0].name == MaskPredictor.kind else RotationPredictor
    return cls(run_dir, checkpoint, device, loaded=loaded)
