"""Records for the store tests and benchmark: real Record objects whose paths lie in their scene's folder."""

from legodata.core.records import Instance, Record
from legodata.store.store import Store


def store_record(store: Store, scene_id: str, view: int = 0, parts: int = 2) -> Record:
    """A render-like record of ``scene_id`` whose files are named in the store's layout."""
    rel = store.scene_rel(scene_id)
    instances = tuple(
        Instance(
            instance_id=k + 1,
            part_id="3001",
            colour_code=4,
            R_m2c=((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
            t_m2c=(0.01 * k, 0.0, 0.3),
            quat_m2c_wxyz=(1.0, 0.0, 0.0, 0.0),
            bbox_obj=(1, 2, 3, 4),
            bbox_visib=(1, 2, 3, 3),
            px_count_all=12,
            px_count_visib=9,
            visib_fract=0.75,
        )
        for k in range(parts)
    )
    return Record(
        record_id=f"{scene_id}_{view:04d}",
        source="render",
        group_id=scene_id,
        image_path=f"{rel}/rgb/{view:04d}.png",
        mask_path=f"{rel}/mask/{view:04d}.png",
        width=64,
        height=48,
        K=((50.0, 0.0, 31.5), (0.0, 50.0, 23.5), (0.0, 0.0, 1.0)),
        instances=instances,
        meta={"scene_id": scene_id, "view_id": view},
    )


def commit(store: Store, scene_id: str, views: int = 2, **kw) -> list[Record]:
    """Commit a scene with ``views`` records and a real image file per record; returns the records."""
    tmp = store.new_tmp_dir(scene_id)
    (tmp / "rgb").mkdir()
    records = [store_record(store, scene_id, v) for v in range(views)]
    for v in range(views):
        (tmp / "rgb" / f"{v:04d}.png").write_bytes(b"png %d" % v)
    store.commit_scene(tmp, scene_id, records, **kw)
    return records


MANIFEST = {"schema_version": 1, "settings": {"seed": 0}}
