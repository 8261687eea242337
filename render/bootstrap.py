"""Import BlenderProc 2.8 inside a plain Python process that has ``bpy`` (Blender as a module) installed.

``blenderproc run`` downloads a Blender build, which is impossible offline; the recipe in DESIGN.md
("BlenderProc without a Blender download") is implemented here. Call :func:`load_blenderproc` once per
process (it is idempotent) before using any ``bproc`` API.
"""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import sys
import tempfile
from types import ModuleType

# Imported by blenderproc at module level for code the worker never runs (see deferred_imports): ~1 s of start-up.
DEFERRED_MODULES = ("sklearn", "trimesh", "matplotlib.pyplot", "scipy.stats")
DEFER_ENV = "LEGODATA_DEFER_IMPORTS"  # "0" imports them at once (benchmarks)

_BPROC: ModuleType | None = None
_TEMP_DIR: str | None = None


def _numpy2_aliases() -> None:
    """blenderproc 2.8 uses names that numpy 2 removed."""
    import numpy as np

    if not hasattr(np, "string_"):
        np.string_ = np.bytes_
    if not hasattr(np, "in1d"):
        np.in1d = np.isin


def temp_dir() -> str | None:
    """The temporary directory BlenderProc writes into (removed at exit); None before bootstrapping."""
    return _TEMP_DIR


def cleanup() -> None:
    """Remove BlenderProc's temp dir now (also registered with atexit)."""
    if _TEMP_DIR is not None:
        shutil.rmtree(_TEMP_DIR, ignore_errors=True)


def load_blenderproc() -> ModuleType:
    """Return the ``blenderproc`` module, fully imported and with ``bproc.init`` safe to call."""
    global _BPROC
    if _BPROC is not None:
        return _BPROC
    # blenderproc enables OpenEXR in OpenCV at import time; do it before anything imports cv2.
    os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
    _numpy2_aliases()

    import bpy  # noqa: F401  (must come first: blenderproc's modules import bpy at top level)
    from legodata_render.deferred_imports import deferred

    with deferred(DEFERRED_MODULES if os.environ.get(DEFER_ENV, "1") != "0" else ()):
        blenderproc = _import_blenderproc()
    # 4. bproc.init without the UI-language line (the pip bpy ships no translations).
    blenderproc.init = _init_without_language
    _BPROC = blenderproc
    return blenderproc


def _import_blenderproc() -> ModuleType:
    """Steps 1-3 of the recipe (module doc)."""
    global _TEMP_DIR
    # 1. harmless import: only the package __init__ runs, in its "called from the CLI" mode.
    os.environ["OUTSIDE_OF_THE_INTERNAL_BLENDER_PYTHON_ENVIRONMENT_BUT_IN_RUN_SCRIPT"] = "1"
    import blenderproc
    from blenderproc.python.utility.SetupUtility import SetupUtility

    # 2. no pip installs into a Blender-bundled Python; our own temp dir for BlenderProc's scratch files.
    SetupUtility.setup = staticmethod(lambda *args, **kwargs: sys.argv)
    _TEMP_DIR = tempfile.mkdtemp(prefix="legodata-bproc-")
    atexit.register(shutil.rmtree, _TEMP_DIR, True)
    SetupUtility.setup_utility_paths(_TEMP_DIR)

    # 3. full import. The package __init__ removes its parent dir from sys.path once, so add a second copy.
    saved_path = list(sys.path)
    saved_pythonpath = os.environ.get("PYTHONPATH")
    os.environ["INSIDE_OF_THE_INTERNAL_BLENDER_PYTHON_ENVIRONMENT"] = "1"
    sys.path.append(os.path.abspath(os.path.join(os.path.dirname(blenderproc.__file__), "..")))
    try:
        blenderproc = importlib.reload(blenderproc)
    finally:
        sys.path[:] = saved_path
        if saved_pythonpath is not None:
            os.environ["PYTHONPATH"] = saved_pythonpath
    return blenderproc


def _init_without_language(clean_up_scene: bool = True) -> None:
    """``blenderproc.python.utility.Initializer.init`` (2.8.0) minus setting ``preferences.view.language``."""
    import random

    import bpy
    from blenderproc.python.renderer import RendererUtility
    from blenderproc.python.utility.GlobalStorage import GlobalStorage
    from blenderproc.python.utility.Initializer import _Initializer, clean_up
    from numpy import random as np_random

    if GlobalStorage.is_in_storage("bproc_init_complete") and GlobalStorage.get("bproc_init_complete"):
        raise RuntimeError(
            "BlenderProc has already been initialized via bproc.init(), this should not be done twice. "
            "If you want to clean up the scene, use bproc.clean_up()."
        )
    if clean_up_scene:
        clean_up(clean_up_camera=True)
    bpy.context.scene.render.engine = "CYCLES"
    RendererUtility.set_render_devices()
    _Initializer.set_default_parameters()
    random_seed = os.getenv("BLENDER_PROC_RANDOM_SEED")
    if random_seed:
        print(f"Got random seed: {random_seed}")
        random_seed = int(random_seed)
        random.seed(random_seed)
        np_random.seed(random_seed)
    GlobalStorage.add("bproc_init_complete", True)
