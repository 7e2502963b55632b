"""edgephoto: turn photo-editing GANs into device artifacts that fit a budget.

Stages (each a subpackage): ``train`` -> ``compress`` -> ``export`` -> ``runtime`` / ``bench``.
Only ``edgephoto.runtime`` is meant for devices; it imports numpy and Pillow plus one engine.
Run ``python -m edgephoto --help`` for the command line.
"""

__version__ = "0.1.0"
