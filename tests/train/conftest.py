from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("datasets")

from support.cuboids import publish_cuboids  # noqa: E402

from legodata.store.store import Store  # noqa: E402


@dataclass(frozen=True)
class Published:
    out: Path  # the folder `legodata.publish.publish` wrote
    store: Store  # the store it was published from


@pytest.fixture(scope="session")
def published(tmp_path_factory) -> Published:
    """20 scenes of 64 px with 2-3 cuboid parts each, published by the real publisher (32 px crops)."""
    root = tmp_path_factory.mktemp("cuboids")
    out = publish_cuboids(root)
    return Published(out, Store(root / "store"))
