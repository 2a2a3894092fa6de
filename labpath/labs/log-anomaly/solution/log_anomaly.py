"""
DeepLog over release logs: parse log lines into keys, learn the normal order of keys
with your own LSTM, and flag the events the model did not expect.

The pipeline, as in Du et al. 2017 (the log-key anomaly model):

    raw stream --sessionize--> one list of messages per release run
    message --mask_variables--> template ("deploy <*> of <*> to <*> ok in <*>")
    template --LogParser--> key (1..n; 0 = a template never seen in training)
    keys --make_windows--> (last h keys, next key) pairs, from normal runs only
    DeepLog: one-hot (or embedded) keys -> stacked LSTM -> logits over the n keys
    an event is normal iff its key is among the model's top g; a run is anomalous as
    soon as one event is not; the session score max -log p(next key) ranks runs
    without choosing g (AUROC)

Keys are categories: they go in as one-hot vectors or through an embedding, never as
a float scalar (key 7 is not "more" than key 3). The recurrent layer is the LSTM you
wrote in the lstm lab (lstm.py, imported below).

References:
- Du, Li, Zheng and Srikumar 2017, DeepLog: Anomaly Detection and Diagnosis from
  System Logs through Deep Learning, CCS (doi 10.1145/3133956.3134015)
- logpai/loghub (public log data sets, HDFS) -- https://github.com/logpai/loghub
- logpai/Drain3 (online template mining) -- https://github.com/logpai/Drain3
"""

import random
import re
from datetime import datetime, timedelta, timezone

import numpy as np
import torch
import torch.nn as nn
from lstm import LSTM  # your LSTM from the lstm lab
from torch.nn import functional as F

# -----------------------------------------------------------------------------
# 1. masking and parsing: a line -> a template -> a key

# Order matters: whole e-mail addresses, URLs and paths first (they may hold no digit),
# then hex ids, then every remaining token with a digit in it (numbers, versions,
# durations, hosts like ci-runner-07, IPs, UUIDs, run ids). Words stay: "ok" and
# "FAILED" are the meaning of a line, not a variable.
_MASKS = [
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),  # e-mail addresses (user names)
    re.compile(r"(?<!\S)(?:[a-z][a-z0-9+.-]*://|/)\S+"),  # URLs and absolute paths
    re.compile(r"\b[0-9a-fA-F]{7,}\b"),  # SHAs and other hex ids, even without a digit
    re.compile(r"\S*\d\S*"),  # any token holding a digit
]


def mask_variables(line):
    """Replace the variable parts of a log message with <*>."""
    for pattern in _MASKS:
        line = pattern.sub("<*>", line)
    return " ".join(line.split())


class LogParser:
    """Templates -> integer keys: 1..n for the templates seen in fit, 0 for any other."""

    def __init__(self, mask=mask_variables):
        self.mask = mask
        self.templates = []  # templates[k - 1] is key k's template
        self.key_of = {}

    def fit(self, lines):
        # sorted, not in order of appearance: the same lines in any order give the
        # same keys
        self.templates = sorted({self.mask(line) for line in lines})
        self.key_of = {t: k for k, t in enumerate(self.templates, start=1)}
        return self

    def transform(self, lines):
        # inference only: an unseen template is key 0, never a new key
        return [self.key_of.get(self.mask(line), 0) for line in lines]

    def fit_transform(self, lines):
        lines = list(lines)
        return self.fit(lines).transform(lines)


def sessionize(records):
    """[(session_id, line)] in stream order -> {session_id: [line, ...]} in that order."""
    sessions = {}
    for sid, line in records:
        sessions.setdefault(sid, []).append(line)
    return sessions


# -----------------------------------------------------------------------------
# 2. windows and the model


def make_windows(keys, h, pad_key=None):
    """One session's keys -> X (N, h) contexts and y (N,) the key that follows each.

    Without pad_key the first h events have no full context and are not targets:
    N = max(0, len - h). With pad_key the session is preceded by h pad keys (a start
    symbol), so every event is a target: N = len.
    """
    keys = list(keys)
    if pad_key is not None:
        keys = [pad_key] * h + keys
    X = [keys[i : i + h] for i in range(len(keys) - h)]
    y = [keys[i + h] for i in range(len(keys) - h)]
    X = torch.tensor(X, dtype=torch.long).reshape(len(y), h)  # (N, h), also for N = 0
    return X, torch.tensor(y, dtype=torch.long)  # (N,)


