"""Architectures: published parameter counts, forward/backward of every registered variant."""

import pytest
import torch

from edgephoto.models import ARCHS, count_parameters, create_model


@pytest.mark.parametrize("name,expected", [("u2net", 44.0e6), ("u2netp", 1.13e6), ("srgan_g", 1.55e6),
                                           ("pix2pix_unet256", 54.4e6), ("dcgan_g", 3.58e6)])
def test_published_parameter_counts(name, expected):
    n = count_parameters(create_model(name))
    assert abs(n - expected) / expected < 0.01, f"{name}: {n} params"


from edgephoto.models import colornet, dcgan, pix2pixhd, resunet, retouchnet, srgan, u2net, unet

FAMILIES = {**{n: "u2net" for n in u2net.VARIANTS}, **{n: "generator" for n in pix2pixhd.VARIANTS},
            **{n: "generator" for n in retouchnet.VARIANTS},
            **{n: "generator" for n in retouchnet.CONTEXT_VARIANTS},
            **{n: "discriminator" for n in pix2pixhd.DISCRIMINATORS},
            **{n: "upscaler" for n in srgan.VARIANTS}, **{n: "image discriminator" for n in srgan.DISCRIMINATORS},
            **{n: "unet" for n in unet.VARIANTS}, **{n: "discriminator" for n in unet.DISCRIMINATORS},
            **{n: "unet" for n in resunet.VARIANTS}, **{n: "colorizer" for n in colornet.VARIANTS},
            **{n: "latent generator" for n in dcgan.GENERATORS}, **{n: "critic" for n in dcgan.CRITICS}}


def test_every_registered_arch_has_a_test_family():
    assert sorted(FAMILIES) == sorted(ARCHS.names())


def _in_channels(model) -> int:
    """What the first convolution reads: 3 (RGB), 8 (RGB + global context), 6 / 11 (discriminators)."""
    return next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d)).in_channels


def _assert_all_grads(model, skip=()):
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and not n.startswith(skip) and (p.grad is None or not torch.isfinite(p.grad).all())]
    assert not missing, f"parameters without a finite gradient: {missing[:5]}"


@pytest.mark.parametrize("name", ARCHS.names())
def test_forward_backward_every_arch(name):
    torch.manual_seed(0)
    model = create_model(name).train()
    family = FAMILIES[name]
    if family == "u2net":
        x = torch.rand(2, 3, 64, 64)
        outs = model(x)
        assert len(outs) == 7  # fused + six side outputs
        assert all(o.shape == (2, 1, 64, 64) for o in outs)
        loss = sum(torch.nn.functional.binary_cross_entropy_with_logits(o, torch.ones_like(o)) for o in outs)
        skip = ()
    elif family == "generator":   # image in [-1, 1] (+ context channels) -> RGB image of the same size
        x = torch.rand(2, _in_channels(model), 48, 40) * 2 - 1
        y = model(x)
        assert y.shape == (2, 3, 48, 40)
        loss = (y - x[:, :3].flip(3)).abs().mean()
        skip = ("g1_head",)       # used only in pix2pixHD's "global" phase (tested below)
    elif family == "unet":         # image in [-1, 1] -> image of the same size, sides multiples of 2^levels
        side = model.multiple
        x = torch.rand(1 if side >= 256 else 2, 3, side, 2 * side) * 2 - 1
        y = model(x)
        assert y.shape == x.shape and y.abs().max() <= 1.0
        loss = (y - x.flip(3)).abs().mean()
        skip = ()
    elif family == "upscaler":     # image in [-1, 1] -> the same image 4x larger
        x = torch.rand(2, 3, 24, 20) * 2 - 1
        y = model(x)
        assert y.shape == (2, 3, 96, 80)
        loss = (y - torch.nn.functional.interpolate(x, scale_factor=4)).abs().mean()
        skip = ()
    elif family == "image discriminator":   # one image of any size -> P(real)
        p = model(torch.rand(2, 3, 80, 64) * 2 - 1)
        assert p.shape == (2, 1) and ((p > 0) & (p < 1)).all()
        loss = p.mean()
        skip = ()
    elif family == "colorizer":    # L in [-1, 1] -> a*b* in [-1, 1] at the same size + global class logits
        x = torch.rand(2, 1, 64, 48) * 2 - 1          # (+ the bins head's logits at half size)
        ab, logits, *bins = model(x)
        assert ab.shape == (2, 2, 64, 48) and ab.abs().max() <= 1.0 and logits.shape[0] == 2
        assert all(b.shape == (2, 262, 32, 24) for b in bins)
        loss = (ab - x.flip(3)).pow(2).mean() + logits.logsumexp(1).mean()
        skip = ()
    elif family == "latent generator":   # N x latent -> N x 3 x 64 x 64 in [-1, 1]
        y = model(torch.randn(3, model.latent))
        assert y.shape == (3, 3, 64, 64) and y.abs().max() <= 1.0
        loss = y.mean()
        skip = ()
    elif family == "critic":       # N x 3 x 64 x 64 -> N scores
        s = model(torch.rand(3, 3, 64, 64) * 2 - 1)
        assert s.shape == (3,)
        loss = s.mean()
        skip = ()
    else:                          # multi-scale discriminator on concat(input, image)
        feats = model(torch.rand(2, _in_channels(model), 64, 64))
        loss = sum(scale[-1].mean() for scale in feats)
        skip = ()
    loss.backward()
    assert torch.isfinite(loss)
    _assert_all_grads(model, skip)


