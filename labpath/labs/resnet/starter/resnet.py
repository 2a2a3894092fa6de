"""
Lab - ResNet-18 and why residual connections keep gradients alive.

Build BasicBlock and ResNet-18 with torchvision's module names (so a state_dict moves
between your model and torchvision's unchanged), then a deep plain network and its
residual twin for the gradient experiment.
Read README.md in this folder first; check your work with `labpath check resnet`.

Every gap below is marked TODO and raises NotImplementedError until you fill it in.
"""

import torch  # noqa: F401  (torch.relu, torch.flatten)
import torch.nn as nn


class BasicBlock(nn.Module):
    """Two 3x3 conv + BatchNorm layers and a skip connection (ResNet-18/34's block)."""

    expansion = 1  # output channels = planes * expansion

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        # TODO: create conv1, bn1, relu, conv2, bn2 (these exact names), and keep
        # downsample (a module or None) and stride as attributes.
        # Which conv carries the stride? Do convs followed by BatchNorm need a bias?
        raise NotImplementedError("BasicBlock.__init__")

    def forward(self, x):
        # TODO: conv1 -> bn1 -> relu -> conv2 -> bn2, add the identity (x, or
        # downsample(x) when there is one), then the final ReLU.
        raise NotImplementedError("BasicBlock.forward")


class ResNet(nn.Module):
    """Stem, four stages of blocks, global average pooling and a linear classifier."""

    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        # TODO: conv1 (7x7, stride 2), bn1, relu, maxpool (3x3, stride 2),
        # layer1..layer4 with 64, 128, 256, 512 channels (use _make_layer),
        # avgpool (to 1x1) and fc.
        raise NotImplementedError("ResNet.__init__")

    def _make_layer(self, block, planes, blocks, stride=1):
        # TODO: an nn.Sequential of `blocks` blocks; only the first one gets the stride
        # and, when the shape changes, a downsample = nn.Sequential(1x1 conv, BatchNorm2d).
        raise NotImplementedError("ResNet._make_layer")

    def forward(self, x):
        # TODO: (B, 3, H, W) -> (B, num_classes)
        raise NotImplementedError("ResNet.forward")


def resnet18(num_classes=1000):
    """ResNet-18: two BasicBlocks per stage."""
    # TODO: one line.
    raise NotImplementedError("resnet18")


# ---- the experiment ----------------------------------------------------------------


def deep_plain_net(depth, width, in_channels=1, num_classes=4):
    """A stem conv + ReLU, `depth` x (3x3 conv + ReLU), global average pool, Linear.

    Convs keep the size (padding 1) and have `width` channels; PyTorch's default init,
    no BatchNorm. Input (N, in_channels, H, W), output (N, num_classes).
    """
    # TODO: build and return an nn.Module (nn.Sequential is fine).
    raise NotImplementedError("deep_plain_net")


def deep_residual_net(depth, width, in_channels=1, num_classes=4):
    """deep_plain_net with every hidden layer h(x) = relu(conv(x)) replaced by x + h(x)."""
    # TODO: same layers as deep_plain_net; only the skip connection differs.
    raise NotImplementedError("deep_residual_net")
