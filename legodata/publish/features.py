"""The ``datasets.Features`` of each config. Only the publisher turns records into Features (see DESIGN.md)."""

from __future__ import annotations

from legodata.errors import require


def _types():
    datasets = require("datasets", "publish")
    return datasets.Features, datasets.Value, datasets.Image, datasets.ClassLabel, datasets.List


def _mat3(Value, List):
    return List(List(Value("float64"), length=3), length=3)


def scenes_features(part_names: list[str]):
    """One row per image: the image, its uint16 instance mask and depth, camera, and every instance's ground truth."""
    Features, Value, Image, ClassLabel, List = _types()
    instance = {
        "instance_id": Value("int32"),
        "part_id": ClassLabel(names=list(part_names)),
        "colour_code": Value("int32"),
        "bbox_visib": List(Value("int32"), length=4),
        "bbox_obj": List(Value("int32"), length=4),
        "quat_m2c_wxyz": List(Value("float64"), length=4),
        "R_m2c": _mat3(Value, List),
        "t_m2c": List(Value("float64"), length=3),
        "visib_fract": Value("float64"),
        "px_count_visib": Value("int32"),
        "px_count_all": Value("int32"),
    }
    return Features(
        {
            "image": Image(),
            "mask": Image(),
            "depth": Image(),  # uint16 PNG, metres = value * depth_scale_m, 0 = no depth; None: the record has none
            "record_id": Value("string"),
            "group_id": Value("string"),
            "source": Value("string"),
            "width": Value("int32"),
            "height": Value("int32"),
            "K": _mat3(Value, List),
            "depth_scale_m": Value("float64"),
            "instances": List(instance),
        }
    )


def parts_features(part_names: list[str]):
    """One row per visible instance: a square crop of image and binary mask, the pose, the symmetry group."""
    Features, Value, Image, ClassLabel, List = _types()
    return Features(
        {
            "image": Image(),
            "mask": Image(),
            "part_id": ClassLabel(names=list(part_names)),
            "colour_code": Value("int32"),
            "quat_m2c_wxyz": List(Value("float64"), length=4),
            "R_m2c": _mat3(Value, List),
            "t_m2c": List(Value("float64"), length=3),
            "symmetry_rotations": List(_mat3(Value, List)),
            "quat_target_m2c_wxyz": List(Value("float64"), length=4),  # None: no target (rendered scenes)
            "rotation_to_target_wxyz": List(Value("float64"), length=4),  # camera frame; None: no target
            "crop_x": Value("int32"),
            "crop_y": Value("int32"),
            "crop_size": Value("int32"),
            "K": _mat3(Value, List),
            "K_crop": _mat3(Value, List),
            "visib_fract": Value("float64"),
            "px_count_visib": Value("int32"),
            "record_id": Value("string"),
            "group_id": Value("string"),
            "instance_id": Value("int32"),
            "source": Value("string"),
        }
    )


def config_features(config: str, part_names: list[str]):
    return {"scenes": scenes_features, "parts": parts_features}[config](part_names)
