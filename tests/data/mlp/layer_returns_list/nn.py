# The reference nn.py with one interface mistake: Layer always returns a list.
"""
A tiny neural-network library on top of the scalar autograd engine: a neuron is a
weighted sum plus a bias pushed through a nonlinearity, a layer is a list of
independent neurons, and an MLP is a chain of layers. Every weight is a Value, so
loss.backward() reaches all of them and a training step is p.data -= lr * p.grad.

References:
- Neural Networks: Zero to Hero, lecture 1 (https://karpathy.ai/zero-to-hero.html)
- micrograd's public interface (https://github.com/karpathy/micrograd)
"""

import random

from engine import Value


class Module:
    """What every part of the network shares: its parameters and a way to reset their grads."""

    def parameters(self):
        return []

    def zero_grad(self):
        # backward() adds into .grad (+=), so the gradients of the previous step must be
        # cleared before the next backward(), or the steps pile up
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    """out = act(w . x + b) for an input list x of length nin."""

    def __init__(self, nin, nonlin=True):
        # a fresh random Value per input: each neuron (and each weight) is its own object,
        # and different starting points are what let neurons learn different features
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)  # the bias shifts the neuron's threshold
        self.nonlin = nonlin  # False for the output layer: its raw score is the answer

    def __call__(self, x):
        # w . x + b as a chain of Value operations, so backward() can reach w, b and x;
        # starting the sum at self.b adds the bias exactly once
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]  # weights first, then the bias

    def __repr__(self):
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """nout neurons that all read the same input x; returns a list of nout Values."""

    def __init__(self, nin, nout, **kwargs):
        # a list comprehension builds nout separate neurons; [Neuron(nin)] * nout would
        # repeat one neuron nout times, sharing every weight
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        # a single neuron returns its Value itself, so a network ending in one neuron
        # outputs a number that a loss can use directly
        return out  # a list even for one neuron

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]  # one flat list

    def __repr__(self):
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """A multi-layer perceptron: nin inputs, then one layer per entry of nouts."""

    def __init__(self, nin, nouts):
        sz = [nin] + nouts  # e.g. 3, [4, 4, 1] -> layer sizes 3->4, 4->4, 4->1
        # ReLU on every hidden layer; the last layer is linear so its output can take
        # any sign (a ReLU there could only say "0 or positive")
        self.layers = [Layer(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)  # each layer's output is the next layer's input
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self):
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


if __name__ == "__main__":
    # the lecture's four examples: fit 1, -1, -1, 1 with squared error
    random.seed(1337)
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    model = MLP(3, [4, 4, 1])
    print(model, f"\n{len(model.parameters())} parameters")  # 41
    for step in range(50):
        loss = sum((model(x) - y) ** 2 for x, y in zip(xs, ys))
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.02 * p.grad
        if step % 10 == 0:
            print(step, loss.data)
