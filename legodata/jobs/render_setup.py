"""What every executor of a render job (local threads, Ray tasks) is handed: the settings, the store and the resolved
parts and colours."""

from __future__ import annotations

from dataclasses import dataclass

from legodata.config import RenderConfig
from legodata.core.mesh import Mesh
from legodata.store.store import Store


@dataclass(frozen=True)
class RenderJob:
    """A prepared render job (``render_job.prepare_store``)."""

    config: RenderConfig
    store: Store
    meshes: dict[str, Mesh]  # by part id, in the order of --parts
    colours: tuple  # resolved Colour entries of --colours
    backgrounds: tuple[str, ...] = ()  # store paths of the --backgrounds images (randomised/shift domains)
