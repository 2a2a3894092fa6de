"""How `labpath log` and `labpath journal search` scale with the journal's size.

Builds two synthetic workspaces (100 and 10,000 entries) in a temporary folder, then times
real `python -m labpath` processes: wall time and CPU time (the process and the git it
runs), median of several runs, the two sizes' runs alternating. Run from the repository root:

    python benchmarks/journal.py [--sizes 100 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labpath import journal, workspace  # noqa: E402

WORDS = (
    "gradient tanh residual attention softmax logits batchnorm embedding tokenizer "
    "backprop kaiming dropout layernorm optimizer learning-rate overfit"
).split()


GOALS = {
    "log": "ratio <= 1.2, <= 0.3 s",
    "search": "ratio <= 1.2, <= 0.3 s",
    "search, fresh clone": "<= 1 s",
}


def build(root: Path, n: int) -> None:
    """A workspace with n entries spread over two years, committed in one go."""
    env = {"LABPATH_HOME": str(root)}
    os.environ.update(env)
    workspace.init(root)
    rng = random.Random(n)
    start = dt.datetime(2025, 1, 1, 7, 0).astimezone()
    for i in range(n):
        when = start + dt.timedelta(minutes=int(i * 105_000 / max(n, 1)))
        words = " ".join(rng.choice(WORDS) for _ in range(40))
        title = f"Entry {i}: {rng.choice(WORDS)} {rng.choice(WORDS)}"
        e = journal.JournalEntry(
            id=journal.new_id(when),
            created=when.isoformat(),
            title=title,
            body=f"{title}\n\n{words}\n",
            tags=(rng.choice(WORDS),),
            phase=1,
            week=1 + i % 8,
            task="micrograd",
            lab="micrograd",
        )
        path = journal.entry_path(root / "journal", when, title)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(journal.render(e), encoding="utf-8")
    git = ["git", "-C", str(root)]
    subprocess.run([*git, "add", "journal"], check=True)
    # The commit may start git's own background housekeeping; wait for it to finish
    # (it takes gc's lock) rather than racing it.
    subprocess.run(
        [
            *git,
            "-c",
            "maintenance.auto=false",
            "-c",
            "gc.auto=0",
            "commit",
            "-qm",
            f"{n} synthetic entries",
        ],
        check=True,
    )
    # A real journal of this size grew over thousands of commits and git packed it on
    # the way; pack now so git's one-off housekeeping is not timed as labpath's cost.
    subprocess.run([*git, "gc", "-q"], check=True)


def timed(args: list[str], root: Path, command=None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children)."""
    env = {**os.environ, "LABPATH_HOME": str(root), "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        command or [sys.executable, "-m", "labpath", *args],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"labpath {' '.join(args)} failed: {proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def median(pairs):
    return statistics.median(p[0] for p in pairs), statistics.median(
        p[1] for p in pairs
    )


def alternating(roots: list[Path], runs: int, one) -> dict[Path, tuple[float, float]]:
    """Median of one(root, i) per root, the roots' runs alternating: a machine whose
    speed drifts while the loop runs slows every size alike."""
    got: dict[Path, list] = {root: [] for root in roots}
    for i in range(runs):
        for root in roots:
            got[root].append(one(root, i))
    return {root: median(pairs) for root, pairs in got.items()}


SEARCH = ["journal", "search", "residual", "tanh", "-n", "20"]


def measure(roots: list[Path], runs: int) -> dict[Path, dict[str, tuple[float, float]]]:
    out: dict[Path, dict] = {root: {} for root in roots}

    def row(name, one):
        for root, figure in alternating(roots, runs, one).items():
            out[root][name] = figure

    row("startup (--version)", lambda root, i: timed(["--version"], root))
    row(
        "log",
        lambda root, i: timed(["log", f"Benchmark insight {i}", "-t", "bench"], root),
    )
    for root in roots:
        (root / ".labpath" / "tmp" / "cache" / "journal-index.marshal").unlink(
            missing_ok=True
        )
        out[root]["search (no cache)"] = timed(SEARCH, root)
    row("search", lambda root, i: timed(SEARCH, root))

    # The first search after a fresh clone: no index yet (.labpath/tmp is not in git).
    def fresh(root, i):
        clone = root.with_name(f"{root.name}-clone{i}")
        subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
        return timed(SEARCH, clone)

    row("search, fresh clone", fresh)

    # The peer: git itself committing one new file (`git commit -- FILE`).
    def peer(root, i):
        note = root / "journal" / f"peer-{i}.md"
        note.write_text(f"peer {i}\n")
        subprocess.run(["git", "-C", str(root), "add", str(note)], check=True)
        cmd = ["git", "-c", "gc.auto=0", "-c", "maintenance.auto=false", "commit"]
        return timed([], root, [*cmd, "-qm", f"peer {i}", "--", str(note)])

    row("peer: git commit of 1 file", peer)
    for root in roots:
        ws = workspace.open_workspace(str(root))
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(runs):
            journal.search(ws, journal.Query(text=("residual", "tanh"), limit=20))
        wall = (time.perf_counter() - t0) / runs
        out[root]["search core, in process"] = (wall, (time.process_time() - c0) / runs)
    # The floor under every search that can see an entry edited in place: one lstat
    # of each entry file (its folder's mtime does not change when a file is rewritten
    # in place, so the folder listings alone cannot tell).
    names = {root: journal.entry_names(root / "journal") for root in roots}

    def lstat_all(root, i):
        t0, c0 = time.perf_counter(), time.process_time()
        for name in names[root]:
            os.lstat(name)
        return time.perf_counter() - t0, time.process_time() - c0

    row("floor: lstat every entry", lstat_all)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[100, 10_000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    small, large = args.sizes
    with tempfile.TemporaryDirectory(prefix="labpath-bench-") as tmp:
        roots = {}
        for n in (small, large):
            roots[n] = Path(tmp) / f"ws{n}"
            t0 = time.perf_counter()
            build(roots[n], n)
            print(
                f"built {n:,} entries in {time.perf_counter() - t0:.1f}s",
                file=sys.stderr,
            )
        figures = measure(list(roots.values()), args.runs)
        results = {n: figures[root] for n, root in roots.items()}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\nlabpath journal benchmark · median of {args.runs} runs · "
        f"{os.cpu_count()} CPUs, load {load:.1f} · wall s / CPU s"
    )
    head = (
        f"{'':28}{small:>8,} entries{large:>10,} entries{'ratio':>14}   goal "
        f"(at {large:,})"
    )
    print(head)
    print("-" * len(head))
    for key in results[small]:
        (ws_, cs), (wl, cl) = results[small][key], results[large][key]
        print(
            f"{key:28}{ws_:>7.3f} / {cs:.3f}{wl:>9.3f} / {cl:.3f}"
            f"{wl / ws_:>8.2f} / {cl / cs:.2f}   {GOALS.get(key, '')}"
        )
    print(
        "\nGoals hold on an idle machine; under load compare the CPU columns. The peer "
        "row is git's own commit of one file, the floor log's commit is measured against;"
        "\nthe lstat row is the floor under a search that notices an entry edited in "
        "place: the 10,000-entry search minus the 100-entry one cannot be less."
    )


if __name__ == "__main__":
    main()
