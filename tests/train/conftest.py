import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

pytest.importorskip("torch")
pytest.importorskip("datasets")

from train_synth import write_synthetic_dataset  # noqa: E402


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    """12/4/4 scenes of 64 px with 2-3 cuboid parts each, both configs, 32 px crops."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("synth") / "published")
