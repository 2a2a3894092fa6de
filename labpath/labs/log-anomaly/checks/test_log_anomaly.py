"""Checks for the log-anomaly lab, one behaviour each: masking and parsing (A1, A2),
sessions, windows (A3), the model's shape and input encoding (A4), DeepLog's top-g rule
on a model with fixed logits (A5), session scores, and the metrics (A6).

Sizes are distinct: windows of h = 4 over sessions of 2, 6, 9 and 11 keys; the model
check uses h = 10, N = 7, num_keys = 17; the stub model has 9 keys (8 is its pad key).
"""

import inspect

import la_ref as ref
import numpy as np
import pytest
import torch

from labpath.checks import kit

# --- A1: masking -------------------------------------------------------------------

# Each group: lines that differ only in variables (ids, SHAs, hosts, durations,
# versions, users, paths, IPs, UUIDs) and must share one template.
SAME = [
    ["release v1.2.3 started by alice@example.com at commit 3f9a2c1",
     "release v10.0.0-rc2 started by bob.smith@example.org at commit abcdef0",
     "release v2.31.7 started by dana@corp.example at commit deadbee"],
    ["checked out 9fceb02d0ae598e95dc970b74767f19372d61af8 on ci-runner-07 in 12.5s",
     "checked out 0a1b2c3d4e5f60718293a4b5c6d7e8f901234567 on ci-runner-19 in 3.0s",
     "checked out ffffffffffffffffffffffffffffffffffffffff on ci-runner-01 in 88.1s"],
    ["build step 1/3 finished on ci-runner-07 in 12.5s",
     "build step 4/4 finished on ci-runner-22 in 0.4s",
     "build step 2/2 finished on ci-runner-3 in 105s"],
    ["connection from 10.0.0.12:5432 accepted",
     "connection from 192.168.1.200:80 accepted",
     "connection from 172.16.254.1:65535 accepted"],
    ["job 123e4567-e89b-12d3-a456-426614174000 queued",
     "job 9b2f5a4e-1c7d-4e8f-9a0b-3c4d5e6f7a8b queued",
     "job 00000000-0000-0000-0000-000000000000 queued"],
    ["wrote report to /var/log/app/out.log",
     "wrote report to /tmp/report.html",
     "wrote report to /home/alice/build/index.html"],
    ["request took 350ms",
     "request took 1.5s",
     "request took 2m03s"],
    ["upgraded runtime from 3.11.2 to 3.12.0",
     "upgraded runtime from 1.0 to 2.0.0-beta1",
     "upgraded runtime from v20.1.0 to v22.3.1"],
    ["container a3f9e2b1c0d4 started",
     "container ffe0a1b2c3d4 started",
     "container deadbeefcafe started"],
    ["approval granted by alice@example.com after 30s",
     "approval granted by bob@example.com after 2m",
     "approval granted by chen.li@example.co.uk after 1.5h"],
]
# Pairs that differ in a meaningful word and must stay apart.
APART = [
    ("deploy 1/3 of v1.2.3 to web-03 ok in 4.1s", "deploy 1/3 of v1.2.3 to web-03 FAILED in 4.1s"),
    ("VM Started", "VM Paused"),
    ("test shard 2/4 passed on ci-runner-03 in 12s (120 tests)",
     "test shard 2/4 failed on ci-runner-03 in 12s (120 tests)"),
    ("lock acquired on stg-eu-west-1 by r1-0001", "lock released on stg-eu-west-1 by r1-0001"),
    ("health check 1 on prd-eu-1: 3/3 pods ready", "health check 1 on prd-eu-1: 3/3 pods crashing"),
]


def test_masking_maps_lines_that_differ_only_in_variables_together(la):
    for group in SAME:
        masked = [la.mask_variables(line) for line in group]
        if len(set(masked)) != 1:
            digits = any(ch.isdigit() for m in masked for ch in m)
            kit.fail("lines that differ only in variables got different templates",
                     yours=masked, expected="one template for all three", where=repr(group[0]),
                     hint="mask numbers, versions, hex ids, hosts with digits, paths, e-mails",
                     diagnosis=("lines differing only in numbers (1234 vs 5678) got different "
                                "templates: digits survive your masking") if digits else None)


