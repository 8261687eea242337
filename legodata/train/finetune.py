"""``--weights``: start a run from another run's weights, also when the two datasets' vocabularies differ.

A legodata checkpoint carries its ``model_config`` (part names, colour codes), so the rows of the embeddings indexed
by part or colour are mapped by name: a part or colour known to both keeps its trained row, one new to this dataset
keeps its fresh (seeded) initialisation, and one only the checkpoint knew is dropped. Every other tensor is copied
when its name and shape match and stays fresh otherwise (another ``--image-size`` of the rotation model changes no
shape; another width or grid size does). One log line says what was kept. A plain state dict has no vocabulary:
it must match the model exactly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from legodata.errors import LegodataError
from legodata.train.models import load_weights
from legodata.train.tasks import torch

logger = logging.getLogger(__name__)

# state-dict key -> (vocabulary, rows before the first entry): the embeddings whose rows are indexed by name
VOCAB_ROWS = {
    "query.part.weight": ("part_names", 0),
    "query.colour.weight": ("colour_codes", 1),  # row 0: unknown colour
    "part.weight": ("part_names", 0),
    "part_head.weight": ("part_names", 1),  # row 0: background
    "part_head.bias": ("part_names", 1),
}


@dataclass
class WeightsReport:
    """What ``--weights`` kept: tensors copied whole, vocab rows kept, new and dropped names, fresh tensors."""

    path: str
    copied: int = 0
    total: int = 0
    fresh: list[str] = field(default_factory=list)
    kept: dict[str, list] = field(default_factory=dict)  # vocabulary -> names whose rows were kept
    new: dict[str, list] = field(default_factory=dict)  # vocabulary -> names with fresh rows
    dropped: dict[str, list] = field(default_factory=dict)  # vocabulary -> names only the checkpoint had

    def line(self) -> str:
        """The log line."""
        parts = [f"--weights {self.path}: kept {self.copied}/{self.total} tensors"]
        for vocab in sorted(self.kept.keys() | self.new.keys()):
            kept, new, dropped = self.kept.get(vocab, []), self.new.get(vocab, []), self.dropped.get(vocab, [])
            parts.append(
                f"{vocab.split('_')[0]}s: {len(kept)} kept by name, {len(new)} new with fresh rows {_names(new)}, "
                f"{len(dropped)} dropped {_names(dropped)}"
            )
        if self.fresh:
            parts.append(f"fresh (name or shape differs): {', '.join(self.fresh)}")
        return "; ".join(parts)

    def to_json(self) -> dict:
        return {
            "path": self.path, "copied": self.copied, "total": self.total, "fresh": self.fresh,
            "kept": self.kept, "new": self.new, "dropped": self.dropped,
        }  # fmt: skip


def _names(names: list) -> str:
    return f"({', '.join(str(n) for n in names)})" if names else ""


def _read(path: str):
    p = Path(path).expanduser()
    if not p.is_file():
        raise LegodataError(f"--weights {path}: no such file")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user problem
        raise LegodataError(f"--weights {path}: cannot be read by torch.load ({type(exc).__name__})") from None
    state = obj.get("model", obj) if isinstance(obj, dict) else obj
    if not isinstance(state, dict):
        raise LegodataError(f"--weights {path}: expected a state dict or a legodata checkpoint")
    source_config = obj.get("model_config") if isinstance(obj, dict) and "model" in obj else None
    return {k.removeprefix("module."): v for k, v in state.items()}, source_config


def map_rows(target, source, target_names: list, source_names: list, offset: int) -> tuple[list, list, list]:
    """Copy into ``target`` (in place) the rows of ``source`` whose names both lists hold; the first ``offset`` rows
    (reserved, e.g. the unknown colour) are copied as they are. Returns (kept, new, dropped) names."""
    index = {n: i for i, n in enumerate(source_names)}
    target[:offset] = source[:offset]
    kept, new = [], []
    for j, name in enumerate(target_names):
        if name in index:
            target[offset + j] = source[offset + index[name]]
            kept.append(name)
        else:
            new.append(name)
    dropped = [n for n in source_names if n not in set(target_names)]
    return kept, new, dropped


def initial_weights(model, model_config: dict, path: str) -> WeightsReport:
    """Load ``--weights`` into ``model`` (built from ``model_config``), mapping vocabulary rows by name; logs and
    returns what was kept."""
    state, source_config = _read(path)
    report = WeightsReport(path=path)
    if source_config is None:  # a bare state dict: no names to map by
        load_weights(model, state, f"--weights {path}")
        report.copied = report.total = len(state)
        logger.info("--weights %s: a state dict, loaded whole (%d tensors)", path, report.copied)
        return report
    if source_config.get("kind") != model_config.get("kind"):
        raise LegodataError(
            f"--weights {path} does not match the model: a {source_config.get('kind')!r} model's checkpoint, this "
            f"command trains a "
            f"{model_config.get('kind')!r} model; give a checkpoint of the same command"
        )
    own = model.state_dict()
    report.total = len(own)
    with torch.no_grad():
        for key, value in own.items():
            src = state.get(key)
            if key in VOCAB_ROWS and src is not None and src.shape[1:] == value.shape[1:]:
                vocab, offset = VOCAB_ROWS[key]
                kept, new, dropped = map_rows(
                    value, src.to(value.dtype), model_config.get(vocab, []), source_config.get(vocab, []), offset
                )
                report.kept[vocab], report.new[vocab], report.dropped[vocab] = kept, new, dropped
                report.copied += 1
            elif src is not None and src.shape == value.shape:
                value.copy_(src.to(value.dtype))
                report.copied += 1
            else:
                report.fresh.append(key)
    if 2 * report.copied < report.total:  # another width: little more than the embeddings would carry over
        raise LegodataError(
            f"--weights {path}: only {report.copied} of {report.total} tensors match this model's shapes; "
            "give weights of a model of the same width and rotation grid"
        )
    logger.info("%s", report.line())
    return report
