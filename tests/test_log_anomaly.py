"""The log-anomaly lab: its generator, correct variants of the solution, and run.py."""

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from labpath import labs

pytestmark = pytest.mark.torch  # the generator's module imports torch

LAB = labs.load("log-anomaly")
LSTM_DIR = labs.load("lstm").solution_dir
RUN = LAB.directory / "run.py"
# A normal run, as event names; (retry? ok) is one test shard.
VALID = re.compile(
    r"start checkout (build ){2,4}((test_retry )?test_ok ){2,4}package "
    r"lock (deploy ){1,3}smoke approval unlock lock (deploy ){1,3}smoke unlock "
    r"(health ){1,3}finished"
)


def load(path: Path, name: str):
    if str(LSTM_DIR) not in sys.path:
        sys.path.append(str(LSTM_DIR))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ref():
    return load(LAB.directory / "checks" / "la_ref.py", "la_ref_under_test")


@pytest.fixture(scope="module")
def solution():
    return load(LAB.solution_dir / "log_anomaly.py", "log_anomaly_solution")


def events(ref, run_lines):
    return [ref.event_of(ref.records([x])[0][1]) for x in run_lines]


# --- the generator -------------------------------------------------------------------


def test_generator_is_deterministic_per_seed_and_copies_agree(ref, solution):
    a = ref.generate_release_logs(30, 5, anomaly_rate=0.4)
    assert a == ref.generate_release_logs(30, 5, anomaly_rate=0.4)
    assert a != ref.generate_release_logs(30, 6, anomaly_rate=0.4)
    # the checks' copy, the solution's and the starter's make the same data
    assert solution.generate_release_logs(30, 5, anomaly_rate=0.4) == a
    starter = load(LAB.starter_dir / "log_anomaly.py", "log_anomaly_starter")
    assert starter.generate_release_logs(30, 5, anomaly_rate=0.4) == a
    assert starter.interleave(a) == ref.interleave(a)


def test_generator_has_branching_long_range_structure_and_variable_fields(ref):
    runs = ref.generate_release_logs(400, 11)
    seqs = [events(ref, lines) for _, lines, _, _ in runs]
    assert all(None not in s and VALID.fullmatch(" ".join(s)) for s in seqs)
    lengths = [len(s) for s in seqs]
    # longer than h = 10: windows exist
    assert min(lengths) >= 18 and max(lengths) <= 32
    # branching: up to 3 valid successors one key back, so top-1 and top-2 must err
    succ = defaultdict(set)
    for s in seqs:
        for a, b in zip(s, s[1:]):
            succ[a].add(b)
    assert max(len(v) for v in succ.values()) == 3
    # long range: smoke is followed by approval (staging) or unlock (prod); which one
    # is due is decided by context further back
    assert succ["smoke"] == {"approval", "unlock"}
    assert succ["unlock"] == {"lock", "health"}
    # variable fields: nearly every raw message is unique, 13 templates after masking
    messages = [ref.records([x])[0][1] for _, lines, _, _ in runs for x in lines]
    assert len(set(messages)) > 0.95 * len(messages)
    assert len({ref.mask(m) for m in messages}) == 13


def test_generator_interleaves_two_releases_per_stream(ref):
    runs = ref.generate_release_logs(20, 3)
    stream = ref.interleave(runs)
    ids = [r for r, _ in ref.records(stream)]
    switches = sum(a != b for a, b in zip(ids, ids[1:]))
    assert switches > 5 * len(runs)  # the runs of a pair alternate many times
    # but never more than two at once: runs 2j and 2j + 1 overlap, pairs do not
    for i in range(0, len(runs), 2):
        pair = {runs[i][0], runs[i + 1][0]}
        first = min(ids.index(r) for r in pair)
        last = max(len(ids) - 1 - ids[::-1].index(r) for r in pair)
        assert set(ids[first : last + 1]) == pair


