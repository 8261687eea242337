"""legodata: datasets for robots that assemble LEGO from instruction manuals.

Importing this package is cheap: bpy, torch, datasets and the Label Studio SDK are imported lazily,
inside the functions that need them.
"""

__version__ = "0.1.0"
__all__ = ["render", "__version__"]


def __getattr__(name: str):
    if name == "render":
        from legodata.api import render

        return render
    raise AttributeError(f"module 'legodata' has no attribute {name!r}")
