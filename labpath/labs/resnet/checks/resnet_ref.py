"""Reference machinery for the resnet checks: a torchvision-layout ResNet, the toy task.

torchvision is not a dependency, so the reference network is written here with the same
module names (conv1, bn1, layer1.0.downsample.0, fc, ...) so that a learner's state_dict
loads into it by key.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from labpath.checks import kit


class RefBlock(nn.Module):
    """torchvision's BasicBlock: stride on conv1, projection shortcut named downsample."""

    expansion = 1

    def __init__(self, cin, cout, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x, variant=None):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        skip = x if self.downsample is None else self.downsample(x)
        if variant == "relu-before-add":
            return F.relu(h) + skip
        if variant == "no-final-relu":
            return h + skip
        if variant == "no-bn2":
            return F.relu(self.conv2(F.relu(self.bn1(self.conv1(x)))) + skip)
        if variant == "stride-on-conv2":
            h = F.relu(self.bn1(F.conv2d(x, self.conv1.weight, stride=1, padding=1)))
            h = self.bn2(F.conv2d(h, self.conv2.weight, stride=self.stride, padding=1))
            return F.relu(h + skip)
        if variant == "no-skip":
            return F.relu(h)
        return F.relu(h + skip)


def projection(cin, cout, stride):
    """The shortcut for a block that changes shape: 1x1 conv (stride) + BN."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
    )


class RefResNet(nn.Module):
    """ResNet-18 with torchvision's module names (the checks' reference)."""

    def __init__(
        self, num_classes=1000, widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2)
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (w, n) in enumerate(zip(widths, blocks, strict=True)):
            stride = 1 if i == 0 else 2
            down = projection(cin, w, stride) if stride != 1 or cin != w else None
            stage = [RefBlock(cin, w, stride, down)] + [
                RefBlock(w, w) for _ in range(n - 1)
            ]
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
            cin = w
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return self.fc(self.avgpool(x).flatten(1))


def randomize_bn(model, gen):
    """Give every BatchNorm non-trivial affine parameters and running statistics.

    A freshly built BN is the identity in eval mode (mean 0, var 1, gamma 1, beta 0),
    which would hide a missing or misplaced BN; random values make every BN count.
    """
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=gen, dtype=torch.float64))
                m.bias.copy_(0.2 * torch.randn(n, generator=gen, dtype=torch.float64))
                m.running_mean.copy_(
                    0.1 * torch.randn(n, generator=gen, dtype=torch.float64)
                )
                m.running_var.copy_(
                    0.5 + torch.rand(n, generator=gen, dtype=torch.float64)
                )


def load_into(ref, state, what):
    """Load the learner's state_dict into the reference; a key or shape mismatch fails.

    ref may be a module or a zero-argument function building it (built on the meta device).
    """
    if callable(ref) and not isinstance(ref, nn.Module):
        with torch.device("meta"):
            ref = ref()
    ours = ref.state_dict()
    missing = [k for k in ours if k not in state]
    extra = [k for k in state if k not in ours]
    shapes = [
        f"{k}: yours {tuple(state[k].shape)}, expected {tuple(v.shape)}"
        for k, v in ours.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or extra or shapes:
        parts = []
        if missing:
            parts.append(
                f"missing {missing[:6]}" + (" ..." if len(missing) > 6 else "")
            )
        if extra:
            parts.append(f"unexpected {extra[:6]}" + (" ..." if len(extra) > 6 else ""))
        if shapes:
            parts.append("shape differs: " + "; ".join(shapes[:4]))
        kit.fail(
            f"{what}: your state_dict does not match torchvision's layout ({', '.join(parts)})",
            hint=key_hint(missing, extra),
        )
    # assign=True adopts the copied tensors (dtype included), so a reference built on
    # the meta device (no memory, no init cost) becomes a real one here
    ref.load_state_dict({k: v.detach().clone() for k, v in state.items()}, assign=True)
    return ref


def key_hint(missing, extra):
    """A sentence explaining the most likely cause of a key mismatch."""
    if any("downsample" in k for k in missing):
        if any("downsample.0" in k for k in missing):
            return (
                "a block that changes stride or channel count needs a projection shortcut: "
                "downsample = nn.Sequential(1x1 conv (stride), BatchNorm2d)"
            )
        return "downsample is nn.Sequential(conv1x1 without bias, BatchNorm2d): index 0 the conv, 1 the BN"
    if any(k.endswith(".bias") and ("conv" in k or "downsample.0" in k) for k in extra):
        return "convolutions followed by BatchNorm take bias=False"
    if any("bn" in k for k in missing):
        return "every conv in a block is followed by its BatchNorm2d: bn1 after conv1, bn2 after conv2"
    return (
        "use torchvision's names: conv1, bn1, relu, maxpool, layer1..layer4 (nn.Sequential "
        "of blocks with conv1, bn1, conv2, bn2, downsample), avgpool, fc"
    )


# ---- the toy task for the plain-vs-residual experiment -----------------------------


def blob_quadrants(n, size, gen):
    """n grayscale images (n, 1, size, size) with a bright 3x3 blob; label = its quadrant.

    Quadrants: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right. Background is noise.
    """
    half = size // 2
    x = 0.3 * torch.randn(n, 1, size, size, generator=gen)
    y = torch.randint(0, 4, (n,), generator=gen)
    for i in range(n):
        q = int(y[i])
        r0 = (q // 2) * half + int(torch.randint(0, half - 2, (1,), generator=gen))
        c0 = (q % 2) * half + int(torch.randint(0, half - 2, (1,), generator=gen))
        x[i, 0, r0 : r0 + 3, c0 : c0 + 3] += 2.0
    return x, y


def conv_grad_norms(model, x, y):
    """Gradient norm of every Conv2d weight (in module order) after one loss.backward()."""
    model.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    return [
        float(m.weight.grad.norm()) if m.weight.grad is not None else 0.0 for m in convs
    ]