def test_masking_keeps_meaningful_words_apart(la):
    for a, b in APART:
        if la.mask_variables(a) == la.mask_variables(b):
            kit.fail("two lines that differ in a meaningful word got the same template",
                     yours=la.mask_variables(a), where=f"{a!r} vs {b!r}",
                     hint="mask variables, not words: 'ok' and 'FAILED' are what the line says",
                     diagnosis="your masking removes meaningful words (here the capitalised or "
                               "status word), so a failure looks like a success")


def test_parser_finds_the_thirteen_release_templates(la):
    runs = ref.generate_release_logs(120, kit.seed())
    lines = [ref.records([x])[0][1] for _, run, _, _ in runs for x in run]
    parser = la.LogParser().fit(lines)
    keys = parser.transform(lines)
    n = len(set(keys))
    if n != 13 or 0 in keys or len(parser.templates) != 13:
        kit.fail("distinct keys of 120 generated normal runs (13 event kinds)",
                 yours=f"{n} keys, {len(parser.templates)} templates", expected="13 and 13",
                 hint="without masking every build id and duration is a template of its own; "
                      "an unseen line is 0, so 0 must not appear on the training lines")
    # each event kind of the generator is exactly one key
    events = [ref.event_of(line) for line in lines]
    pairs = set(zip(events, keys))
    if len(pairs) != 13:
        kit.fail("one key per event kind", yours=sorted(pairs, key=str)[:6],
                 hint="lines of the same event must share a key, different events must not")


# --- A2: the parser's keys -----------------------------------------------------------


def _lines(seed, n=60, rate=0.0):
    runs = ref.generate_release_logs(n, seed, anomaly_rate=rate)
    return [m for _, m in ref.records(ref.interleave(runs))], runs


def test_parser_keys_do_not_depend_on_line_order(la):
    lines, _ = _lines(kit.seed())
    shuffled = list(lines)
    np.random.default_rng(kit.seed()).shuffle(shuffled)
    a = la.LogParser().fit(lines)
    b = la.LogParser().fit(shuffled[::-1])
    if sorted(a.templates) != sorted(b.templates):
        kit.fail("templates after fitting the same lines in another order",
                 yours=sorted(set(b.templates) ^ set(a.templates))[:4], expected="the same set",
                 hint="fit must give the same templates whatever the order of the lines")
    ka, kb = a.transform(lines), b.transform(lines)
    # the numbering may differ; the grouping of lines into keys may not
    if len(set(zip(ka, kb))) != len(set(ka)):
        kit.fail("lines sharing a key after one fit do not share it after the other",
                 hint="keys must depend on the templates, not on the order lines arrived in")


def test_parser_maps_unseen_templates_to_key_zero(la):
    lines, _ = _lines(kit.seed())
    parser = la.LogParser().fit(lines)
    known = set(parser.transform(lines))
    unseen = ["deploy 2/3 of v1.4.0 to web-07.prd-eu-west-1 FAILED in 3.2s",
              "rollback to v1.3.0 started on prd-eu-west-1 by alice@example.com",
              "disk quota exceeded on /srv/artifacts"]
    got = parser.transform(unseen)
    if list(got) != [0, 0, 0]:
        fresh = [k for k in got if k not in known and k != 0]
        kit.fail("keys of three lines whose templates were never seen in fit",
                 yours=list(got), expected=[0, 0, 0],
                 hint="key 0 is reserved for unknown templates; transform must not learn",
                 diagnosis=("your transform gave unseen templates new keys: keys changed "
                            "between fit and transform") if fresh else None)
    if 0 in known:
        kit.fail("a line seen in fit got key 0", hint="known templates are keys 1..n")


def test_parser_gives_a_line_the_same_key_every_time(la):
    lines, _ = _lines(kit.seed())
    parser = la.LogParser().fit(lines)
    first = parser.transform(lines)
    again = parser.transform(lines[::-1])[::-1]
    if list(first) != list(again) or sorted(set(first)) != list(range(1, len(parser.templates) + 1)):
        kit.fail("keys of the training lines on two transform passes",
                 yours=f"{sorted(set(first))} then {sorted(set(again))}",
                 expected=f"the same keys 1..{len(parser.templates)} both times",
                 hint="templates[k - 1] is key k; transform only looks keys up")


# --- sessions ------------------------------------------------------------------------


