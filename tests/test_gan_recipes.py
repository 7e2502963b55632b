"""The image-generation recipes (train/recipes.py): WGAN-GP's critic schedule and gradient
penalty, DCGAN's losses, and what their checkpoints keep."""

import types

import pytest
import torch

from edgephoto.models import create_model
from edgephoto.train.recipes import RECIPES


class _Task:
    """What the recipes read of a task: its critic and how to get the image out of the model."""

    name = "gen"

    def __init__(self, adversarial):
        self.adversarial = adversarial

    @staticmethod
    def outputs(raw):
        return [raw]


def _recipe(name, **adv):
    torch.manual_seed(0)
    return RECIPES.get(name)(_Task(adv), types.SimpleNamespace(lr=1e-4))


def test_wgan_gp_updates_the_generator_every_n_critic_steps_and_resumes_the_count():
    r = _recipe("wgan_gp", discriminator="wgan_critic_lite", n_critic=3)
    g = create_model("dcgan_g_lite")
    real = torch.rand(2, 3, 64, 64) * 2 - 1
    losses = [r.loss(g(torch.randn(2, g.latent)), None, real)[0] for _ in range(6)]
    assert [l is not None for l in losses] == [False, False, True, False, False, True]
    assert losses[2].requires_grad                      # the generator's step: gradients reach G
    critic_before = {k: v.clone() for k, v in r.disc.net.state_dict().items()}
    r2 = _recipe("wgan_gp", discriminator="wgan_critic_lite", n_critic=3)
    r2.load_state_dict(r.state_dict())
    assert r2.critic_steps == 6
    assert all(torch.equal(critic_before[k], v) for k, v in r2.disc.net.state_dict().items())


@pytest.mark.parametrize("norm,expected", [(1.0, 0.0), (2.0, 1.0), (0.5, 0.25)])
def test_gradient_penalty_is_the_squared_distance_of_the_critic_slope_from_one(norm, expected):
    r = _recipe("wgan_gp", discriminator="wgan_critic_lite")
    lin = torch.nn.Linear(3 * 8 * 8, 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.nn.functional.normalize(torch.randn(1, 3 * 8 * 8), dim=1) * norm)
    r.disc.net = torch.nn.Sequential(torch.nn.Flatten(), lin)
    real, fake = torch.rand(4, 3, 8, 8), torch.rand(4, 3, 8, 8)
    assert r.gradient_penalty(real, fake).item() == pytest.approx(expected, abs=1e-5)


def test_dcgan_trains_both_networks_each_step():
    r = _recipe("dcgan", discriminator="dcgan_d_lite")
    g = create_model("dcgan_g_lite")
    before = [p.clone() for p in r.disc.net.parameters()]
    loss, terms = r.loss(g(torch.randn(2, g.latent)), None, torch.rand(2, 3, 64, 64) * 2 - 1)
    assert loss.requires_grad and 0.0 < terms["d_real"] < 1.0
    assert any(not torch.equal(a, b) for a, b in zip(before, r.disc.net.parameters()))