def test_pix2pixhd_published_size_and_phases():
    # the published local-enhancer configuration (ngf 32, G1 at 64 with 4 downsamplings, 9 + 3 blocks)
    assert abs(count_parameters(create_model("pix2pixhd")) - 182.7e6) / 182.7e6 < 0.01
    g = create_model("pix2pixhd_rsu_lite").train()
    assert any(isinstance(m, pix2pixhd.RSUResBlock) for m in g.modules())
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    g.set_phase("global")               # G1 alone: only G1 and its head learn
    g(x).abs().mean().backward()
    assert all(p.grad is not None for p in g.g1_head.parameters())
    assert all(p.grad is None for p in g.g2_front.parameters())
    g.zero_grad(set_to_none=True)
    g.set_phase("local")                # G2 with G1 frozen
    g(x).abs().mean().backward()
    assert all(p.grad is None for p in g.g1.parameters())
    assert all(p.grad is not None for p in g.head.parameters())
    with pytest.raises(ValueError, match="unknown phase"):
        g.set_phase("both")


def test_multiscale_discriminator_shapes():
    d = create_model("patchgan_ms3_lite").eval()
    feats = d(torch.rand(2, 6, 128, 128))
    assert len(feats) == 3                                 # 1x, 1/2, 1/4
    assert all(len(scale) == 5 for scale in feats)         # n_layers + 2 layers, last = logits
    sides = [scale[-1].shape[-1] for scale in feats]
    assert sides[0] > sides[1] > sides[2] and all(scale[-1].shape[1] == 1 for scale in feats)
    assert [scale[0].shape[-1] for scale in feats] == [65, 33, 17]   # 4x4 stride-2, pad 2


def test_feature_matching_loss_zero_on_equal_and_positive_on_different():
    from edgephoto.train.gan import feature_matching
    torch.manual_seed(0)
    d = create_model("patchgan_ms3_lite").eval()
    x, y = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        same = feature_matching(d(torch.cat([x, y], 1)), d(torch.cat([x, y], 1)))
        diff = feature_matching(d(torch.cat([x, y], 1)), d(torch.cat([x, y.flip(2)], 1)))
    assert float(same) == 0.0
    assert float(diff) > 1e-3


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


def test_onnx_weights_start_a_folded_model_and_refuse_another_architecture(tmp_path):
    """`train --init FILE.onnx`: a deployed (BatchNorm-folded) file loads into the folded variant
    and reproduces its outputs; a file of another architecture is refused with one line."""
    from edgephoto.errors import UserError
    from edgephoto.models.onnx_weights import load_onnx_weights

    torch.manual_seed(0)
    deployed = create_model("u2netp", encoder=u2net._SLIM_ENC, decoder=u2net._SLIM_DEC).eval()
    for m in deployed.modules():  # non-trivial BatchNorm statistics, so folding has work to do
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    x = torch.rand(1, 3, 64, 64)
    path = tmp_path / "deployed.onnx"
    torch.onnx.export(deployed, x, str(path), opset_version=17, dynamo=False)

    folded = create_model("u2netp_folded", encoder=u2net._SLIM_ENC, decoder=u2net._SLIM_DEC,
                          batchnorm=False)
    assert load_onnx_weights(folded, path) == 119
    with torch.no_grad():
        for a, b in zip(deployed(x), folded.eval()(x)):
            assert torch.allclose(a, b, atol=1e-4)

    with pytest.raises(UserError, match="not the same architecture"):
        load_onnx_weights(create_model("u2net_tiny"), path)


def test_srvgg_base_is_pillow_bicubic_so_an_untrained_student_is_bicubic():
    import numpy as np
    from PIL import Image
    torch.manual_seed(0)
    m = create_model("srvgg_s").eval()
    with torch.no_grad():
        m.body[-1].weight.zero_()
        m.body[-1].bias.zero_()
        x = torch.rand(1, 3, 24, 20)
        y = m(x)[0].permute(1, 2, 0).numpy()
    ref = np.stack([np.asarray(Image.fromarray(x[0, c].numpy(), mode="F").resize((80, 96), Image.BICUBIC))
                    for c in range(3)], -1)
    assert y.shape == (96, 80, 3)
    assert np.abs(y - ref)[8:-8, 8:-8].max() < 1e-5          # away from the zero-padded border
    assert count_parameters(m) < 0.3e6                       # the fixed kernel is a buffer, not weights