def test_sessionize_separates_interleaved_runs_in_order(la):
    runs = ref.generate_release_logs(4, kit.seed())
    recs = ref.records(ref.interleave(runs))
    got = la.sessionize(recs)
    want = {rid: [ref.records([x])[0][1] for x in lines] for rid, lines, _, _ in runs}
    if dict(got) != want:
        bad = next((r for r in want if list(got.get(r, [])) != want[r]), None)
        kit.fail("sessions of a stream where two releases interleave",
                 yours=list(got.get(bad, []))[:3], expected=want.get(bad, [])[:3], where=bad,
                 hint="group by session id and keep each session's lines in stream order")


# --- A3: windows ---------------------------------------------------------------------

H = 4
SESSIONS = [[3, 1], [1, 2, 3, 4, 5, 6], [7, 7, 2, 9, 1, 3, 8, 2, 5], [2, 4, 6, 8, 1, 3, 5, 7, 9, 2, 4]]


def _windows_check(la, pad_key):
    for keys in SESSIONS:
        X, y = la.make_windows(keys, H, pad_key)
        X, y = torch.as_tensor(X), torch.as_tensor(y)
        eX, ey = ref.windows(keys, H, pad_key)
        n = len(ey)
        if tuple(X.shape) != (n, H) or tuple(y.shape) != (n,):
            kit.fail(f"make_windows({keys}, h={H}, pad_key={pad_key}) shapes",
                     yours=(tuple(X.shape), tuple(y.shape)), expected=((n, H), (n,)),
                     hint="N = max(0, len - h) without a pad key, N = len with one")
        if X.dtype != torch.long or y.dtype != torch.long:
            kit.fail("make_windows dtypes", yours=(X.dtype, y.dtype), expected="torch.long both")
        if n and (X.tolist() != eX or y.tolist() != ey):
            repeats = n and y.tolist() == X[:, -1].tolist()
            kit.fail(f"make_windows({keys}, h={H}, pad_key={pad_key})",
                     yours=(X.tolist()[:3], y.tolist()[:3]), expected=(eX[:3], ey[:3]),
                     hint="y[i] is the key that follows the context X[i]",
                     diagnosis="y repeats the last context key: off by one" if repeats else None)


def test_windows_without_padding(la):
    _windows_check(la, None)


def test_windows_with_a_pad_key(la):
    _windows_check(la, 10)


# --- A4: the model -------------------------------------------------------------------

K, N, HM = 17, 7, 10


def _model(la, **kw):
    torch.manual_seed(kit.seed())
    m = la.DeepLog(K, h=HM, hidden_size=kw.pop("hidden_size", 12), num_layers=kw.pop("num_layers", 1), **kw)
    return m.double()


def _X(offset=0):
    g = torch.Generator().manual_seed(kit.seed() + offset)
    return torch.randint(1, K, (N, HM), generator=g)


def test_deeplog_logits_have_shape_n_by_num_keys(la):
    for kw in ({}, {"embed_dim": 5}, {"num_layers": 2}):
        out = _model(la, **kw)(_X())
        if tuple(out.shape) != (N, K):
            kit.fail(f"DeepLog({K}, h={HM}, {kw}) on X of shape ({N}, {HM})",
                     yours=tuple(out.shape), expected=(N, K),
                     hint="one row of logits per window: the state after the last key -> Linear")


def test_deeplog_defaults_follow_the_paper(la):
    params = inspect.signature(la.DeepLog).parameters
    want = {"h": 10, "hidden_size": 64, "num_layers": 2, "embed_dim": None}
    got = {k: params[k].default if k in params else "missing" for k in want}
    if got != want:
        kit.fail("DeepLog's defaults", yours=got, expected=want,
                 hint="DeepLog(num_keys, h=10, hidden_size=64, num_layers=2, embed_dim=None)")


def _first_recurrent_input(lstm, model, X):
    """The input of the first call to one of your LSTM modules during model(X)."""
    seen = []
    kinds = tuple(c for c in (getattr(lstm, "LSTM", None), getattr(lstm, "LSTMCell", None)) if c)
    hooks = [m.register_forward_pre_hook(lambda mod, args: seen.append(args[0]) if not seen else None)
             for m in model.modules() if isinstance(m, kinds)]
    if not hooks:
        kit.fail("DeepLog has no module of your lstm lab's LSTM or LSTMCell class",
                 hint="build the recurrent layer from `from lstm import LSTM` (the lstm lab)")
    try:
        model(X)
    finally:
        for h in hooks:
            h.remove()
    return seen[0]


