"""Checks for the resnet lab: BasicBlock and ResNet-18 against a torchvision-layout reference.

Weights are copied from the learner's modules into the reference by state_dict key, so
every comparison is exact up to float64 rounding; BatchNorm parameters and running
statistics are randomized first, because a fresh BN is the identity and hides mistakes.
"""

import torch
import torch.nn as nn
from resnet_ref import RefBlock, RefResNet, load_into, projection, randomize_bn

from labpath.checks import kit

PARAMS_1000 = 11_689_512  # torchvision resnet18 docs
PARAMS_10 = 11_181_642
STATE_KEYS = 122  # 62 parameter tensors + 20 BatchNorms x 3 buffers


def gen(offset=0):
    return torch.Generator().manual_seed(kit.seed() + offset)


def block_variants(ref, x):
    """Outputs of known BasicBlock mistakes, for naming the one a learner made."""
    out = {}
    known = [
        (
            "relu-before-add",
            "your block applies ReLU before adding the identity; add first, then ReLU",
        ),
        (
            "no-final-relu",
            "your block returns bn2(...) + identity without the final ReLU",
        ),
        ("no-bn2", "your block skips bn2 after conv2 (defined but not applied?)"),
        (
            "no-skip",
            "your block never adds the identity (the skip connection is missing)",
        ),
    ]
    if ref.stride != 1:
        known.append(
            (
                "stride-on-conv2",
                "your block puts the stride on conv2; torchvision's "
                "BasicBlock strides conv1 (conv2 always has stride 1)",
            )
        )
    for v, text in known:
        with torch.no_grad():
            out[text] = ref(x, variant=v)
    return out


def match_variant(yours, variants):
    yours = torch.as_tensor(yours, dtype=torch.float64)
    for text, v in variants.items():
        if v.shape == yours.shape and torch.allclose(yours, v, rtol=1e-6, atol=1e-8):
            return text
    return None


def compare_block(BasicBlock, cin, cout, stride, with_downsample, hw, what):
    torch.manual_seed(kit.seed())
    down = projection(cin, cout, stride) if with_downsample else None
    yours = (
        BasicBlock(cin, cout, stride, down)
        if down is not None
        else BasicBlock(cin, cout, stride)
    )
    yours = yours.double()
    randomize_bn(yours, gen(1))
    ref = load_into(
        lambda: RefBlock(
            cin,
            cout,
            stride,
            projection(cin, cout, stride) if with_downsample else None,
        ),
        yours.state_dict(),
        what,
    )
    x = torch.randn(2, cin, *hw, generator=gen(2), dtype=torch.float64)
    for mode in ("eval", "train"):
        yours.train(mode == "train")
        ref.train(mode == "train")
        with torch.no_grad():
            expected = ref(x.clone())
            variants = block_variants(ref, x.clone())
            got = yours(x.clone())
        hint = None
        if stride != 1:
            hint = (
                "shapes right but values differ? the stride belongs to conv1 (torchvision's "
                "BasicBlock); conv2 always has stride 1"
            )
        kit.close(
            got,
            expected,
            f"{what} output in {mode} mode",
            rtol=1e-6,
            atol=1e-8,
            dims="B C H W",
            hint=hint,
            diagnose=lambda y, v=variants: match_variant(y, v),
        )


def test_identity_block_matches_reference(BasicBlock):
    """BasicBlock(8, 8) on (2, 8, 7, 6): conv-bn-relu-conv-bn, + identity, then ReLU."""
    compare_block(BasicBlock, 8, 8, 1, False, (7, 6), "BasicBlock(8, 8)")


def test_downsampling_block_matches_reference(BasicBlock):
    """BasicBlock(8, 16, stride=2, downsample=1x1 conv + BN) on (2, 8, 7, 6) -> (2, 16, 4, 3)."""
    compare_block(
        BasicBlock, 8, 16, 2, True, (7, 6), "BasicBlock(8, 16, stride=2, downsample)"
    )


def test_block_keeps_input_intact(BasicBlock):
    """The block does not modify its input tensor in place (the identity must survive)."""
    torch.manual_seed(kit.seed())
    block = BasicBlock(6, 6).double().train()
    x = torch.randn(2, 6, 5, 4, generator=gen(3), dtype=torch.float64)
    before = x.clone()
    with torch.no_grad():
        block(x)
    kit.close(
        x,
        before,
        "the block's input after the forward pass",
        rtol=0,
        atol=0,
        dims="B C H W",
        hint="an in-place ReLU on x (or out += on a view of x) overwrites the identity",
    )


