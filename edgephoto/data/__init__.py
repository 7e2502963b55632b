"""Datasets for the build stages: folder readers in standard layouts, generated default data.

- ``folders``: a DUTS-style image/mask pair folder, a paired input/target folder, a plain photo folder.
- ``photos``: the real photographs shipped inside installed wheels (scikit-image, scikit-learn).
- ``synthetic_matte``: the built-in background-removal set (generated scenes with exact masks).
"""