@pytest.mark.parametrize("embed_dim", [None, 5])
def test_deeplog_runs_your_lstm_on_categorical_inputs(la, lstm, embed_dim):
    model = _model(la, embed_dim=embed_dim)
    X = torch.arange(K)[:, None].repeat(1, HM)  # row k: the key k at every step
    x = _first_recurrent_input(lstm, model, X).detach().double()
    if x.dim() == 3:
        x = x[:, 0] if x.shape[0] == K else x[0]  # batch first or time first
    scalar = "key ids are categories: one-hot or embed them, never feed them as one float"
    if x.shape[-1] < 2:
        kit.fail("the per-step feature width your LSTM sees", yours=int(x.shape[-1]),
                 expected=f"> 1 ({K} for one-hot)", hint=scalar, diagnosis=scalar)
    k = torch.arange(K, dtype=torch.float64)
    A = torch.stack([torch.ones(K, dtype=torch.float64), k], 1)
    coef = torch.linalg.lstsq(A, x).solution
    resid = (x - A @ coef).norm() / (x - x.mean(0)).norm().clamp_min(1e-300)
    if resid < 1e-6:
        kit.fail("the vectors your LSTM sees for keys 0..16 are an affine function of the key id",
                 hint=scalar, diagnosis=scalar)


def test_deeplog_reads_the_whole_window(la):
    model = _model(la)
    X = _X()
    base = model(X)
    for col, what in ((HM - 1, "last"), (0, "first")):
        Y = X.clone()
        Y[:, col] = (Y[:, col] % (K - 1)) + 1  # another known key
        if torch.allclose(model(Y), base, atol=1e-12, rtol=0):
            kit.fail(f"changing the {what} key of every window left the logits unchanged",
                     hint="run the LSTM over all h keys and predict from the state after the last one")


# --- A5: top-g detection on a model with fixed logits ----------------------------------

KS, PAD = 9, 8


def _stub():
    g = torch.Generator().manual_seed(kit.seed() + 7)
    table = torch.randn(KS, KS, generator=g, dtype=torch.float64)  # distinct, no ties
    table[:, 0] = table.max() + 1.0  # the model is sure of "unknown": 0 still counts
    return ref.Stub(table)


def _session(n, offset=0):
    g = torch.Generator().manual_seed(kit.seed() + 50 + offset)
    return torch.randint(1, PAD, (n,), generator=g).tolist()


def _expect_first(la, stub, keys, h, g, pad_key):
    got = la.first_anomaly(stub, keys, h, g, pad_key) if pad_key is not None else la.first_anomaly(stub, keys, h, g)
    want = ref.first_anomaly(stub.logits_of, keys, h, g, pad_key)
    if got != want:
        diag = None
        if got == ref.first_anomaly(stub.logits_of, keys, h, g, pad_key, rule="smallest"):
            diag = "you took the g smallest logits: the top g are the largest (argsort()[-g:])"
        elif got == ref.first_anomaly(stub.logits_of, keys, h, g, pad_key, rule="all"):
            diag = "you flag a session only when every event misses; one miss is enough"
        kit.fail(f"first_anomaly(model, {keys}, h={h}, g={g}, pad_key={pad_key})",
                 yours=got, expected=want,
                 hint="the first index whose key is 0 or not among the g largest logits",
                 diagnosis=diag)


def test_first_anomaly_is_the_first_key_outside_the_top_g(la):
    stub = _stub()
    for n, h, g, offset in ((12, 3, 2, 0), (15, 4, 3, 1), (9, 2, 4, 2), (14, 5, 1, 3)):
        _expect_first(la, stub, _session(n, offset), h, g, None)


def test_padded_first_events_are_scored(la):
    stub = _stub()
    for n, h, g, offset in ((12, 3, 2, 4), (7, 4, 3, 5), (10, 5, 5, 6)):
        _expect_first(la, stub, _session(n, offset), h, g, PAD)


def test_one_miss_makes_a_session_anomalous(la):
    stub = _stub()
    top = stub.table.topk(3, dim=1).indices.tolist()  # the 3 likeliest keys after each key
    keys = [1]
    for _ in range(10):
        keys.append(next(k for k in top[keys[-1]] if k not in (0, PAD)))
    miss = next(k for k in range(1, PAD) if k not in top[keys[-1]])
    keys.append(miss)  # one event outside the top 3, at index 11
    keys += [next(k for k in top[miss] if k not in (0, PAD))]
    _expect_first(la, stub, keys, 2, 3, None)
    if not la.is_anomalous(stub, keys, 2, 3):
        kit.fail("is_anomalous on a session with exactly one miss", yours=False, expected=True,
                 hint="a session is anomalous as soon as one event is")


