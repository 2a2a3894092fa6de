"""
Lab - mlp: a small neural-network library on your own Value engine.

Build Neuron, Layer and MLP out of the Value class you wrote in the micrograd lab.
Read README.md in this folder first; check your work with `labpath check mlp`.

Every gap below is marked TODO and raises NotImplementedError until you fill it in.
"""

import random  # noqa: F401  (random.uniform for the initial weights)

from engine import Value  # noqa: F401  (your labs/micrograd/engine.py)


class Module:
    """Shared by every part of the network."""

    def parameters(self):
        """All the Values this module learns, as one flat list."""
        return []

    def zero_grad(self):
        # TODO: set the grad of every parameter back to 0 (backward() only adds to .grad).
        raise NotImplementedError("Module.zero_grad")


class Neuron(Module):
    """out = act(w . x + b): ReLU (or tanh) when nonlin is True, no activation otherwise."""

    def __init__(self, nin, nonlin=True):
        # TODO: self.w, a list of nin Values with random starting values (each its own
        # object); self.b, a Value for the bias; remember nonlin.
        raise NotImplementedError("Neuron.__init__")

    def __call__(self, x):
        # TODO: the weighted sum of the inputs plus the bias, built from Value
        # operations; then the activation if nonlin.
        raise NotImplementedError("Neuron.__call__")

    def parameters(self):
        # TODO: the weights, then the bias.
        raise NotImplementedError("Neuron.parameters")


class Layer(Module):
    """nout independent neurons reading the same input."""

    def __init__(self, nin, nout, **kwargs):
        # TODO: self.neurons, a list of nout separate Neuron(nin, **kwargs).
        raise NotImplementedError("Layer.__init__")

    def __call__(self, x):
        # TODO: every neuron's output; a single Value (not a list) when nout == 1.
        raise NotImplementedError("Layer.__call__")

    def parameters(self):
        # TODO: the parameters of every neuron, in order, as one flat list.
        raise NotImplementedError("Layer.parameters")


class MLP(Module):
    """nin inputs, then one Layer per entry of nouts; the last layer has no activation."""

    def __init__(self, nin, nouts):
        # TODO: self.layers; layer i maps size sz[i] to sz[i + 1] with sz = [nin] + nouts.
        raise NotImplementedError("MLP.__init__")

    def __call__(self, x):
        # TODO: feed x through the layers in turn.
        raise NotImplementedError("MLP.__call__")

    def parameters(self):
        # TODO: the parameters of every layer, in order, as one flat list.
        raise NotImplementedError("MLP.parameters")
