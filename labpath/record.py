"""The learning record: which labs passed at which commit, written, committed, re-read.

`labpath record` writes record/record.json (for scripts) and record/RECORD.md (for
people) and commits both; the commit's hash pins them, and a learner whose git signs
commits signs it. `labpath verify` clones the workspace (a folder, a git URL or a
bundle), reads the record at its HEAD and checks every claim against that history.

How a pass finds its commit: `labpath check` appends the pass to
.labpath/progress.jsonl and, when the lab's files changed, commits them together with
that line (subject `check: LAB passed P/T`). So the commit that first holds the pass's
line is the pass's own commit when its subject says so; otherwise the code was already
committed when it passed, and the claim is the last commit of the lab's folder up to
the pass.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from labpath.errors import EnvironmentFailure, UsageError

FORMAT_VERSION = 1
KIND = "labpath-record"
RECORD_DIR = "record"
JSON_FILE = f"{RECORD_DIR}/record.json"
MARKDOWN_FILE = f"{RECORD_DIR}/RECORD.md"
PROGRESS_FILE = ".labpath/progress.jsonl"
BUNDLE_MAGIC = (b"# v2 git bundle\n", b"# v3 git bundle\n")
# What `git log --format=%G?` says of a commit's signature.
SIGNATURES = {
    "G": "good",
    "U": "good (key of unknown trust)",
    "X": "good (signature expired)",
    "Y": "good (key expired)",
    "R": "made with a revoked key",
    "B": "bad",
}


# --- git -------------------------------------------------------------------------------


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """git's stdout (stripped); an EnvironmentFailure naming git's reason when it fails."""
    from labpath import gitcmd

    try:
        proc = gitcmd.git(cwd, list(args), check=check)
    except gitcmd.GitCommandError as exc:
        raise EnvironmentFailure(
            f"git {args[0]} failed: {gitcmd_line(exc.stderr)}",
            hint=f"run `git -C {cwd} status` to see what git objects to",
        ) from None
    return proc.stdout.decode("utf-8", "surrogateescape").strip()


def ok(cwd: Path, *args: str) -> bool:
    """Whether a git command exits 0."""
    from labpath import gitcmd

    return gitcmd.git(cwd, list(args), check=False).returncode == 0


def gitcmd_line(stderr: str) -> str:
    from labpath.vcs import fatal_line

    return fatal_line(stderr)


# --- what passed, and where ----------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One lab that passed: the commit of its code, and what the pass recorded."""

    lab: str
    task: str
    passed_at: str
    commit: str | None  # None: no commit holds the code that passed
    path: str | None  # the lab's folder, relative to the workspace
    tree: str | None  # git's id of that folder at the commit
    passed: int
    total: int
    seed: int | None
    duration: float | None  # seconds, when the pass recorded it
    labpath: str | None  # the labpath that ran the pass, when it recorded it
    checks: str | None  # digest of the lab's checks and lab.yaml, at record time
    attempts: int  # checks of this lab in all
    hints: int  # hint levels revealed before the pass
    solution_seen: bool
    last_check: str  # the status of the lab's latest check