def test_generator_anomaly_mix_is_exact_and_partly_undetectable(ref):
    runs = ref.generate_release_logs(800, 21, anomaly_rate=0.5)
    assert Counter(k for _, _, _, k in runs) == Counter(
        normal=400, missing=100, swap=100, unknown=100, loop=100
    )
    assert all(label == (kind != "normal") for _, _, label, kind in runs)
    normal = [events(ref, r[1]) for r in runs if r[3] == "normal"]
    bigrams = {(a, b) for s in normal for a, b in zip(s, s[1:])}
    valid = defaultdict(int)
    invisible_one_back = 0
    for _, lines, _, kind in runs:
        s = events(ref, lines)
        if kind == "unknown":
            # FAILED + rollback: templates no normal run has, key 0 for a parser
            assert "deploy_failed" in s and "rollback" in s
            continue
        assert not {"deploy_failed", "rollback"} & set(s)
        if VALID.fullmatch(" ".join(s)):
            valid[kind] += 1
        if kind == "missing" and set(zip(s, s[1:])) <= bigrams:
            invisible_one_back += 1
    # some swaps give a valid run (undetectable); no other kind ever does
    assert 0 < valid["swap"] < 40 and valid["missing"] == valid["loop"] == 0
    # a missing approval or lock release looks normal one key back: h matters
    assert invisible_one_back > 5


# --- correct variants ------------------------------------------------------------------


def variant(tmp_path: Path, edits) -> Path:
    dest = tmp_path / "code"
    shutil.copytree(LAB.solution_dir, dest)
    path = dest / "log_anomaly.py"
    text = path.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return dest


def check(dest: Path, select=None):
    from labpath.checks.runner import run_checks

    report = run_checks(LAB, dest, select=select, uses={"lstm": LSTM_DIR})
    assert report.ok, [
        (r.name, r.what, r.message) for r in report.results if r.outcome != "passed"
    ]
    return report


EMBEDDED = [
    (
        "self.embed = nn.Embedding(num_keys, embed_dim) if embed_dim else None",
        "self.embed = nn.Embedding(num_keys, embed_dim or 8)  # always embedded",
    ),
    (
        "sizes = [embed_dim or num_keys] + [hidden_size] * num_layers",
        "sizes = [embed_dim or 8] + [hidden_size] * num_layers",
    ),
]

TYPED_MASK = '''def _typed(token):
    """A token-by-token classifier with typed placeholders (another masking style)."""
    core = token.strip(",;:()[]")
    if "@" in core and "." in core.split("@")[-1]:
        return "<EMAIL>"
    if "://" in core or core.startswith("/"):
        return "<PATH>"
    if re.fullmatch(r"[0-9a-fA-F]{7,}", core):
        return "<HEX>"
    if any(ch.isdigit() for ch in core):
        return "<NUM>"
    return token


def mask_variables(line):
    """Typed placeholders, one per token."""
    return " ".join(_typed(t) for t in line.split())


def _unused_mask_variables(line):'''

PER_EVENT = '''def first_anomaly(model, keys, h, g, pad_key=None):
    """One forward call per event, in a loop (slow but correct)."""
    keys = list(keys)
    padded = [pad_key] * h + keys if pad_key is not None else keys
    offset = h if pad_key is not None else 0
    for i, k in enumerate(keys):
        if k == 0:
            return i
        j = i + offset  # position of event i in padded
        if j < h:
            continue  # no full context: not scored
        with torch.no_grad():
            logits = model(torch.tensor([padded[j - h : j]]))[0]
        if k not in logits.argsort(descending=True)[:g].tolist():
            return i
    return None


def _unused_first_anomaly(model, keys, h, g, pad_key=None):'''


@pytest.mark.slow
def test_an_always_embedded_model_passes_every_check(tmp_path):
    check(variant(tmp_path, EMBEDDED))


@pytest.mark.slow
def test_a_parser_on_typed_placeholders_passes_every_check(tmp_path):
    dest = variant(tmp_path, [("def mask_variables(line):", TYPED_MASK)])
    check(dest)


