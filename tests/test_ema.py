"""EMA of the generator: ema <- decay * ema + (1 - decay) * weights; BatchNorm statistics copied, not averaged."""

import torch
from torch import nn

from gan_lab.training.ema import EMA


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_an_update_keeps_decay_of_the_average_and_one_minus_decay_of_the_weights():
    net = small_net()
    ema = EMA(net, decay=0.9)
    before = [p.detach().clone() for p in net.parameters()]
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    ema.update(net)
    for averaged, old, new in zip(ema.model.parameters(), before, net.parameters(), strict=True):
        torch.testing.assert_close(averaged, 0.9 * old + 0.1 * new.detach())


def test_batchnorm_statistics_are_copied_from_the_generator():
    net = small_net()
    ema = EMA(net, decay=0.99)
    net.train()(torch.randn(8, 3) * 5 + 2)  # moves running_mean / running_var / num_batches_tracked
    ema.update(net)
    bn, ema_bn = net[1], ema.model[1]
    assert not torch.equal(bn.running_mean, torch.zeros(4))
    assert torch.equal(ema_bn.running_mean, bn.running_mean) and torch.equal(ema_bn.running_var, bn.running_var)
    assert int(ema_bn.num_batches_tracked) == 1