def lab_digest(lab) -> str:
    """The version of a lab's checks: sha256 of its checks/ files and lab.yaml."""
    h = hashlib.sha256()
    files = [lab.directory / "lab.yaml"] + sorted(
        p
        for p in Path(lab.checks_dir).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    for p in files:
        h.update(p.relative_to(lab.directory).as_posix().encode() + b"\0")
        h.update(p.read_bytes() + b"\0")
    return "sha256:" + h.hexdigest()[:16]


def _lines(path: Path) -> list[tuple[str, dict]]:
    """Each event of the progress log with its line as written."""
    out = []
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # progress.read_events has already refused a corrupt log
            if isinstance(event, dict):
                out.append((line, event))
    return out


def _added_in(root: Path) -> tuple[dict[str, str], dict[str, str]]:
    """({line of the progress log: the first commit adding it}, {commit: subject})."""
    text = git(
        root,
        "log",
        "--reverse",
        "--format=%x00%H%x00%s",
        "-p",
        "--unified=0",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--",
        PROGRESS_FILE,
    )
    added: dict[str, str] = {}
    subjects: dict[str, str] = {}
    commit = None
    for line in text.splitlines():
        if line.startswith("\0"):
            _, commit, subject = (line.split("\0") + ["", ""])[:3]
            subjects[commit] = subject
        elif commit and line.startswith("+") and not line.startswith("+++"):
            added.setdefault(line[1:], commit)
    return added, subjects


def _relative(path: str | None, root: Path, lab: str) -> str | None:
    """The checked folder relative to the workspace, or None when it lies outside."""
    if not path:
        return f"labs/{lab}"
    p = Path(path)
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        pass
    if p.parts[-2:] == ("labs", lab):  # the workspace has moved since the pass
        return f"labs/{lab}"
    return None


def claims(ws, states, curriculum, head: str | None) -> tuple[list[Claim], list[str]]:
    """Every lab whose checks passed, with the commit of the code that passed; notes."""
    from labpath import labs

    events = _lines(ws.progress_file)
    checks = [(line, e) for line, e in events if e.get("event") == "check"]
    if not checks or head is None:
        return [], []
    added, subjects = _added_in(ws.root)
    last: dict[str, tuple[str, dict]] = {}
    latest: dict[str, str] = {}
    attempts: Counter = Counter()
    for line, e in checks:
        lab = e.get("lab") or e.get("task")
        attempts[lab] += 1
        latest[lab] = str(e.get("status"))
        if e.get("status") == "passed":
            last[lab] = (line, e)
    found, notes = [], []
    for lab, (line, e) in last.items():
        rel = _relative(e.get("path"), ws.root, lab)
        commit = None
        if rel is not None:
            commit = _commit_of(ws.root, lab, rel, line, e, added, subjects)
        if commit is None:
            notes.append(
                f"{lab} passed on code no commit holds ({e.get('path')}): "
                "its claim cannot be verified"
            )
        elif rel and git(ws.root, "status", "--porcelain", "--", rel):
            notes.append(
                f"{rel} has changes since its pass that are not committed: "
                "the record claims the committed code"
            )
        tree = None
        if commit:
            tree = (
                git(
                    ws.root,
                    "rev-parse",
                    "-q",
                    "--verify",
                    f"{commit}:./{rel}",
                    check=False,
                )
                or None
            )
        task = curriculum.task_for_lab(lab)
        state = states.get(task.id if task else e.get("task"))
        found.append(
            Claim(
                lab=lab,
                task=e.get("task") or lab,
                passed_at=e.get("at", ""),
                commit=commit,
                path=rel,
                tree=tree,
                passed=int(e.get("passed") or 0),
                total=int(e.get("total") or 0),
                seed=e.get("seed"),
                duration=e.get("duration"),
                labpath=e.get("labpath"),
                checks=lab_digest(labs.load(lab)) if labs.exists(lab) else None,
                attempts=attempts[lab],
                hints=int(e.get("hints") or 0),
                solution_seen=bool(state and state.solution_seen),
                last_check=latest[lab],
            )
        )
    order = [t.lab for t in curriculum.tasks if t.lab]
    found.sort(key=lambda c: (order.index(c.lab) if c.lab in order else 1e9, c.lab))
    return found, notes


def _commit_of(
    root: Path, lab: str, rel: str, line: str, event: dict, added, subjects
) -> str | None:
    first = added.get(line)  # None: the pass is not committed yet
    if first and subjects.get(first, "").startswith(f"check: {lab} passed"):
        return first  # the pass committed the lab's files with its line
    # The code was committed before it passed: the folder's last commit up to the pass.
    args = ["log", "-1", "--format=%H"]
    if event.get("at"):
        args.append(f"--until={event['at']}")
    return git(root, *args, first or "HEAD", "--", rel) or None


# --- time and journal ----------------------------------------------------------------------


def time_spent(ws) -> dict:
    """Minutes, sessions and days from the time log (`labpath time`)."""
    from labpath import timelog

    log = timelog.read(timelog.time_file(ws))
    by_task: Counter = Counter()
    for s in log.sessions:
        by_task[s.task or "(no task)"] += s.minutes
    days = sorted({s.start[:10] for s in log.sessions})
    return {
        "minutes": round(sum(s.minutes for s in log.sessions), 1),
        "sessions": len(log.sessions),
        "sprints": sum(1 for s in log.sessions if s.kind == "sprint"),
        "added": sum(1 for s in log.sessions if s.kind == "manual"),
        "days": len(days),
        "first": days[0] if days else None,
        "last": days[-1] if days else None,
        "by_task": {k: round(v, 1) for k, v in by_task.most_common()},
    }


def journal_counts(ws, problems: list) -> dict:
    """Journal entries in all and by type."""
    from labpath import journal

    found = journal.entries(ws, problems)
    kinds = Counter(e.type for e in found)
    by_type = {t: kinds.get(t, 0) for t in journal.ENTRY_TYPES}
    by_type.update({t: n for t, n in kinds.items() if t not in by_type})
    return {"entries": len(found), "by_type": by_type}


# --- the record --------------------------------------------------------------------------


def build(ctx, now: dt.datetime | None = None) -> tuple[dict, list[str]]:
    """The record of a loaded workspace as plain data, and notes for the learner."""
    from labpath import __version__
    from labpath.app.results import plain
    from labpath.progress import DONE

    ws = ctx.workspace
    head = git(ws.root, "rev-parse", "-q", "--verify", "HEAD", check=False) or None
    found, notes = claims(ws, ctx.states, ctx.curriculum, head)
    problems: list[str] = []
    tasks = ctx.curriculum.tasks
    record = {
        "format_version": FORMAT_VERSION,
        "kind": KIND,
        "generated": (now or dt.datetime.now().astimezone())
        .replace(microsecond=0)
        .isoformat(),
        "labpath": __version__,
        "head": head,
        "started": ws.settings.start_date,
        "tasks": {
            "done": sum(1 for t in tasks if ctx.state(t).status == DONE),
            "total": len(tasks),
        },
        "labs": [plain(c) for c in found],
        "time": time_spent(ws),
        "journal": journal_counts(ws, problems),
    }
    return record, notes + problems


def _hm(minutes: float) -> str:
    h, m = divmod(int(round(minutes)), 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"


def markdown(record: dict) -> str:
    """The record for people: what passed where, time and journal, how to verify it."""
    lines = [
        "# Learning record",
        "",
        f"Written {record['generated']} by labpath {record['labpath']}, on commit "
        f"`{(record['head'] or 'none')[:12]}`. Started {record['started']}; "
        f"{record['tasks']['done']} of {record['tasks']['total']} tasks done.",
        "",
        "## Labs passed",
        "",
    ]
    if record["labs"]:
        lines += [
            "| lab | checks | seed | seconds | labpath | commit | passed at |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in record["labs"]:
            secs = "" if c["duration"] is None else f"{c['duration']:.1f}"
            lines.append(
                f"| {c['lab']} | {c['passed']}/{c['total']} | {c['seed']} | {secs} | "
                f"{c['labpath'] or '?'} | `{(c['commit'] or 'not committed')[:12]}` | "
                f"{c['passed_at']} |"
            )
        extra = [
            f"- {c['lab']}: {c['attempts']} check run(s), {c['hints']} hint level(s)"
            + (", solution viewed" if c["solution_seen"] else "")
            + (
                f", latest check {c['last_check']}"
                if c["last_check"] != "passed"
                else ""
            )
            for c in record["labs"]
        ]
        lines += ["", *extra]
    else:
        lines.append("No lab has passed yet.")
    t = record["time"]
    lines += ["", "## Time", ""]
    if t["sessions"]:
        lines.append(
            f"{_hm(t['minutes'])} in {t['sessions']} session(s) ({t['sprints']} "
            f"sprint(s), {t['added']} added) over {t['days']} day(s), "
            f"{t['first']} to {t['last']}."
        )
        lines += [f"- {task}: {_hm(m)}" for task, m in t["by_task"].items()]
    else:
        lines.append("No time recorded.")
    j = record["journal"]
    kinds = ", ".join(f"{n} {k}" for k, n in j["by_type"].items())
    lines += ["", "## Journal", "", f"{j['entries']} entries: {kinds}."]
    lines += [
        "",
        "## Verify it",
        "",
        "The commit holding this file pins it. Anyone can re-run every passed lab's "
        "checks on the committed code:",
        "",
        "    git bundle create labpath.bundle --all     # in the workspace",
        "    labpath verify labpath.bundle              # anywhere, offline",
        "",
    ]
    return "\n".join(lines)


def write(ws, record: dict) -> list[Path]:
    """record/record.json and record/RECORD.md, each written atomically."""
    from labpath.fsutil import atomic_write

    folder = ws.root / RECORD_DIR
    folder.mkdir(exist_ok=True)
    text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    paths = [ws.root / JSON_FILE, ws.root / MARKDOWN_FILE]
    atomic_write(paths[0], text)
    atomic_write(paths[1], markdown(record))
    return paths


# --- the commit, signed when git can ------------------------------------------------------


@dataclass(frozen=True)
class Committed:
    sha: str | None
    signed: bool
    how: str  # one line: signed with what, or why not
    warning: str | None = None


def signing(root: Path) -> tuple[bool, bool, str]:
    """(sign with -S, commit.gpgsign on, the key format): from the learner's git config."""
    key = git(root, "config", "--get", "user.signingkey", check=False)
    always = git(root, "config", "--type=bool", "--get", "commit.gpgsign", check=False)
    fmt = git(root, "config", "--get", "gpg.format", check=False) or "openpgp"
    return bool(key) or always == "true", always == "true", fmt


def commit(root: Path, paths: list[Path], message: str) -> Committed:
    """Commit exactly these files, signed when the learner's git has a signing key."""
    from labpath import gitcmd, vcs

    rel = [p.resolve().relative_to(root.resolve()).as_posix() for p in paths]
    sign, always, fmt = signing(root)
    identity = [] if ok(root, "var", "GIT_COMMITTER_IDENT") else vcs.FALLBACK_IDENTITY
    warning = None
    if identity:
        warning = (
            "git has no user.name/user.email configured; committed as "
            f"'{vcs.FALLBACK_NAME} <{vcs.FALLBACK_EMAIL}>'"
        )
    git(root, "add", "-f", "--", *rel)
    if ok(root, "diff", "--cached", "--quiet", "--", *rel) and ok(
        root, "rev-parse", "-q", "--verify", "HEAD"
    ):
        return Committed(None, False, "unchanged: nothing to commit", warning)
    args = [*identity, "commit", "--no-verify", "-q", "-m", message]
    try:
        gitcmd.git(root, [*args, *(["-S"] if sign else []), "--", *rel])
    except gitcmd.GitCommandError as exc:
        reason = gitcmd_line(exc.stderr)
        if not sign or always:
            hint = f"run `git -C {root} status` to see what git objects to"
            if sign:
                hint = (
                    "git is set to sign commits (commit.gpgsign) but cannot sign: fix "
                    f"the key, or turn signing off: git -C {root} config "
                    "commit.gpgsign false"
                )
            raise EnvironmentFailure(
                f"git commit failed: {reason}", hint=hint
            ) from None
        # user.signingkey alone: the record still counts unsigned; say why
        git(root, *args, "--no-gpg-sign", "--", *rel)
        sha = git(root, "rev-parse", "HEAD")
        return Committed(
            sha,
            False,
            "not signed",
            f"signing with user.signingkey failed ({reason}); committed unsigned",
        )
    sha = git(root, "rev-parse", "HEAD")
    if sign:
        return Committed(sha, True, f"signed with your git key ({fmt})", warning)
    return Committed(
        sha,
        False,
        "not signed (no user.signingkey or commit.gpgsign): the commit hash pins it",
        warning,
    )


# --- reading a record back, in a clone ----------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where a record to verify comes from."""

    given: str  # as the user wrote it
    url: str  # what `git clone` is given
    kind: str  # workspace | repository | bundle | url
    sub: str = ""  # the workspace's folder inside the repository
    local: Path | None = None  # a local work tree, to note uncommitted changes


_SCP = re.compile(r"^[\w.+-]+@[\w.-]+:")


def source(given: str | None, ws_root: Path | None) -> Source:
    """What to clone for `labpath verify [given]`; a clear error for a bad input."""
    from labpath import gitcmd

    if given is None:
        folder, text, kind = ws_root, str(ws_root), "workspace"
    elif "://" in given or _SCP.match(given):
        return Source(given, given, "url")
    else:
        folder, text, kind = Path(given).expanduser(), given, "repository"
    if not folder.exists():
        raise UsageError(
            f"no such file or folder: {text}",
            hint="give a workspace folder, a git URL, or a bundle made with "
            "`git bundle create labpath.bundle --all`",
        )
    if folder.is_file():
        with open(folder, "rb") as fh:
            head = fh.read(16)
        if head not in BUNDLE_MAGIC:
            raise UsageError(
                f"{text} is a file but not a git bundle",
                hint="make one in the workspace: git bundle create labpath.bundle --all",
            )
        return Source(text, str(folder.resolve()), "bundle")
    folder = folder.resolve()
    bare = git(folder, "rev-parse", "--is-bare-repository", check=False) == "true"
    if bare:
        return Source(text, str(folder), kind)
    try:
        repo = gitcmd.discover(folder)
    except (EnvironmentFailure, gitcmd.Unreadable):
        raise UsageError(
            f"{text} is not a git repository",
            hint="verify reads what a workspace committed: give a labpath workspace "
            "under git, a git URL, or a bundle (git bundle create labpath.bundle --all)",
        ) from None
    sub = folder.relative_to(repo.top.resolve()).as_posix()
    return Source(text, str(repo.top), kind, "" if sub == "." else sub, folder)


def clone(src: Source, dest: Path) -> Path:
    """Clone the source into dest; the workspace's folder in the clone."""
    from labpath import gitcmd

    args = ["clone", "-q"]
    if src.kind != "url":
        args.append("--no-local")  # only what its history reaches, as a remote sees it
    proc = gitcmd.git(
        dest.parent,
        [*args, "--", src.url, str(dest)],
        env={"GIT_TERMINAL_PROMPT": "0"},
        check=False,
    )
    if proc.returncode != 0:
        reason = gitcmd_line(proc.stderr.decode("utf-8", "replace"))
        raise UsageError(
            f"cannot clone {src.given}: {reason}",
            hint="give a labpath workspace under git, a git URL, or a bundle "
            "(git bundle create labpath.bundle --all)",
        )
    if not ok(dest, "rev-parse", "-q", "--verify", "HEAD^{commit}"):
        raise UsageError(f"{src.given} has no commits: it is not a labpath workspace")
    return dest / src.sub if src.sub else dest


def read_record(folder: Path, given: str) -> dict:
    """The committed record of a cloned workspace, validated."""
    from labpath.workspace import SETTINGS_FILE

    if not (folder / SETTINGS_FILE).is_file():
        raise UsageError(
            f"{given} is not a labpath workspace (no {SETTINGS_FILE} at its HEAD)",
            hint="verify a workspace made with `labpath init` or `labpath next`",
        )
    path = folder / JSON_FILE
    if not path.is_file():
        raise UsageError(
            f"{given} has no committed record ({JSON_FILE} at its HEAD)",
            hint="run `labpath record` in the workspace, then share it again",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{given}: {JSON_FILE} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise UsageError(f"{given}: {JSON_FILE} is not a labpath record")
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise UsageError(
            f"{given}: {JSON_FILE} has format_version {version!r}, newer than this "
            f"labpath reads ({FORMAT_VERSION})",
            hint="upgrade labpath: python -m pip install --upgrade labpath",
        )
    labs = data.get("labs")
    if not isinstance(labs, list) or not all(
        isinstance(c, dict) and isinstance(c.get("lab"), str) for c in labs
    ):
        raise UsageError(f"{given}: {JSON_FILE} has no valid list of labs")
    return data


def record_commit(folder: Path) -> tuple[str | None, str]:
    """The commit that last wrote the record, and what its signature says."""
    out = git(folder, "log", "-1", "--format=%H%x00%G?", "--", JSON_FILE, check=False)
    sha, _, mark = out.partition("\0")
    if not sha:
        return None, "none"
    body = git(folder, "cat-file", "commit", sha, check=False)
    header = body.split("\n\n", 1)[0]
    if "\ngpgsig" not in header and "\ngpgsig-sha256" not in header:
        return sha, "none"
    mark = mark.strip()
    if mark in ("N", "E", ""):
        return sha, "signed, not checked here (no trusted key for it)"
    return sha, SIGNATURES.get(mark, "signed")


def broken_claim(folder: Path, claim: dict) -> str | None:
    """Why a claim's commit no longer backs it (gone, rewritten, other code), or None."""
    sha = claim.get("commit")
    if not sha:
        return "no commit holds the code that passed"
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{7,64}", sha):
        return f"the recorded commit {sha!r} is not a commit id"
    if not ok(folder, "cat-file", "-e", f"{sha}^{{commit}}") or not ok(
        folder, "merge-base", "--is-ancestor", sha, "HEAD"
    ):
        return (
            f"recorded commit {sha[:12]} is not in the history of HEAD "
            "(the history was rewritten after the record)"
        )
    path = claim.get("path")
    tree = git(folder, "rev-parse", "-q", "--verify", f"{sha}:./{path}", check=False)
    if claim.get("tree") and tree != claim["tree"]:
        return f"the code of {path} at {sha[:12]} is not the code the record names"
    return None


def uncommitted(local: Path | None) -> int:
    """How many changed or new files (beyond labpath's own logs) a clone will not see."""
    if local is None:
        return 0
    out = git(local, "status", "--porcelain", "--", ".", ":!.labpath", check=False)
    return len([x for x in out.splitlines() if x.strip()])
