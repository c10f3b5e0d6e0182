"""Score networks: shapes, presets, output scaling, adapters."""
import pytest
import torch

from scoreuq.nets import MLP_PRESETS, NoisePredictionScore, ScoreMLP, ScoreModel, ScoreNet, mlp_preset
from scoreuq.processes import VPSDE, OrnsteinUhlenbeck


@pytest.mark.parametrize("name", sorted(MLP_PRESETS))
def test_mlp_presets(name):
    layers, width = MLP_PRESETS[name]
    m = mlp_preset(name, 2)
    linear = [mod for mod in m.net if isinstance(mod, torch.nn.Linear)]
    assert len(linear) == layers + 1 and linear[0].out_features == width
    assert m(torch.randn(5, 2), torch.rand(5)).shape == (5, 2)


def test_mlp_preset_bad_name():
    with pytest.raises(ValueError, match="preset must be one of"):
        mlp_preset("big", 2)
    with pytest.raises(ValueError, match="activation"):
        ScoreMLP(2, activation="swish")


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28)])
def test_scorenet_shapes_and_std_scaling(shape):
    torch.manual_seed(0)
    proc = OrnsteinUhlenbeck()
    net = ScoreNet(proc, image_shape=shape, channels=(8, 16, 32), embed_dim=32)
    x, t = torch.randn(3, *shape), torch.tensor([0.1, 0.5, 0.9])
    out = net(x, t)
    assert out.shape == x.shape
    # the output is the network's raw output divided by s(t)
    raw = out * proc.marginal_std(t)[:, None, None, None]
    proc2 = OrnsteinUhlenbeck(beta=2.0, sigma=2.0)
    net.process = proc2
    assert torch.allclose(net(x, t) * proc2.marginal_std(t)[:, None, None, None], raw, atol=1e-5)


def test_scorenet_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="divisible by 4"):
        ScoreNet(VPSDE(), image_shape=(1, 10, 10))
    net = ScoreNet(VPSDE(), image_shape=(1, 8, 8), channels=(4, 8, 8), embed_dim=16)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 1, 8, 8\)"):
        net(torch.randn(2, 1, 28, 28), torch.rand(2))


def test_adapters():
    proc = VPSDE()
    eps_net = lambda x, t: torch.ones_like(x)  # noqa: E731
    s = NoisePredictionScore(_Wrap(eps_net), proc)
    t = torch.tensor([0.2, 0.7])
    assert torch.allclose(s(torch.zeros(2, 3), t), -1 / proc.marginal_std(t)[:, None].expand(2, 3))
    bad = ScoreModel(_Wrap(lambda x, t: x[:, :1]))
    with pytest.raises(ValueError, match="returned shape"):
        bad(torch.zeros(2, 3), t)


class _Wrap(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x, t):
        return self.fn(x, t)


def test_scorenet_four_levels_seminar_width():
    import torch

    from scoreuq.nets import ScoreNet
    from scoreuq.processes import OrnsteinUhlenbeck

    ou = OrnsteinUhlenbeck()
    net = ScoreNet(ou, (1, 28, 28), (32, 64, 128, 256), 256)  # 28 -> 14 -> 7 -> 4 and back with an output padding
    x = torch.randn(2, 1, 28, 28)
    assert net(x, torch.rand(2)).shape == x.shape
    three = ScoreNet(ou, (1, 8, 8), (16, 32, 64), 64)
    assert not any(k.startswith(("enc3", "up2", "dec2")) for k in three.state_dict())  # old checkpoints still load
    with pytest.raises(ValueError, match="channels"):
        ScoreNet(ou, (1, 28, 28), (32, 64), 64)
