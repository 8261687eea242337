"""Domain randomisation as pure seeded sampling: specs, families, distractor shapes, textures, camera effects."""

import json
from dataclasses import replace

import numpy as np
import pytest
from scipy.spatial import ConvexHull

from legodata.core.spec import CameraEffects, Distractor, RenderSettings, SceneSpec
from legodata.scene.camera_effects import apply_camera_effects
from legodata.scene.clutter import footprint_distance
from legodata.scene.distractors import KINDS, distractor_mesh, distractor_world_mesh
from legodata.scene.domain import FAMILIES, SHIFT, TRAIN, blackbody_rgb, domain_rng, sample_domain, split_backgrounds
from legodata.scene.sampler import PartGeometry, SamplerConfig, sample_scene, scene_rng
from legodata.scene.textures import SHIFT_FAMILIES, TRAIN_FAMILIES, parse_texture_path, procedural_texture


def box_vertices(sx, sy, sz):
    return np.array([[x, y, z] for x in (-sx, sx) for y in (0, sy) for z in (-sz, sz)], dtype=float)


GEOMETRY = {
    "a": PartGeometry("a", box_vertices(0.016, 0.0096, 0.008), "models/a.ply"),
    "b": PartGeometry("b", box_vertices(0.004, 0.0096, 0.004), "models/b.ply"),
}
RENDER = RenderSettings(samples=4, denoiser=False, max_bounces=2, device="cpu", threads=0, adaptive_threshold=0.0)


def make(orientation="uniform", seed=0, index=0):
    cfg = SamplerConfig(
        part_ids=("a", "b"),
        colours=((4, (0.7, 0.0, 0.0)), (14, (0.98, 0.78, 0.04))),
        orientation=orientation,
        parts_per_scene=(2, 5),
        views=3,
        width=128,
        height=96,
    )
    return sample_scene(scene_rng(seed, index), cfg, GEOMETRY, RENDER, index, seed)


def randomised(domain="randomised", seed=0, index=0, orientation="uniform", backgrounds=()):
    clean = make(orientation, seed=seed, index=index)
    return sample_domain(domain_rng(seed, index), clean, GEOMETRY, domain, backgrounds)


@pytest.mark.parametrize("domain", ["randomised", "shift"])
def test_same_seed_same_randomised_spec_byte_for_byte(domain):
    a, b = randomised(domain, seed=4, index=2), randomised(domain, seed=4, index=2)
    assert a.to_json() == b.to_json()
    assert a.to_json() != randomised(domain, seed=4, index=3).to_json()
    assert a.to_json() != randomised(domain, seed=5, index=2).to_json()
    again = SceneSpec.from_dict(json.loads(a.to_json()))
    assert again == a and again.to_json() == a.to_json()


def test_clean_spec_has_no_domain_and_randomising_keeps_parts_and_views():
    clean = make("uniform", seed=4, index=2)
    assert "domain" not in json.loads(clean.to_json())
    rand = randomised(seed=4, index=2)
    assert rand.parts == clean.parts and rand.views == clean.views and rand.table.size == clean.table.size
    assert rand.domain is not None and rand.lights != clean.lights
    # the record label stays the LDraw colour; only the rendered material is jittered
    assert [p.rgb for p in rand.parts] == [p.rgb for p in clean.parts]
    assert [look.instance_id for look in rand.domain.part_looks] == [p.instance_id for p in clean.parts]
    assert [fx.view_id for fx in rand.domain.effects] == [v.view_id for v in clean.views]


def test_part_looks_stay_near_the_ldraw_colour():
    for index in range(20):
        spec = randomised(index=index)
        for part, look in zip(spec.parts, spec.domain.part_looks):
            assert np.abs(np.subtract(look.rgb, part.rgb)).max() < 0.25
            assert 0.15 <= look.roughness <= 0.45


@pytest.mark.parametrize("orientation", ["uniform", "resting", "canonical"])
def test_distractors_lie_on_the_table_against_parts_and_never_inside_them(orientation):
    n_close = n_total = 0
    for index in range(15):
        spec = randomised(index=index, orientation=orientation)
        parts = [GEOMETRY[p.part_id].vertices @ np.asarray(p.R_m2w).T + np.asarray(p.t_m2w) for p in spec.parts]
        for d in spec.domain.distractors:
            mesh = distractor_world_mesh(d)
            assert np.isclose(mesh.vertices[:, 2].min(), 0.0, atol=1e-12)
            # separated in the table plane from every part's projected triangles, both ways round
            clear = []
            for v in parts:
                tris = v[ConvexHull(v[:, :2]).vertices][:, :2]
                part_tris = np.stack([np.broadcast_to(tris[0], tris[1:-1].shape), tris[1:-1], tris[2:]], axis=1)
                clear.append(
                    min(
                        footprint_distance(mesh.vertices[:, :2], part_tris).min(),
                        footprint_distance(tris, mesh.triangles[..., :2]).min(),
                    )
                )
            assert min(clear) > 0
            n_close += min(clear) < 0.0035
            n_total += 1
    assert n_total > 20 and n_close / n_total > 0.9  # against a part: 0.5-3 mm from its outline


