"""Rename photos by the date they were taken, read from the file's modification time."""

import sys
import time
from pathlib import Path


def new_name(path):
    stamp = time.strftime("%Y-%m-%d_%H%M%S", time.localtime(path.stat().st_mtime))
    return path.with_name(f"{stamp}{path.suffix.lower()}")


def rename_all(folder):
    for path in sorted(Path(folder).glob("*.jpg")):
        target = new_name(path)
        if not target.exists():
            path.rename(target)


if __name__ == "__main__":
    rename_all(sys.argv[1])
