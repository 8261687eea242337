"""Pure geometry: rotations, quaternions, symmetry groups, camera projection."""