class DeepLog(nn.Module):
    """Last h keys -> logits for the next key: one-hot or embedding -> LSTMs -> Linear."""

    def __init__(self, num_keys, h=10, hidden_size=64, num_layers=2, embed_dim=None):
        super().__init__()
        self.num_keys = num_keys
        self.h = h
        # one-hot (the paper) when embed_dim is None, else a learned vector per key
        self.embed = nn.Embedding(num_keys, embed_dim) if embed_dim else None
        sizes = [embed_dim or num_keys] + [hidden_size] * num_layers
        # stacked LSTMs: layer l reads the hidden states of layer l - 1 at every step
        self.lstms = nn.ModuleList(LSTM(sizes[i], sizes[i + 1]) for i in range(num_layers))
        self.head = nn.Linear(hidden_size, num_keys)

    def forward(self, X):
        # X: (N, h) key ids
        if self.embed is not None:
            x = self.embed(X)  # (N, h, E)
        else:
            x = F.one_hot(X, self.num_keys).to(self.head.weight.dtype)  # (N, h, K)
        for lstm in self.lstms:
            x, _ = lstm(x)  # (N, h, H)
        return self.head(x[:, -1])  # the state after the last key -> (N, K)


# -----------------------------------------------------------------------------
# 3. detection, scores and metrics


@torch.no_grad()
def _scored(model, keys, h, pad_key):
    """(index of the first scored event, logits (N, K), targets (N,)) of one session."""
    X, y = make_windows(keys, h, pad_key)
    if len(y) == 0:
        return len(keys), None, y
    return len(keys) - len(y), model(X), y


def first_anomaly(model, keys, h, g, pad_key=None):
    """Index of the first event whose key is unknown (0) or not in the model's top g."""
    keys = list(keys)
    found = [i for i, k in enumerate(keys) if k == 0]  # unknown: anomalous whatever g
    start, logits, y = _scored(model, keys, h, pad_key)
    if logits is not None:
        top = logits.topk(min(g, logits.shape[1]), dim=1).indices  # (N, g) the g best
        miss = ~(top == y[:, None]).any(dim=1)  # (N,) next key not among them
        if miss.any():
            found.append(start + int(miss.nonzero()[0]))
    return min(found) if found else None


def is_anomalous(model, keys, h, g, pad_key=None):
    """A session is anomalous as soon as one event is (DeepLog's rule)."""
    return first_anomaly(model, keys, h, g, pad_key) is not None


def session_scores(model, sessions, h, pad_key=None):
    """One score per session (duplicates included): max over events of -log p(key).

    An unknown key scores +inf; a session with no scored event scores 0.
    """
    scores = []
    for keys in sessions:
        keys = list(keys)
        score = float("inf") if 0 in keys else 0.0
        _, logits, y = _scored(model, keys, h, pad_key)
        if logits is not None:
            nll = -F.log_softmax(logits.double(), dim=1)[torch.arange(len(y)), y]  # (N,)
            score = max(score, float(nll.max()))
        scores.append(score)
    return np.array(scores, dtype=np.float64)


def precision_recall_f1(y_true, y_pred):
    """(precision, recall, F1) for the positive class; 0 where a ratio has no denominator."""
    t = np.asarray(y_true, dtype=bool)
    p = np.asarray(y_pred, dtype=bool)
    tp = int((t & p).sum())
    fp = int((~t & p).sum())
    fn = int((t & ~p).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0  # nothing flagged: precision 0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def auroc(scores, labels):
    """Area under the ROC curve: P(score of a random positive > a random negative).

    Mann-Whitney with average ranks, so ties count one half (constant scores: 0.5);
    ValueError when a class is missing.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs at least one positive and one negative")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1  # tied scores share their mean rank
        i = j + 1
    return (ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


# -----------------------------------------------------------------------------
# 4. the release-log generator (seeded; the checks keep their own copy)

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
