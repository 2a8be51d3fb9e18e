from __future__ import annotations

import pytest

from guard.config import load_settings
from guard.inspection import Inspector


@pytest.fixture(scope="session")
def inspector(tmp_path_factory: pytest.TempPathFactory) -> Inspector:
    data = tmp_path_factory.mktemp("inspection")
    return Inspector.from_settings(load_settings(None, data_dir=str(data), rules={"hash_key": "test"}))