def test_session_without_a_miss_is_normal(la):
    stub = _stub()
    top = stub.table.topk(7, dim=1).indices.tolist()  # ranks 1..7 of the 9 keys after each key
    keys = [1]
    for _ in range(11):  # every next key ranked 3rd to 7th: inside the top 8, outside the top 2
        keys.append(next(k for k in top[keys[-1]][2:] if k != PAD))
    _expect_first(la, stub, keys, 2, KS - 1, None)
    if la.is_anomalous(stub, keys, 2, KS - 1):
        swapped = not la.is_anomalous(stub, keys, KS - 1, 2)
        kit.fail(f"is_anomalous(model, {keys}, h=2, g={KS - 1}) with every key in the top {KS - 1}",
                 yours=True, expected=False,
                 hint="is_anomalous(model, keys, h, g, pad_key) takes first_anomaly's arguments, "
                      "in the same order",
                 diagnosis="your is_anomalous swaps h and g: it judged the top 2 with 8 keys of "
                           "context" if swapped else None)


def test_g_equal_to_num_keys_never_flags(la):
    stub = _stub()
    keys = _session(8, 8)  # fewer windows (5, or 8 padded) than keys: g is not capped by N
    for pad in (None, PAD):
        got = la.first_anomaly(stub, keys, 3, KS, pad) if pad is not None else la.first_anomaly(stub, keys, 3, KS)
        if got is not None:
            kit.fail(f"first_anomaly with g = num_keys = {KS} (pad_key={pad})", yours=got,
                     expected=None, hint="every key is in the top num_keys: nothing is anomalous")


def test_unknown_key_is_always_anomalous(la):
    stub = _stub()  # its logits put key 0 first: a top-g test alone would pass it
    keys = _session(12, 9)
    keys[7] = 0
    for g in (3, KS):
        got = la.first_anomaly(stub, keys, 3, g)
        want = ref.first_anomaly(stub.logits_of, keys, 3, g)
        if got != want:
            kit.fail(f"first_anomaly with an unknown key (0) at index 7, g={g}",
                     yours=got, expected=want,
                     hint="key 0 is a template never seen in training: anomalous whatever g")


def test_short_normal_session_is_not_flagged(la):
    stub = _stub()
    keys = [1, stub.table[1, 1:PAD].argmax().item() + 1, 3]  # a normal 3-event run
    got = la.first_anomaly(stub, keys, 5, 3)
    if got is not None or la.is_anomalous(stub, keys, 5, 3):
        # flagged at an index past the end: an event made up to fill the window
        padded = got is not None and got >= len(keys)
        kit.fail("a normal 3-event session with h=5 and no pad key", yours=got, expected=None,
                 hint="without a pad key the first h events are not scored",
                 diagnosis="a normal 3-event run is flagged: pad with a start key, not -1"
                 if padded else None)


# --- session scores --------------------------------------------------------------------


def test_session_scores_are_the_max_negative_log_likelihood(la):
    stub = _stub()
    sessions = [_session(n, 10 + n) for n in (6, 9, 11, 3)]
    for pad in (None, PAD):
        got = la.session_scores(stub, sessions, 3, pad) if pad is not None else la.session_scores(stub, sessions, 3)
        want = ref.nll_scores(stub.logits_of, sessions, 3, pad)
        kit.close(np.asarray(got, dtype=np.float64), want, f"session_scores(h=3, pad_key={pad})",
                  rtol=1e-9, atol=1e-9,
                  hint="max over the scored events of -log softmax(logits)[next key]; 0 when none is scored")
    got = la.session_scores(stub, [[1, 2, 3, 0, 4, 5]], 3)
    if not np.isinf(np.asarray(got, dtype=np.float64)[0]):
        kit.fail("the score of a session with an unknown key", yours=float(np.asarray(got)[0]),
                 expected="inf", hint="an unknown key is anomalous whatever the model says: +inf")


