"""labpath: a learning-path tracker and lab runner for deep learning from scratch."""

__version__ = "0.1.0"


def check(lab: str, namespace: dict | None = None, **options):
    """Check the lab's classes and functions defined in a notebook (the caller's
    globals unless namespace is given); returns a report that shows itself."""
    import sys

    from labpath.ipython import check as run

    return run(
        lab, sys._getframe(1).f_globals if namespace is None else namespace, **options
    )


def load_ipython_extension(ipython) -> None:
    """`%load_ext labpath`: adds the `%labpath check LAB` magic."""
    from labpath.ipython import load

    load(ipython)
