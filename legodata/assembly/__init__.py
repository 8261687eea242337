"""Assembly steps and instruction manuals: data for (manual page, observation) -> (relevant part, action, rotation).

- ``steps``: an assembly = placed parts in the build frame (the LDraw model frame, metres) with a step number each;
  LDraw ``.ldr``/``.mpd`` models with sub-models flattened in build order.
- ``random_builds``: seeded stud-grid builds from the built-in parts (connected, no overlaps).
- ``attach``: which part a new part sits on, the stud offset, and the action as an English sentence.
- ``specs``: per step a manual-page scene spec and an observation scene spec (build fixed, new parts dropped).
- ``manual_page``: the printed-manual page from the raw Workbench render (outlines, step number, parts callout).
- ``labels``: per step the ground truth (current and target pose, the symmetry-aware rotation action).
- ``score``: scoring a VLM's JSON answers; ``preview``: a per-step contact sheet.

Everything here is pure numpy/OpenCV: Blender runs only in the render worker (``legodata_render``).
"""
