"""What int8 calibration and parity feed a model is what the runtime feeds it (one preprocessing),
and an input normalized onto the uint8 grid quantizes without moving a pixel."""

from __future__ import annotations

import numpy as np
import pytest

from edgephoto.compress.quantize import pixel_grid
from edgephoto.runtime.model import normalize
from edgephoto.runtime.model import model_window
from edgephoto.tasks import TASKS, get_task

PHOTO_TASKS = [n for n in TASKS.names() if get_task(n).spec.input.kind == "image"]   # not generators


@pytest.mark.parametrize("task_name", PHOTO_TASKS)
@pytest.mark.parametrize("hw", [(40, 50), (300, 500), (1000, 200)])
def test_model_window_holds_the_photo_at_native_resolution(task_name, hw):
    spec = get_task(task_name).spec
    rgb = np.random.default_rng(0).integers(0, 256, hw + (3,), dtype=np.uint8)
    win, region = model_window(rgb, spec)
    assert win.shape[:2] == spec.input.hw
    if spec.inference.mode not in ("tile", "pad"):
        assert region is None                      # resize models see the whole photo resized
        return
    wy, wx, py, px, h, w = region
    assert (h, w) == (min(hw[0], spec.input.hw[0]), min(hw[1], spec.input.hw[1]))
    np.testing.assert_array_equal(win[wy:wy + h, wx:wx + w, :3], normalize(rgb, spec.input)[py:py + h, px:px + w])


@pytest.mark.parametrize("task_name", PHOTO_TASKS)
def test_pixel_grid_quantizes_every_pixel_exactly(task_name):
    inp = get_task(task_name).spec.input
    grid = pixel_grid(inp)
    x = normalize(np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, -1), inp)
    if grid is None:    # mean 0.5 (zero point 127.5), per-channel means or context planes: no grid
        return
    scale, zp = grid
    q = x / scale + zp
    np.testing.assert_allclose(q[..., 0].ravel(), np.arange(256), atol=1e-3)


def test_mean_half_has_no_grid_and_upscale_has_one():
    from edgephoto.runtime.spec import InputSpec
    assert pixel_grid(InputSpec(mean=(0.5,) * 3, std=(0.5,) * 3)) is None
    assert pixel_grid(InputSpec(mean=(0.0,) * 3, std=(1.0,) * 3)) == pytest.approx((1 / 255, 0))
    assert pixel_grid(get_task("upscale").spec.input) == pytest.approx((2 / 255, 128))
    # no uint8 grid for a lightness channel (L* / 100) or a latent
    assert pixel_grid(InputSpec(channels="L", mean=(0.0,), std=(1.0,))) is None
    assert pixel_grid(get_task("generate").spec.input) is None
