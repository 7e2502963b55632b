"""Tasks: what a model is for. One module per task, registered in ``TASKS``.

A task names its teacher/student architectures, its data (built-in generator and the folder
layout users bring), its losses (plain and distillation), its metrics and the manifest fields the
runtime needs (input normalization, output meaning, inference mode). The stages (train, compress,
export, bench) only talk to this interface, so adding a task is one new module + one import here.
"""

from ..registry import Registry

TASKS = Registry("task")


def get_task(name: str):
    return TASKS.get(name)


from . import matte  # noqa: E402,F401  (registers "matte")
from . import retouch  # noqa: E402,F401  (registers "retouch")
from . import upscale  # noqa: E402,F401  (registers "upscale")
from . import deblur  # noqa: E402,F401  (registers "deblur")
from . import colorize  # noqa: E402,F401  (registers "colorize")
from . import generate  # noqa: E402,F401  (registers "generate")