def test_resnet18_parameter_count(build_resnet18, resnet18_10):
    """resnet18: 11,689,512 parameters for 1000 classes, 11,181,642 for 10 classes."""
    for classes, expected in ((1000, PARAMS_1000), (10, PARAMS_10)):
        model = build_resnet18(1000) if classes == 1000 else resnet18_10
        n = sum(p.numel() for p in model.parameters())
        if n != expected:
            kit.fail(
                f"number of parameters of resnet18(num_classes={classes})",
                yours=n,
                expected=expected,
                diagnosis=count_diagnosis(model, n - expected),
                hint="compare your state_dict with torchvision's layout "
                "(the state_dict check lists the differing keys)",
            )


def count_diagnosis(model, delta):
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    biased = sum(m.bias.numel() for m in convs if m.bias is not None)
    if biased:
        return (
            f"{biased} of the extra parameters are convolution biases: a conv followed by "
            "BatchNorm takes bias=False (BN's beta is the shift)"
        )
    stem = getattr(model, "conv1", None)
    if isinstance(stem, nn.Conv2d) and stem.kernel_size != (7, 7):
        return f"your stem conv1 is {stem.kernel_size}; ResNet-18's is 7x7, stride 2, padding 3"
    known = {
        -(8192 + 256 + 32768 + 512 + 131072 + 1024): "no downsample projections at all",
        25088 * 1000
        - 512
        * 1000: "fc takes a flattened 512x7x7 map; average-pool first (fc in_features 512)",
    }
    if delta in known:
        return known[delta]
    return None  # a count alone names no mistake; the report shows yours and expected


def test_state_dict_keys_and_shapes_match_torchvision(resnet18_10):
    """122 state_dict entries with torchvision's names and shapes (layer2.0.downsample.1.running_var, fc.weight, ...)."""
    model = resnet18_10
    state = model.state_dict()
    load_into(lambda: RefResNet(10), state, "resnet18(num_classes=10)")
    if len(state) != STATE_KEYS:
        kit.fail("number of state_dict entries", yours=len(state), expected=STATE_KEYS)


PARAMS_34 = 21_797_672  # torchvision resnet34 docs: ResNet(BasicBlock, [3, 4, 6, 3])


def _on_meta(build):
    """Build on the meta device (no memory, no init cost); on the CPU if that fails."""
    try:
        with torch.device("meta"):
            return build()
    except NotImplementedError:
        raise
    except Exception:  # code that cannot run on meta (e.g. .to("cpu") inside __init__)
        return build()


def test_resnet_with_other_stage_depths(resnet):
    """ResNet(BasicBlock, [1, 2, 4, 3], 10) has 1, 2, 4, 3 blocks per stage; [3, 4, 6, 3] (ResNet-34) has 21,797,672 parameters."""
    if not kit.has(resnet, "ResNet") or not kit.has(resnet, "BasicBlock"):
        kit.fail("your resnet.py defines no ResNet(block, layers, num_classes=1000) and BasicBlock",
                 hint="the interface is torchvision's: ResNet(BasicBlock, [2, 2, 2, 2]) is ResNet-18")
    layers = [1, 2, 4, 3]  # all different, so layer i built from another entry shows
    model = _on_meta(
        lambda: resnet.ResNet(resnet.BasicBlock, list(layers), num_classes=10)
    )
    state = model.state_dict()
    found = [
        len({k.split(".")[1] for k in state if k.startswith(f"layer{i + 1}.")})
        for i in range(4)
    ]
    if found != layers:
        wrong = next(i for i in range(4) if found[i] != layers[i])
        kit.fail(f"blocks per stage of ResNet(BasicBlock, {layers}, num_classes=10)", yours=found,
                 expected=layers,
                 hint=f"layer{wrong + 1} is built from layers[{wrong}]: "
                 "_make_layer(block, 64, layers[0]), (128, layers[1], stride=2), ...")
    load_into(
        lambda: RefResNet(10, blocks=tuple(layers)),
        state,
        f"ResNet(BasicBlock, {layers}, num_classes=10)",
    )
    # the documented default num_classes=1000, with ResNet-34's stages
    model = _on_meta(lambda: resnet.ResNet(resnet.BasicBlock, [3, 4, 6, 3]))
    n = sum(p.numel() for p in model.parameters())
    if n != PARAMS_34:
        kit.fail("number of parameters of ResNet(BasicBlock, [3, 4, 6, 3]) (ResNet-34, default num_classes)",
                 yours=n, expected=PARAMS_34,
                 hint="num_classes defaults to 1000; each stage has layers[i] blocks")
    if kit.has(resnet, "resnet18"):
        model = _on_meta(lambda: resnet.resnet18())
        n = sum(p.numel() for p in model.parameters())
        if n != PARAMS_1000:
            kit.fail("number of parameters of resnet18() with its default num_classes",
                     yours=n, expected=PARAMS_1000, hint="resnet18(num_classes=1000): the default is 1000")