def test_shift_holds_out_textures_kinds_and_light_temperatures():
    assert not set(TRAIN_FAMILIES) & set(SHIFT_FAMILIES)
    train_kinds = {k.kind for k in TRAIN.kinds} - {"paper"}
    assert not train_kinds & {k.kind for k in SHIFT.kinds}
    assert set(TRAIN.paper_textures).isdisjoint(SHIFT.paper_textures)
    for lo, hi in SHIFT.kelvin:
        for tlo, thi in TRAIN.kelvin:
            assert hi <= tlo or lo >= thi
    for domain, fam in FAMILIES.items():
        for index in range(10):
            d = randomised(domain, index=index).domain
            families = {parse_texture_path(t.path)[0] for t in (d.table_texture, d.backdrop)}
            families |= {parse_texture_path(x.texture)[0] for x in d.distractors if x.texture}
            assert families <= set(fam.textures) | set(fam.paper_textures)
            assert {x.kind for x in d.distractors} <= {k.kind for k in fam.kinds}


def test_backgrounds_split_by_hash_into_disjoint_train_and_shift_sets():
    rng = np.random.default_rng(0)
    paths = tuple(f"backgrounds/{rng.integers(16**15):016x}.png" for _ in range(200))
    train, shift = split_backgrounds(paths, "randomised"), split_backgrounds(paths, "shift")
    assert set(train) | set(shift) == set(paths) and not set(train) & set(shift)
    assert 0.1 < len(shift) / len(paths) < 0.3
    spec = randomised("shift", backgrounds=paths)
    assert spec.domain.table_texture.path in shift and spec.domain.backdrop.path in shift
    # a folder of one image: both domains use it rather than having none
    assert split_backgrounds(paths[:1], "shift") == split_backgrounds(paths[:1], "randomised") == paths[:1]


@pytest.mark.parametrize("kind", KINDS)
def test_distractor_shapes_rest_on_z0_are_closed_outward_and_deterministic(kind):
    d = Distractor(kind, (0.05, 0.02, 0.004), 17, tuple(map(tuple, np.eye(3))), (0.0, 0.0, 0.0), (1, 0, 0), 0.5)
    m = distractor_mesh(d)
    assert np.isclose(m.vertices[:, 2].min(), 0.0, atol=1e-12) and np.isfinite(m.vertices).all()
    assert m.volume() > 0  # outward normals
    assert np.array_equal(m.vertices, distractor_mesh(d).vertices)
    if kind in ("cable", "mark"):
        assert not np.array_equal(m.vertices, distractor_mesh(replace(d, shape_seed=18)).vertices)


def test_blackbody_is_warm_at_low_and_cool_at_high_temperature():
    warm, white, cool = blackbody_rgb(2500), blackbody_rgb(6600), blackbody_rgb(10000)
    assert warm[0] == 1.0 and warm[2] < 0.3
    assert min(white) > 0.9
    assert cool[2] == 1.0 and cool[0] < 0.8


@pytest.mark.parametrize("family", TRAIN_FAMILIES + SHIFT_FAMILIES)
def test_procedural_textures_are_deterministic_and_not_blank(family):
    a = procedural_texture(family, 3, size=128)
    assert a.shape == (128, 128, 3) and a.dtype == np.uint8 and a.std() > 3
    assert np.array_equal(a, procedural_texture(family, 3, size=128))
    assert not np.array_equal(a, procedural_texture(family, 4, size=128))


def test_camera_effects_are_deterministic_for_a_seed_and_keep_the_image_shape():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    fx = CameraEffects(0, 7, 1.2, (0.8, 1.0, 1.3), 0.3, 2.0, 30.0, 1.0, 0.02, 70)
    out = apply_camera_effects(img, fx)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.array_equal(out, apply_camera_effects(img, fx))
    assert not np.array_equal(out, apply_camera_effects(img, replace(fx, seed=8)))
    assert not np.array_equal(out, img)