def test_session_scores_keep_duplicate_sessions(la):
    stub = _stub()
    a, b = _session(8, 20), _session(10, 21)
    sessions = [a, b, list(a), a, list(b)]
    got = np.asarray(la.session_scores(stub, sessions, 3), dtype=np.float64)
    want = ref.nll_scores(stub.logits_of, sessions, 3)
    if got.shape != want.shape:
        kit.fail("session_scores on 5 sessions, 3 of them the same", yours=got.shape,
                 expected=want.shape, hint="one score per session, duplicates included",
                 diagnosis=("you deduplicated the sessions: every run counts, duplicates "
                            "change the rates") if len(got) == 2 else None)
    kit.close(got, want, "session_scores with duplicates", rtol=1e-9, atol=1e-9)


# --- A6: metrics -----------------------------------------------------------------------

Y_TRUE = [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1]
Y_PRED = [1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 0, 1]


def test_precision_recall_f1_on_fixtures(la):
    for yt, yp in ((Y_TRUE, Y_PRED), (Y_TRUE + Y_TRUE[:4], Y_PRED + Y_PRED[:4]),
                   ([True, False, True], [True, True, True]), (np.array(Y_TRUE), np.array(Y_PRED)),
                   ([1, 1, 0, 0, 1], [1, 0, 1, 0, 0]), ([1, 1, 0, 0], [1, 0, 1, 0])):  # last: P = R, TP = FN
        got = la.precision_recall_f1(yt, yp)
        kit.close(list(got), list(ref.prf(list(yt), list(yp))), f"precision_recall_f1 on {len(yt)} runs",
                  rtol=1e-12, atol=1e-12, hint="P = TP/(TP+FP), R = TP/(TP+FN), F1 = 2PR/(P+R)")


def test_precision_recall_f1_zero_division(la):
    cases = [([1, 0, 1], [0, 0, 0]), ([0, 0, 0], [0, 1, 0]), ([0, 0], [0, 0])]
    for yt, yp in cases:
        try:
            got = la.precision_recall_f1(yt, yp)
        except ZeroDivisionError:
            kit.fail(f"precision_recall_f1({yt}, {yp}) raised ZeroDivisionError",
                     hint="no predicted positives: precision 0; no positives: recall 0; F1 0")
        kit.close(list(got), list(ref.prf(yt, yp)), f"precision_recall_f1({yt}, {yp})",
                  rtol=0, atol=1e-12, hint="a ratio with a zero denominator is 0")


# auroc walks runs of tied scores; a walk that never moves past a run loops for ever.
# 21 scores take microseconds, so past this the check fails at the line it is stuck on.
AUROC_LIMIT = 5.0
AUROC_HINT = "each pass of the tie loop must move past the run of equal scores it ranked"


def _auroc(la, scores, labels):
    what = f"auroc(<{len(labels)} scores>, <{len(labels)} labels>)"
    with kit.within(AUROC_LIMIT, what, hint=AUROC_HINT):
        return la.auroc(scores, labels)


def test_auroc_matches_the_pairwise_count_with_ties(la):
    g = np.random.default_rng(kit.seed())
    labels = [1, 0] * 9 + [1, 1, 0]
    distinct = g.normal(size=len(labels)) + np.array(labels)  # no ties
    distinct[3] = np.inf  # an unknown key
    tied = np.round(distinct, 1)
    cases = [(distinct, labels), (tied, labels), (np.full(6, 2.5), [1, 0, 0, 1, 0, 1]),
             ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), ([3.0, 2.0, 1.0], [0, 1, 1])]
    for i, (s, lab) in enumerate(cases):
        got = _auroc(la, s, lab)
        want = ref.auc(list(s), lab)
        if abs(float(got) - want) > 1e-12:
            # with distinct scores, a value that some thresholding of them gives is the
            # fingerprint of AUROC on flags
            binary = [ref.auc([float(v > t) for v in s], lab) for t in s]
            flags = i == 0 and any(abs(float(got) - b) < 1e-12 for b in binary)
            kit.fail(f"auroc on {len(lab)} scores" + (" with ties" if i else ""),
                     yours=float(got), expected=want,
                     hint="the share of (positive, negative) pairs ranked right, ties counting one half",
                     diagnosis=("your AUROC is that of binary predictions: rank the scores "
                                "themselves") if flags else None)


def test_auroc_refuses_a_single_class(la):
    for labels in ([1, 1, 1], [0, 0, 0]):
        try:
            got = _auroc(la, [0.3, 1.2, 0.7], labels)
        except ValueError:
            continue
        kit.fail(f"auroc with labels {labels} (one class only)", yours=got,
                 expected="ValueError",
                 hint="AUROC needs a positive and a negative; raise ValueError as scikit-learn does")