@pytest.mark.slow
def test_unpadded_per_event_detection_passes_the_detection_checks(tmp_path):
    dest = variant(
        tmp_path, [("def first_anomaly(model, keys, h, g, pad_key=None):", PER_EVENT)]
    )
    names = [
        "test_first_anomaly_is_the_first_key_outside_the_top_g",
        "test_padded_first_events_are_scored",
        "test_one_miss_makes_a_session_anomalous",
        "test_g_equal_to_num_keys_never_flags",
        "test_unknown_key_is_always_anomalous",
        "test_short_normal_session_is_not_flagged",
    ]
    report = check(dest, select=names)
    assert report.passed == len(names)


# --- run.py ----------------------------------------------------------------------------


def run(tmp_path, *args, target=None):
    env = {
        "LABPATH_TARGET": str(target or LAB.solution_dir),
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "MPLBACKEND": "Agg",
    }
    out = ["--out", str(tmp_path / "out"), "--device", "cpu"]
    return subprocess.run(
        [sys.executable, str(RUN), *out, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


TINY = ["--train-runs", "60", "--val-runs", "20", "--test-runs", "40", "--epochs", "1"]
TINY += ["--h", "3", "--hidden", "8", "--g", "1,3"]


def test_run_py_end_to_end_on_generated_logs(tmp_path):
    r = run(tmp_path, *TINY)
    assert r.returncode == 0, r.stdout + r.stderr
    figs = json.loads((tmp_path / "out" / "log-anomaly-figures.json").read_text())
    assert figs["templates"] == 13
    assert set(figs["per_g"]) == {"g=1", "g=3"}
    assert 0.0 <= figs["auroc"] <= 1.0
    kinds = set(figs["score>threshold"]["recall_per_kind"])
    assert kinds == {"missing", "swap", "unknown", "loop"}
    assert figs["per_g"]["g=1"]["recall_per_kind"]["unknown"] == 1.0
    assert (tmp_path / "out" / "release-train.log").is_file()
    assert "AUROC" in r.stdout
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "no plots" in r.stdout
    else:
        assert (tmp_path / "out" / "log-anomaly-timeline.png").is_file()
        assert (tmp_path / "out" / "log-anomaly-g.png").is_file()


def test_run_py_on_your_own_log_file_with_a_template(tmp_path, ref):
    # a CI log of another shape: "DATE TIME [job-id] LEVEL message", with noise lines
    runs = ref.generate_release_logs(40, 9)
    lines = ["# exported from the CI server"]
    for stamp_line in ref.interleave(runs):
        stamp, rest = stamp_line.split(" ", 1)
        run_id, message = rest.split(" ", 1)
        job = run_id.replace("run=", "job-")
        lines.append(f"{stamp[:10]} {stamp[11:19]} [{job}] INFO {message}")
        if len(lines) % 97 == 0:
            lines.append("   (continued)")
    log = tmp_path / "ci.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    template = (
        r"^(?P<date>\S+) (?P<time>\S+) \[(?P<session>[^\]]+)\] \w+ (?P<message>.*)$"
    )
    tiny = ["--epochs", "1", "--h", "3", "--hidden", "8", "--g", "1,3"]
    r = run(tmp_path, "--data", str(log), "--template", template, *tiny)
    assert r.returncode == 0, r.stdout + r.stderr
    figs = json.loads((tmp_path / "out" / "log-anomaly-figures.json").read_text())
    assert figs["templates"] == 13
    assert "40 sessions" in figs["source"] and "not matched" in figs["source"]
    assert figs["per_g"]["g=1"]["flagged"] > 0  # top-1 flags normal runs too
    top = figs["top_sessions"]
    assert len(top) == 5 and top[0]["session"].startswith("job-")


def test_run_py_refuses_a_template_without_the_groups(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("a b c\n", encoding="utf-8")
    r = run(tmp_path, "--data", str(log), "--template", r"^(?P<message>.*)$")
    assert r.returncode == 2 and "(?P<session>" in r.stderr
    r = run(tmp_path, "--data", str(log))
    assert r.returncode == 2 and "--template" in r.stderr
