"""Fixtures of the run-log tests: a simulated log made with the numpy stand-in renderer (no Blender)."""

import shutil
from pathlib import Path

import pytest
from support.runlog_truth import simulate


@pytest.fixture(scope="session")
def sim_log_master(tmp_path_factory) -> Path:
    return simulate(tmp_path_factory.mktemp("sim") / "log")


@pytest.fixture
def sim_log(sim_log_master, tmp_path) -> Path:
    """A private copy of the simulated log (tests corrupt it)."""
    dst = tmp_path / "log"
    shutil.copytree(sim_log_master, dst)
    return dst
