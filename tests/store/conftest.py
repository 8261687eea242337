import pytest
from support.store_records import MANIFEST

from legodata.store.store import Store


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "ds")
    s.create_or_check(MANIFEST)
    return s
