"""Scenes as pure data: the JSON spec, the seeded sampler and the camera model."""
