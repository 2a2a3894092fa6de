"""First on PYTHONPATH, this makes `import torch` fail, as where torch is not installed."""

import sys


class NoTorch:
    """A finder that refuses torch and its submodules, before any other is asked."""

    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError("No module named 'torch' (blocked by the tests)")
        return None


if __name__ == "sitecustomize":  # run at start-up; a test loading the file takes the class
    sys.meta_path.insert(0, NoTorch())
