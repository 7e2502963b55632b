"""The bench: measure every exported artifact under ``dist/`` against ``budgets.toml``.

One row per task x variant x format: size, end-to-end latency through ``edgephoto.runtime`` on a
1024x1024 photo (1 thread and all threads; each in a fresh subprocess, ``probe.py``, which also
reports peak memory), quality on the held-out test split through the runtime, parity (from the
manifest), MACs, and a pass/fail verdict per budget. Imports no torch (the metrics come from
``edgephoto.metrics``), so it runs wherever the runtime does.
"""
