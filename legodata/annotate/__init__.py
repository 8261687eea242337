"""Label Studio: people label rotations and masks on real photos, and the results become records.

Stock Label Studio has no pose tool, so rotations are labelled in two ways it does have: named keypoints clicked on
the photo (``keypoints`` + ``pnp``: SQPnP with the camera's K) and a choice among candidate renders of the part
(the rotation model's top guesses, or the 24 axis-aligned orientations), refined with keypoints when wanted.

Modules: ``server`` (a local Label Studio in its own virtual environment), ``credentials``, ``configs`` (the
labeling configs in the top-level ``annotate/`` folder, shipped as package data), ``keypoints`` and ``drawing``
(pure numpy/OpenCV), ``camera_info`` (OpenCV/ROS calibration files), ``pnp``, ``candidates``, ``rle``, ``push``,
``convert`` (export -> records, validated against the labeling config; the ``label_studio`` source), ``checks``.
Writing a store is a job: ``legodata.jobs.annotate_pull`` (above the sources, like ``import-log``).
The Label Studio SDK is imported inside functions only, so ``import legodata`` stays fast.
"""