def compare_resnet(model, mode):
    model = model.double()
    randomize_bn(model, gen(4))
    ref = load_into(
        lambda: RefResNet(10), model.state_dict(), "resnet18(num_classes=10)"
    )
    model.train(mode == "train")
    ref.train(mode == "train")
    x = torch.randn(2, 3, 64, 48, generator=gen(5), dtype=torch.float64)
    with torch.no_grad():
        expected = ref(x.clone())
        got = model(x.clone())
    kit.close(
        got,
        expected,
        f"resnet18 logits on (2, 3, 64, 48) in {mode} mode",
        rtol=1e-6,
        atol=1e-8,
        dims="B classes",
        hint="with the same weights, the same layers in the same order give the same logits: "
        "stem conv-bn-relu-maxpool, layer1..layer4, avgpool, flatten, fc",
    )


def test_resnet18_forward_matches_reference_in_eval_mode(resnet18_10):
    """Your weights loaded into the reference: same logits in eval mode (running BN statistics)."""
    compare_resnet(resnet18_10, "eval")


def test_resnet18_forward_matches_reference_in_train_mode(resnet18_10):
    """Your weights loaded into the reference: same logits in train mode (batch BN statistics)."""
    compare_resnet(resnet18_10, "train")


def test_stage_output_shapes(resnet18_10):
    """Feature maps at 224x224: maxpool 56, layer1 56, layer2 28, layer3 14, layer4 7 (and 64x64)."""
    model = resnet18_10.eval()
    names = ["maxpool", "layer1", "layer2", "layer3", "layer4"]
    for name in names:
        if not isinstance(getattr(model, name, None), nn.Module):
            kit.fail(
                f"your ResNet has no submodule named {name}",
                hint="torchvision's names: conv1, bn1, relu, maxpool, layer1..layer4, avgpool, fc",
            )
    for size in (64, 224):
        seen = {}
        hooks = [
            getattr(model, n).register_forward_hook(
                lambda m, i, o, n=n, seen=seen: seen.__setitem__(n, tuple(o.shape))
            )
            for n in names
        ]
        try:
            with torch.no_grad():
                out = model(torch.randn(1, 3, size, size, generator=gen(6)))
        finally:
            for h in hooks:
                h.remove()
        expected = {
            "maxpool": (1, 64, size // 4, size // 4),
            "layer1": (1, 64, size // 4, size // 4),
            "layer2": (1, 128, size // 8, size // 8),
            "layer3": (1, 256, size // 16, size // 16),
            "layer4": (1, 512, size // 32, size // 32),
        }
        for n in names:
            if seen.get(n) != expected[n]:
                hint = None
                if n not in seen:
                    hint = f"your forward() never calls self.{n}"
                elif n in ("maxpool", "layer1") and seen.get(n, (0, 0, 0))[2:] == (
                    size // 2,
                    size // 2,
                ):
                    hint = "the stem halves the size twice: conv1 with stride 2, then maxpool(3, stride 2, padding 1)"
                kit.fail(
                    f"output shape of {n} for a (1, 3, {size}, {size}) input",
                    yours=seen.get(n, "never called"),
                    expected=expected[n],
                    hint=hint,
                )
        kit.close(
            torch.zeros(out.shape),
            torch.zeros(1, 10),
            f"logits shape for a {size}x{size} input",
            dims="B classes",
        )


def test_every_parameter_gets_a_gradient(resnet18_10):
    """One backward pass in train mode reaches every parameter with a nonzero gradient."""
    model = resnet18_10.train()
    x = torch.randn(2, 3, 32, 32, generator=gen(7))
    model(x).square().mean().backward()
    dead = [
        n
        for n, p in model.named_parameters()
        if p.grad is None or not bool(p.grad.abs().sum() > 0)
    ]
    if dead:
        kit.fail(
            f"{len(dead)} parameters got no gradient: {dead[:6]}",
            hint="every module you create must be used in forward()",
        )
