"""labpath's own references for the log-anomaly checks: the release-log generator (a
copy of the lab's, so a learner's variant cannot change the test data), the masking
and windowing rules, DeepLog's top-g rule on any model, and the metrics."""

import random
import re
from datetime import datetime, timedelta, timezone

import numpy as np
import torch
from torch.nn import functional as F

# One template per event kind. {fields} vary from line to line; the words do not.
TEMPLATES = {
    "start": "release {ver} started by {user} at commit {sha7}",
    "checkout": "checked out {sha} on {runner} in {dur}",
    "build": "build step {i}/{n} finished on {runner} in {dur}",
    "test_ok": "test shard {i}/{n} passed on {runner} in {dur} ({tests} tests)",
    "test_retry": "test shard {i}/{n} flaky on {runner}, retrying in {dur}",
    "package": "package {path} built, sha256 {digest}",
    "lock": "lock acquired on {cluster} by {run}",
    "deploy": "deploy {i}/{n} of {ver} to {host} ok in {dur}",
    "smoke": "smoke test {url} passed in {dur}",
    "approval": "approval granted by {approver} after {dur}",
    "unlock": "lock released on {cluster} after {dur}",
    "health": "health check {i} on {cluster}: {ready}/{pods} pods ready, p99 {ms}ms",
    "finished": "release {ver} finished in {dur}, status ok",
    # never in a normal run: an unseen template must map to key 0
    "deploy_failed": "deploy {i}/{n} of {ver} to {host} FAILED in {dur}",
    "rollback": "rollback to {prev} started on {cluster} by {user}",
}
NORMAL_EVENTS = tuple(k for k in TEMPLATES if k not in ("deploy_failed", "rollback"))
KINDS = ("missing", "swap", "unknown", "loop")
# steps whose absence breaks the run (finished is left out: with no end key, a run
# cut short after its health checks looks like a normal one)
MANDATORY = ("checkout", "package", "lock", "smoke", "approval", "unlock")
USERS = ("alice", "bob", "chen.li", "dana", "emeka", "farah", "goran", "hana")
REGIONS = ("eu-west", "us-east", "ap-south")
LINE = re.compile(r"^(?P<time>\S+) run=(?P<session>\S+) (?P<message>.*)$")


def _normal_events(rng):
    """The event names of one normal release, with its branching and long-range parts."""
    ev = ["start", "checkout"] + ["build"] * rng.randint(2, 4)
    for _ in range(rng.randint(2, 4)):
        if rng.random() < 0.15:
            ev.append("test_retry")  # a flaky shard, retried once
        ev.append("test_ok")
    ev.append("package")
    for env in ("staging", "prod"):
        # the lock spans the whole deployment; approval only on staging
        ev += ["lock"] + ["deploy"] * rng.randint(1, 3) + ["smoke"]
        ev += ["approval"] if env == "staging" else []
        ev.append("unlock")
    ev += ["health"] * rng.randint(1, 3) + ["finished"]
    return ev


def _inject(rng, ev, kind):
    """A copy of a normal run's events with one anomaly of the given kind."""
    ev = list(ev)
    if kind == "missing":
        i = rng.choice([i for i, e in enumerate(ev) if e in MANDATORY])
        del ev[i]
    elif kind == "swap":
        # two adjacent, different events; some swaps give a valid run (undetectable)
        i = rng.choice([i for i in range(len(ev) - 1) if ev[i] != ev[i + 1]])
        ev[i], ev[i + 1] = ev[i + 1], ev[i]
    elif kind == "unknown":
        i = rng.choice([i for i, e in enumerate(ev) if e == "deploy"])
        ev[i + 1 : i + 1] = ["deploy_failed", "rollback"]
    elif kind == "loop":
        i = rng.choice([i for i, e in enumerate(ev) if e == "test_ok"])
        ev[i:i] = ["test_retry"] * rng.randint(4, 9)  # a runaway retry
    else:
        raise ValueError(f"unknown anomaly kind {kind!r}; expected one of {KINDS}")
    return ev


def _render(rng, events, run_id, start):
    """Text lines 'TIME run=ID message' with fresh variable fields in every line."""
    major, minor = rng.randint(1, 4), rng.randint(0, 30)
    ver = f"v{major}.{minor}.{rng.randint(0, 99)}" + ("-rc1" if rng.random() < 0.2 else "")
    service = rng.choice(("payments", "search", "ledger", "gateway"))
    clusters = [f"{env}-{rng.choice(REGIONS)}-{rng.randint(1, 3)}" for env in ("stg", "prd")]
    fields = dict(ver=ver, prev=f"v{major}.{max(0, minor - 1)}.0", run=run_id,
                  user=f"{rng.choice(USERS)}@example.com", sha7=f"{rng.getrandbits(28):07x}")
    env, count, t, lines = 0, {}, start, []
    for e in events:
        if e == "lock" and count.get("lock"):
            env = 1  # the second lock is prod's
        count[e] = count.get(e, 0) + 1
        n = {"build": events.count("build"), "deploy": 3}.get(e, 4)
        f = dict(fields, i=count[e], n=max(n, count[e]), cluster=clusters[env],
                 runner=f"ci-runner-{rng.randint(1, 24):02d}", dur=f"{rng.uniform(0.2, 90):.1f}s",
                 sha=f"{rng.getrandbits(160):040x}", tests=rng.randint(20, 400),
                 path=f"/srv/artifacts/{service}/{ver}/{service}.tar.gz",
                 digest=f"{rng.getrandbits(64):016x}", host=f"web-{rng.randint(1, 40):02d}.{clusters[env]}",
                 url=f"https://{clusters[env]}.internal:8443/healthz",
                 approver=f"{rng.choice(USERS)}@example.com", pods=3, ready=3, ms=rng.randint(40, 900))
        t += timedelta(seconds=rng.uniform(1.0, 40.0))
        stamp = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
        lines.append(f"{stamp} run={run_id} {TEMPLATES[e].format(**f)}")
    return lines


