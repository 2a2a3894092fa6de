"""Run your DeepLog pipeline end to end: generated release logs, or your own log file.

Usage (LABPATH_TARGET is the folder holding your log_anomaly.py; `labpath run
log-anomaly` sets it):

    python labpath/labs/log-anomaly/run.py                        # generated release logs
    python labpath/labs/log-anomaly/run.py --h 10 --layers 2 --hidden 64 --epochs 8
    python labpath/labs/log-anomaly/run.py --data ci.log \\
        --template '^(?P<time>\\S+ \\S+) \\[(?P<session>[^\\]]+)\\] (?P<message>.*)$'

Generated mode: your generate_release_logs makes --train-runs normal runs, --val-runs
normal runs (to set the score threshold) and --test-runs runs, half of them abnormal;
each set is interleaved into one stream (two concurrent releases), cut into sessions by
your sessionize, parsed by your LogParser, windowed by your make_windows (with a start
key), and your DeepLog (on your LSTM) is trained on the normal runs. It prints P / R /
F1 and the false-alarm rate for each g, the same for a threshold on your session
scores (the 99th percentile of the held-out normal runs), AUROC and the recall per
anomaly kind.

--data FILE --template REGEX: the lines of FILE matched by REGEX, whose named groups
`session` (a run id, job id, block id, ...) and `message` (the text to parse) are
required; lines it does not match are skipped and counted. Your logs carry no labels:
the first --train-share of the sessions (in order of first appearance) train the
model, the next --val-share set the threshold, and the rest are scored; the run prints
how many of those each g would flag and the sessions that score highest, with their
first surprising line.

Writes to --out: log-anomaly-figures.json (every number printed), log-anomaly-timeline.png
(the -log p of each event of one run, flagged events in red) and log-anomaly-g.png (F1
and false alarms against g), when matplotlib is installed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABS = HERE.parent
DEFAULT_TEMPLATE = r"^(?P<time>\S+) run=(?P<session>\S+) (?P<message>.*)$"
KINDS = ("missing", "swap", "unknown", "loop")


def load_module(target: Path):
    """Your log_anomaly.py, with your lstm.py (here, in the lstm lab, else labpath's)."""
    for folder in (LABS / "lstm" / "solution", target.parent / "lstm", target):
        if folder.is_dir():
            sys.path.insert(0, str(folder))
    import log_anomaly

    return log_anomaly


def generator(la):
    """Your generate_release_logs, else the one labpath's checks use."""
    if getattr(la, "generate_release_logs", None) is not None and getattr(la, "interleave", None):
        return la.generate_release_logs, la.interleave
    sys.path.insert(0, str(HERE / "checks"))
    import la_ref

    return la_ref.generate_release_logs, la_ref.interleave


def records_of(lines, pattern):
    recs, skipped = [], 0
    for line in lines:
        m = pattern.match(line.rstrip("\n"))
        if m is None:
            skipped += 1
        else:
            recs.append((m.group("session"), m.group("message")))
    return recs, skipped


def train(la, args, keys_list, num_keys, pad, say):
    import torch
    from torch.nn import functional as F

    pairs = [la.make_windows(k, args.h, pad) for k in keys_list]
    X = torch.cat([torch.as_tensor(x) for x, _ in pairs])
    y = torch.cat([torch.as_tensor(t) for _, t in pairs])
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(args.seed)
    model = la.DeepLog(num_keys, h=args.h, hidden_size=args.hidden, num_layers=args.layers,
                       embed_dim=args.embed_dim).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    g = torch.Generator().manual_seed(args.seed)
    t0, losses, steps = time.time(), [], []  # per epoch; per mini-batch
    for epoch in range(args.epochs):
        perm = torch.randperm(len(y), generator=g)
        total = 0.0
        for i in range(0, len(y), args.batch_size):
            idx = perm[i : i + args.batch_size]
            loss = F.cross_entropy(model(X[idx].to(device)), y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps.append(loss.item())
            total += steps[-1] * len(idx)
        losses.append(total / max(1, len(y)))
        say(f"epoch {epoch + 1}/{args.epochs}: loss {losses[-1]:.4f} ({time.time() - t0:.1f} s)")
    return model.cpu().eval(), losses, len(y), time.time() - t0, steps


def event_nll(la, model, keys, h, pad):
    """-log p of each event of one session (inf for an unknown key)."""
    import torch
    from torch.nn import functional as F

    X, y = la.make_windows(keys, h, pad)
    out = [math.inf if k == 0 else 0.0 for k in keys]
    if len(y):
        with torch.no_grad():
            lp = F.log_softmax(model(torch.as_tensor(X)).double(), dim=1)
        nll = (-lp[torch.arange(len(y)), torch.as_tensor(y)]).tolist()
        start = len(keys) - len(y)
        for j, v in enumerate(nll):
            out[start + j] = math.inf if keys[start + j] == 0 else v
    return out


def prf(labels, flags):
    tp = sum(1 for t, p in zip(labels, flags) if t and p)
    fp = sum(1 for t, p in zip(labels, flags) if not t and p)
    fn = sum(1 for t, p in zip(labels, flags) if t and not p)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def finite(x):
    """JSON has no infinity: an unknown key's score is written as null."""
    return None if isinstance(x, float) and math.isinf(x) else x


def plot(figs, timeline, out: Path, say, step_losses=()) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("matplotlib is not installed: no plots (pip install matplotlib)")
        return []
    from labpath.plots import loss_figure

    written = []
    # the training loss of every mini-batch (thin) and each epoch's mean (markers, at the
    # epoch's last step)
    per_epoch = len(step_losses) // max(1, len(figs["losses"]))
    path = out / "log-anomaly-loss.png"
    if step_losses and loss_figure(
        path,
        train={"train (each mini-batch)": (range(1, len(step_losses) + 1), step_losses)},
        evals={"train (epoch mean)": ([per_epoch * (e + 1) for e in range(len(figs["losses"]))],
                                      figs["losses"])},
        title="DeepLog training loss", ylabel="cross-entropy (nats/key)",
    ):
        written.append(str(path))
    if timeline:
        nll, flagged, names, title, threshold = timeline
        fig, ax = plt.subplots(figsize=(max(7, 0.32 * len(nll)), 4.2))
        cap = max([v for v in nll if math.isfinite(v)] + [threshold or 0, 1.0]) * 1.15
        vals = [v if math.isfinite(v) else cap for v in nll]
        ax.bar(range(len(vals)), vals, color=["tab:red" if f else "tab:blue" for f in flagged])
        if threshold is not None:
            ax.axhline(threshold, color="k", ls="--", lw=0.8, label=f"score threshold {threshold:.2f}")
            ax.legend(loc="upper left")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=70, fontsize=7, ha="right")
        ax.set_ylabel("-log p(event)  (unknown: top of the axis)")
        ax.set_title(title, fontsize=9)
        fig.tight_layout()
        path = out / "log-anomaly-timeline.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(str(path))
    gs = sorted(int(k[2:]) for k in figs["per_g"])
    fig, ax = plt.subplots(figsize=(6, 4))
    rows = [figs["per_g"][f"g={g}"] for g in gs]
    if rows and "f1" in rows[0]:
        ax.plot(gs, [r["f1"] for r in rows], "o-", label="F1")
        ax.plot(gs, [r["false_alarm_rate"] for r in rows], "s-", label="false-alarm rate")
        score = figs.get("score>threshold", {})
        if "f1" in score:
            ax.axhline(score["f1"], color="tab:green", ls=":", label=f"F1 with the score threshold ({score['f1']:.3f})")
    else:
        ax.plot(gs, [r["flagged_share"] for r in rows], "o-", label="share of held-out sessions flagged")
    ax.set_xlabel("g (candidates accepted)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = out / "log-anomaly-g.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(str(path))
    return written


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default=os.environ.get("LABPATH_DEVICE", "auto"), help="auto, cpu, cuda or mps")
    ap.add_argument("--out", default="runs/log-anomaly", help="folder for the figures and plots")
    ap.add_argument("--data", help="your own log file (with --template)")
    ap.add_argument("--template", help="a regex with named groups session and message")
    ap.add_argument("--h", type=int, default=5, help="window: how many past keys the model sees")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--embed-dim", type=int, default=None, help="an embedding instead of one-hot")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--g", default="1,2,3,4,5,9", help="the values of g to evaluate")
    ap.add_argument("--train-runs", type=int, default=2000)
    ap.add_argument("--val-runs", type=int, default=200)
    ap.add_argument("--test-runs", type=int, default=1000)
    ap.add_argument("--train-share", type=float, default=0.7)
    ap.add_argument("--val-share", type=float, default=0.1)
    ap.add_argument("--quantile", type=float, default=0.99, help="score threshold: this quantile of normal runs")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--threads", type=int, default=1)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    say = print
    target = Path(os.environ.get("LABPATH_TARGET") or HERE / "solution").resolve()
    if not (target / "log_anomaly.py").is_file():
        print(f"Error: no log_anomaly.py in {target}\nHint: labpath start log-anomaly, or set LABPATH_TARGET",
              file=sys.stderr)
        return 2
    if args.data and not args.template:
        print("Error: --data needs --template REGEX with named groups session and message\n"
              "Hint: --template '^(?P<time>\\S+) (?P<session>\\S+) (?P<message>.*)$'", file=sys.stderr)
        return 2
    try:
        pattern = re.compile(args.template or DEFAULT_TEMPLATE)
    except re.error as exc:
        print(f"Error: --template is not a valid regex: {exc}", file=sys.stderr)
        return 2
    if not {"session", "message"} <= set(pattern.groupindex):
        print("Error: --template needs the named groups (?P<session>...) and (?P<message>...)", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    la = load_module(target)
    gs = [int(g) for g in args.g.split(",") if g.strip()]

    # ---- sessions: generated (labelled) or the learner's file (unlabelled) ----
    labelled = args.data is None
    if labelled:
        gen, interleave = generator(la)
        sets = {"train": gen(args.train_runs, args.seed), "val": gen(args.val_runs, args.seed + 2),
                "test": gen(args.test_runs, args.seed + 1, anomaly_rate=0.5)}
        split, truth = {}, {}
        for name, runs in sets.items():
            stream = interleave(runs)
            (out / f"release-{name}.log").write_text("\n".join(stream) + "\n", encoding="utf-8")
            recs, _ = records_of(stream, pattern)
            split[name] = la.sessionize(recs)
            truth.update({rid: (int(label), kind) for rid, _, label, kind in runs})
        source = (f"generated release logs: {args.train_runs} normal training runs, {args.val_runs} normal "
                  f"held-out runs, {args.test_runs} test runs (half abnormal); streams in {out}/release-*.log")
    else:
        text = Path(args.data).read_text(encoding="utf-8", errors="replace").splitlines()
        recs, skipped = records_of(text, pattern)
        sessions = la.sessionize(recs)
        ids = list(sessions)
        if len(ids) < 3:
            print(f"Error: --template found {len(ids)} session(s) in {args.data} ({len(recs)} lines matched, "
                  f"{skipped} skipped)\nHint: check the (?P<session>...) group", file=sys.stderr)
            return 2
        n_tr = max(1, int(len(ids) * args.train_share))
        n_va = max(1, int(len(ids) * args.val_share))
        if n_tr + n_va >= len(ids):
            n_tr, n_va = len(ids) - 2, 1
        split = {"train": {i: sessions[i] for i in ids[:n_tr]}, "val": {i: sessions[i] for i in ids[n_tr:n_tr + n_va]},
                 "test": {i: sessions[i] for i in ids[n_tr + n_va:]}}
        truth = {}
        source = (f"{args.data}: {len(recs)} lines in {len(ids)} sessions ({skipped} lines not matched); "
                  f"{n_tr} train / {n_va} held-out / {len(ids) - n_tr - n_va} scored sessions")
    say(source)

    parser = la.LogParser().fit([m for s in split["train"].values() for m in s])
    n = len(parser.templates)
    pad, num_keys = n + 1, n + 2  # keys 1..n, 0 unknown, n + 1 the start key
    keys = {name: {sid: parser.transform(s) for sid, s in part.items()} for name, part in split.items()}
    say(f"parser: {n} templates from {sum(len(s) for s in split['train'].values())} training lines")
    model, losses, n_windows, train_s, step_losses = train(
        la, args, list(keys["train"].values()), num_keys, pad, say)

    with torch.no_grad():
        val_scores = np.asarray(la.session_scores(model, list(keys["val"].values()), args.h, pad), dtype=float)
        test_ids = list(keys["test"])
        test_keys = [keys["test"][i] for i in test_ids]
        scores = np.asarray(la.session_scores(model, test_keys, args.h, pad), dtype=float)
        flags = {g: [bool(la.is_anomalous(model, k, args.h, g, pad)) for k in test_keys] for g in gs}
    finite_val = val_scores[np.isfinite(val_scores)]
    threshold = float(np.quantile(finite_val, args.quantile)) if len(finite_val) else math.inf
    flags["score"] = [bool(s > threshold) for s in scores]
    figs = {"source": source, "h": args.h, "hidden": args.hidden, "layers": args.layers,
            "embed_dim": args.embed_dim, "epochs": args.epochs, "templates": n, "train_windows": n_windows,
            "train_seconds": train_s, "losses": losses, "score_threshold": finite(threshold),
            "threshold_quantile": args.quantile, "per_g": {}}
    if labelled:
        labels = [truth[i][0] for i in test_ids]
        kinds = [truth[i][1] for i in test_ids]
        for g, pred in flags.items():
            p, r, f1 = prf(labels, pred)
            far = sum(pr for pr, lab in zip(pred, labels) if not lab) / max(1, labels.count(0))
            per_kind = {k: float(np.mean([pr for pr, kd in zip(pred, kinds) if kd == k]))
                        for k in KINDS if k in kinds}
            row = dict(precision=p, recall=r, f1=f1, false_alarm_rate=far, recall_per_kind=per_kind)
            if g == "score":
                figs["score>threshold"] = row
            else:
                figs["per_g"][f"g={g}"] = row
        figs["auroc"] = float(la.auroc(scores, labels))
        say(f"trained on {n_windows:,} windows in {train_s:.1f} s, final loss {losses[-1]:.4f}")
        say("        precision  recall    F1    false alarms   recall: " + "  ".join(f"{k:>7}" for k in KINDS))
        for name, row in [(k, v) for k, v in figs["per_g"].items()] + [("score", figs["score>threshold"])]:
            kinds_txt = "  ".join(f"{row['recall_per_kind'].get(k, float('nan')):7.2f}" for k in KINDS)
            say(f"{name:>7}  {row['precision']:8.3f} {row['recall']:7.3f} {row['f1']:6.3f}   "
                f"{row['false_alarm_rate']:10.1%}            {kinds_txt}")
        say(f"'score' = session score > {threshold:.2f} (the {args.quantile:.0%} quantile of held-out normal "
            f"runs); AUROC of the scores {figs['auroc']:.4f}")
        candidates = [i for i, (lab, kd) in enumerate(zip(labels, kinds)) if kd == "missing" and flags["score"][i]]
        pick = candidates[0] if candidates else int(np.argmax(scores))
    else:
        for g, pred in flags.items():
            row = dict(flagged=int(sum(pred)), flagged_share=sum(pred) / max(1, len(pred)))
            if g == "score":
                figs["score>threshold"] = row
            else:
                figs["per_g"][f"g={g}"] = row
        say(f"trained on {n_windows:,} windows in {train_s:.1f} s, final loss {losses[-1]:.4f}")
        for name, row in list(figs["per_g"].items()) + [("score", figs["score>threshold"])]:
            say(f"{name:>7}: flags {row['flagged']} of {len(test_keys)} held-out sessions ({row['flagged_share']:.1%})")
        order = np.argsort(-np.nan_to_num(scores, posinf=1e300))[:5]
        top = []
        for i in order:
            k = test_keys[i]
            first = la.first_anomaly(model, k, args.h, max(gs), pad)
            line = split["test"][test_ids[i]][first] if first is not None else None
            top.append(dict(session=test_ids[i], score=finite(float(scores[i])), first_anomaly=first, line=line))
            say(f"  {test_ids[i]}: score {scores[i]:.2f}; first miss at g={max(gs)}: {first} {line or ''}")
        figs["top_sessions"] = top
        pick = int(order[0]) if len(order) else 0

    timeline = None
    if test_keys:
        k = test_keys[pick]
        nll = event_nll(la, model, k, args.h, pad)
        names = [(parser.templates[x - 1] if 0 < x <= n else "UNKNOWN")[:32] for x in k]
        flagged = [v > threshold for v in nll]
        what = f" ({truth[test_ids[pick]][1]})" if labelled else ""
        title = f"session {test_ids[pick]}{what}: -log p of each event; red above the threshold"
        timeline = (nll, flagged, names, title, finite(threshold))
        figs["timeline"] = dict(session=test_ids[pick], nll=[finite(v) for v in nll], keys=k)
    written = plot(figs, timeline, out, say, step_losses)
    (out / "log-anomaly-figures.json").write_text(json.dumps(figs, indent=2), encoding="utf-8")
    say(f"wrote {', '.join(written + [str(out / 'log-anomaly-figures.json')])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
