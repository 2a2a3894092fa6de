"""labpath: a learning-path tracker and lab runner for deep learning from scratch."""

__version__ = "0.1.0"
