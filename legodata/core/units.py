"""Units, frames and names every layer shares (see README "Conventions").

Metres in scenes and poses; LDraw geometry in LDU; camera frame OpenCV (x right, y down, z forward);
quaternions scalar first (w, x, y, z) with w >= 0.
"""

from __future__ import annotations

LDU_M = 0.0004  # metres per LDraw unit (1 LDU = 0.4 mm)
STUD_PITCH_LDU = 20.0  # centre-to-centre distance of studs
BRICK_HEIGHT_LDU = 24.0
PLATE_HEIGHT_LDU = 8.0

DEPTH_SCALE_M = 1e-4  # uint16 depth PNGs: metres = value * DEPTH_SCALE_M (0.1 mm), 0 = no depth

SPLITS = ("train", "validation", "test")  # dataset split names, in this order everywhere

Mat3 = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]
Vec3 = tuple[float, float, float]
Box = tuple[int, int, int, int]  # x, y, width, height in pixels; (-1, -1, -1, -1) when empty
