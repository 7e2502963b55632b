"""Architectures: published parameter counts, forward/backward of every registered variant."""

import pytest
import torch

from edgephoto.models import ARCHS, count_parameters, create_model


@pytest.mark.parametrize("name,expected", [("u2net", 44.0e6), ("u2netp", 1.13e6)])
def test_published_parameter_counts(name, expected):
    n = count_parameters(create_model(name))
    assert abs(n - expected) / expected < 0.01, f"{name}: {n} params"


@pytest.mark.parametrize("name", ARCHS.names())
def test_forward_backward_every_arch(name):
    torch.manual_seed(0)
    model = create_model(name).train()
    x = torch.rand(2, 3, 64, 64)
    outs = model(x)
    assert len(outs) == 7  # fused + six side outputs
    assert all(o.shape == (2, 1, 64, 64) for o in outs)
    loss = sum(torch.nn.functional.binary_cross_entropy_with_logits(o, torch.ones_like(o)) for o in outs)
    loss.backward()
    assert torch.isfinite(loss)
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"parameters without a finite gradient: {missing[:5]}"


def test_full_u2net_runs_at_published_resolution():
    model = create_model("u2net").eval()
    with torch.no_grad():
        y = model.predict(torch.rand(1, 3, 320, 320))
    assert y.shape == (1, 1, 320, 320)
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_odd_input_sizes_keep_shape():
    model = create_model("u2net_tiny").eval()
    with torch.no_grad():
        assert model.predict(torch.rand(1, 3, 100, 72)).shape == (1, 1, 100, 72)


def test_unknown_arch_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown architecture 'u2nt'.*u2net"):
        create_model("u2nt")