def generate_release_logs(n_runs, seed, anomaly_rate=0.0, kinds=KINDS):
    """n_runs release runs -> [(run_id, lines, label, kind)], label 1 for abnormal runs.

    round(anomaly_rate * n_runs) runs are abnormal, their kinds taken in turn from
    kinds (so the mix is exact); kind is "normal" for the others. Runs 2j and 2j + 1
    overlap in time: interleave(runs) gives the stream two concurrent releases write.
    """
    rng = random.Random(seed)
    n_bad = round(anomaly_rate * n_runs)
    bad = sorted(rng.sample(range(n_runs), n_bad))
    kind_of = {i: kinds[j % len(kinds)] for j, i in enumerate(bad)}
    t0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    runs = []
    for i in range(n_runs):
        ev = _normal_events(rng)
        kind = kind_of.get(i, "normal")
        if kind != "normal":
            ev = _inject(rng, ev, kind)
        # two releases per hour, started a few seconds to a minute apart
        start = t0 + timedelta(hours=i // 2, seconds=(i % 2) * rng.uniform(5, 60))
        run_id = f"r{seed}-{i:04d}"
        runs.append((run_id, _render(rng, ev, run_id, start), int(kind != "normal"), kind))
    return runs


def interleave(runs):
    """All runs' lines as one stream, in time order (concurrent runs interleave)."""
    lines = [line for _, run_lines, _, _ in runs for line in run_lines]
    return sorted(lines, key=lambda line: line.split(" ", 1)[0])  # ISO times sort as text


def records(stream, pattern=LINE):
    """Stream lines -> [(session_id, message)] with the named groups of pattern."""
    out = []
    for line in stream:
        m = pattern.match(line)
        if m:
            out.append((m.group("session"), m.group("message")))
    return out


# --- references for the checks ---------------------------------------------------

_MASKS = [
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    re.compile(r"(?<!\S)(?:[a-z][a-z0-9+.-]*://|/)\S+"),
    re.compile(r"\b[0-9a-fA-F]{7,}\b"),
    re.compile(r"\S*\d\S*"),
]


def mask(line):
    for pattern in _MASKS:
        line = pattern.sub("<*>", line)
    return " ".join(line.split())


def event_of(message):
    """The generator's event name of a message (None for a foreign line)."""
    return _EVENT_OF.get(mask(message))


_EVENT_OF = {mask(t.replace("{", "X1{")): e for e, t in TEMPLATES.items()}


def windows(keys, h, pad_key=None):
    keys = list(keys)
    if pad_key is not None:
        keys = [pad_key] * h + keys
    return [keys[i : i + h] for i in range(len(keys) - h)], keys[h:]


def first_anomaly(logits_of, keys, h, g, pad_key=None, rule="any"):
    """DeepLog's rule with logits_of(context list) -> 1-D tensor; rule names variants."""
    keys = list(keys)
    X, y = windows(keys, h, pad_key)
    start = len(keys) - len(y)
    misses = []
    for ctx, nxt in zip(X, y):
        row = logits_of(ctx)
        top = row.topk(min(g, len(row)), largest=(rule != "smallest")).indices.tolist()
        misses.append(nxt not in top)
    found = [i for i, k in enumerate(keys) if k == 0]
    if rule == "all":
        if misses and all(misses):
            found.append(start)
    elif True in misses:
        found.append(start + misses.index(True))
    return min(found) if found else None


def nll_scores(logits_of, sessions, h, pad_key=None):
    out = []
    for keys in sessions:
        keys = list(keys)
        score = float("inf") if 0 in keys else 0.0
        X, y = windows(keys, h, pad_key)
        for ctx, nxt in zip(X, y):
            lp = F.log_softmax(logits_of(ctx).double(), dim=0)
            score = max(score, float(-lp[nxt]))
        out.append(score)
    return np.array(out)


def prf(y_true, y_pred):
    tp = sum(1 for t, p in zip(y_true, y_pred) if t and p)
    fp = sum(1 for t, p in zip(y_true, y_pred) if not t and p)
    fn = sum(1 for t, p in zip(y_true, y_pred) if t and not p)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def auc(scores, labels):
    """Pairwise count: a positive above a negative counts 1, a tie one half."""
    pos = [s for s, lab in zip(scores, labels) if lab]
    neg = [s for s, lab in zip(scores, labels) if not lab]
    wins = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


class Stub(torch.nn.Module):
    """A model with fixed logits: the row of a table picked by the last context key."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.as_tensor(table, dtype=torch.float64)

    def forward(self, X):
        return self.table[torch.as_tensor(X)[:, -1]]

    def logits_of(self, ctx):
        return self.table[ctx[-1]]
