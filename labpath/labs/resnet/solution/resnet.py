"""
ResNet-18, written so that its state_dict is interchangeable with torchvision's, plus a
deep plain network and its residual twin for measuring what the skip connection does
to gradients.

A residual block learns a correction F(x) to its input and outputs relu(F(x) + x).
The "+ x" gives the gradient a path that skips every weight in the block, so stacking
many blocks no longer multiplies the gradient by many small factors.

References:
- He et al. 2015, Deep Residual Learning for Image Recognition (arXiv:1512.03385)
- torchvision's module names and layout (pytorch/vision, torchvision/models/resnet.py)
"""

import torch
import torch.nn as nn


def conv3x3(in_planes, out_planes, stride=1):
    """3x3 convolution, padding 1 so that stride 1 keeps the spatial size."""
    # no bias: the BatchNorm right after it subtracts the mean and adds its own shift
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes, out_planes, stride=1):
    """1x1 convolution: changes the channel count (and, with stride 2, halves H and W)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers plus a skip connection: relu(bn2(conv2(relu(bn1(conv1 x)))) + x)."""

    expansion = 1  # output channels = planes * expansion (4 in the Bottleneck block)

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        # the stride sits on the FIRST conv, so the block downsamples before it computes
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        # when the block changes shape, x must be projected to the new shape to be added
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x  # (B, inplanes, H, W)

        out = self.conv1(x)  # (B, planes, H/stride, W/stride)
        out = self.bn1(out)
        out = self.relu(out)

        out = self.conv2(out)  # (B, planes, H/stride, W/stride)
        out = self.bn2(out)

        if self.downsample is not None:
            identity = self.downsample(x)  # (B, planes, H/stride, W/stride)

        # add first, then the nonlinearity: the sum is what the next block sees
        out = out + identity
        out = self.relu(out)
        return out


class ResNet(nn.Module):
    """Stem (7x7 conv, BN, ReLU, max pool), four stages of blocks, global average pool, fc."""

    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.inplanes = 64  # channels flowing into the next block; _make_layer updates it
        # stem: (B, 3, H, W) -> (B, 64, H/2, W/2) -> max pool -> (B, 64, H/4, W/4)
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        # each stage after the first halves H and W and doubles the channels
        self.layer1 = self._make_layer(block, 64, layers[0])  # (B, 64, H/4, W/4)
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)  # (B, 128, H/8, W/8)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)  # (B, 256, H/16, W/16)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)  # (B, 512, H/32, W/32)
        # average over whatever spatial size is left, so any input size >= 32 works
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        # He (kaiming) init for convs, as the paper; BN starts as the identity (gamma 1, beta 0)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            # the identity no longer has the block's output shape: project it with a
            # strided 1x1 conv + BN (option B in the paper)
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        # only the first block of a stage changes the shape; the rest keep it
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.conv1(x)  # (B, 64, H/2, W/2)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)  # (B, 64, H/4, W/4)

        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)  # (B, 512, H/32, W/32)

        x = self.avgpool(x)  # (B, 512, 1, 1)
        x = torch.flatten(x, 1)  # (B, 512)
        x = self.fc(x)  # (B, num_classes)
        return x


def resnet18(num_classes=1000):
    """ResNet-18: 2 BasicBlocks per stage; 11,689,512 parameters with 1000 classes."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes)


# ---- the experiment: a deep plain stack and its residual twin ----------------------
# No BatchNorm here on purpose: it isolates what the skip connection alone does.


class ResidualUnit(nn.Module):
    """x + relu(conv(x)): the plain net's layer with the input added back."""

    def __init__(self, width):
        super().__init__()
        self.conv = nn.Conv2d(width, width, kernel_size=3, padding=1)

    def forward(self, x):
        # d(out)/dx = 1 + d(relu(conv x))/dx: the "1" carries the gradient through
        return x + torch.relu(self.conv(x))


def deep_plain_net(depth, width, in_channels=1, num_classes=4):
    """stem conv + ReLU, `depth` x (3x3 conv + ReLU), global average pool, linear head."""
    layers = [nn.Conv2d(in_channels, width, kernel_size=3, padding=1), nn.ReLU()]
    for _ in range(depth):
        layers += [nn.Conv2d(width, width, kernel_size=3, padding=1), nn.ReLU()]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes)]
    return nn.Sequential(*layers)


def deep_residual_net(depth, width, in_channels=1, num_classes=4):
    """The same network with every hidden conv + ReLU wrapped in a skip connection."""
    layers = [nn.Conv2d(in_channels, width, kernel_size=3, padding=1), nn.ReLU()]
    for _ in range(depth):
        layers.append(ResidualUnit(width))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes)]
    return nn.Sequential(*layers)
