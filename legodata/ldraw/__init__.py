"""LDraw: the parts library (``parts/``, ``parts/s/``, ``p/``), its colours (``LDConfig.ldr``) and models
(``.ldr``/``.mpd``). Geometry is in LDU (1 LDU = 0.4 mm) in the LDraw frame (-Y up); meshes handed to the rest of
legodata are in metres in that same frame.

Import the submodules directly (``legodata.ldraw.library``, ``.parser``, ``.colours``, ``.model``); this package
imports nothing heavy.
"""
