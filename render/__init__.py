"""legodata's render worker: the only code in the project that imports bpy / blenderproc.

Run it as ``python -m legodata_render.worker --root STORE_ROOT``; see :mod:`legodata_render.worker`.
Importing this package imports nothing heavy.
"""
