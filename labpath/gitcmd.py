"""Git through its own command line, for the commands that must stay quick (`labpath log`).

Importing GitPython costs a tenth of a second, and `git commit -- PATH` refreshes the
whole index (a stat of every tracked file) and may start git's automatic maintenance.
The journal commits one new file, so this module builds that commit from git's plumbing:

1. `update-index --add` stages the file in the learner's index (that entry alone: their
   other staged and unstaged changes stay as they were);
2. meanwhile one `cat-file --batch` reads HEAD and the trees on the file's path, the
   trees are changed in Python with the blob the file's bytes make, written here as
   loose objects (by `mktree` where the repository's settings ask for shared
   permissions or fsync'd objects, which git applies itself), and `commit-tree` makes
   the commit;
3. once update-index is done, the same cat-file is asked which blob the index now
   holds: the file's bytes (no filter or line-ending conversion changed them), or
   the commit is made again from what `ls-files` says;
4. `update-ref` moves HEAD with the old HEAD as the expected value, so a commit
   someone made meanwhile is never overwritten (it is retried on the new HEAD).

No hook runs (like `git commit --no-verify`, and the few hooks that flag skips would
run, prepare-commit-msg and post-commit, make `commit_files` take the porcelain path
instead), and no automatic gc or maintenance can start. Failures raise GitCommandError,
named like GitPython's so the CLI's one error boundary reads both.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from labpath.errors import EnvironmentFailure, UsageError
from labpath.structs import struct

# Never let `git gc --auto` or `git maintenance run --auto` start inside a command.
NO_MAINTENANCE = ("-c", "gc.auto=0", "-c", "maintenance.auto=false")

# The hooks `git commit --no-verify` still runs: with one of them, commit the old way.
COMMIT_HOOKS = ("prepare-commit-msg", "post-commit")

IDENTITY_PROBLEMS = (
    "please tell me who you are",
    "identity unknown",
    "ident name",
    "auto-detect",
    "auto-detection",
)


class GitCommandError(Exception):
    """A git command that exited non-zero; stderr holds git's reason."""

    def __init__(self, args: list[str], status: int, stderr: str):
        self.command = args
        self.status = status
        self.stderr = stderr
        super().__init__(f"git {' '.join(args)} exited {status}: {stderr.strip()}")


class Unreadable(Exception):
    """git runs but cannot describe this repository (the slower GitPython path may)."""


def _env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env["LANGUAGE"] = "C"  # git's messages in English, as labpath parses some of them
    env["LC_ALL"] = "C"
    if extra:
        env.update(extra)
    return env


def _unusable(exc: OSError) -> EnvironmentFailure:
    return EnvironmentFailure(
        f"git is not usable: {exc}".splitlines()[0],
        hint="install git (https://git-scm.com/downloads) and try again",
    )


def git(
    cwd: Path,
    args: list[str],
    input: bytes | None = None,
    env: dict | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run `git ARGS` in cwd with maintenance off; GitCommandError when it fails."""
    try:
        proc = subprocess.run(
            ["git", *NO_MAINTENANCE, *args],
            cwd=cwd,
            input=input,
            capture_output=True,
            env=_env(env),
        )
    except OSError as exc:
        raise _unusable(exc) from None
    if check and proc.returncode != 0:
        raise GitCommandError(
            args, proc.returncode, proc.stderr.decode("utf-8", "replace")
        )
    return proc


class Started:
    """A git command running beside this process's other work; result() waits for it.

    A commit asks git questions whose answers do not depend on each other's; they
    run while the index is updated, saving each `labpath log` their wait.
    """

    def __init__(self, cwd: Path, args: list[str], input: bytes | None = None):
        if input is not None and len(input) > 16384:  # it is written before git reads
            raise ValueError("Started takes a few lines of input; use git() for more")
        self.args = args
        try:
            self.proc = subprocess.Popen(
                ["git", *NO_MAINTENANCE, *args],
                cwd=cwd,
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=_env(),
            )
        except OSError as exc:
            raise _unusable(exc) from None
        if input is not None:  # a few lines: the pipe holds them while git starts
            try:
                self.proc.stdin.write(input)
                self.proc.stdin.close()
            except BrokenPipeError:  # git has already failed: result() says why
                pass
            self.proc.stdin = None

    def result(self, check: bool = True) -> subprocess.CompletedProcess:
        out, err = self.proc.communicate()
        proc = subprocess.CompletedProcess(self.args, self.proc.returncode, out, err)
        if check and proc.returncode != 0:
            raise GitCommandError(
                self.args, proc.returncode, err.decode("utf-8", "replace")
            )
        return proc

    def stop(self) -> None:
        """End it unread: the commit failed before its answer was needed."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


def _locked_out(stderr: str) -> bool:
    return "Unable to create '" in stderr and ".lock'" in stderr


def git_waiting(
    cwd: Path, args: list[str], wait: float, first: Started | None = None, **kw
):
    """git(), retried briefly while another process holds a lock (index.lock). first:
    the same command, already started, as the first try."""
    deadline = time.monotonic() + wait
    pause = 0.05
    while True:
        try:
            if first is not None:
                started, first = first, None
                return started.result()
            return git(cwd, args, **kw)
        except GitCommandError as exc:
            if not _locked_out(exc.stderr) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.4)


class Batch:
    """`cat-file --batch` asked in rounds: a few questions, their answers, then more
    questions (the index entries update-index makes, asked once it has: cat-file
    reads the index at the first question about it). cat-file answers each question
    as it comes, so answers() can read before the input ends."""

    def __init__(self, cwd: Path, questions: bytes):
        self.stderr: bytes | None = None  # once it has ended
        try:
            self.proc = subprocess.Popen(
                ["git", *NO_MAINTENANCE, "cat-file", "--batch"],
                cwd=cwd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=_env(),
            )
        except OSError as exc:
            raise _unusable(exc) from None
        self.ask(questions)

    def ask(self, questions: bytes) -> None:
        if len(questions) > 16384:  # written before anything is read back
            raise ValueError("Batch takes a few lines at a time")
        try:
            self.proc.stdin.write(questions)
            self.proc.stdin.flush()
        except BrokenPipeError:  # cat-file has failed: answers() says why
            pass

    def answers(self, count: int) -> list[tuple[str, bytes, bytes] | None]:
        """The next count answers: (id, type, content), or None for an object that
        is not there."""
        read = self.proc.stdout
        got: list[tuple[str, bytes, bytes] | None] = []
        for _ in range(count):
            head = read.readline()
            if not head.endswith(b"\n"):
                self._failed()
            fields = head[:-1].split(b" ")
            if len(fields) != 3 or fields[-1] == b"missing":
                got.append(None)
                continue
            size = int(fields[2])
            body = read.read(size + 1)
            if len(body) != size + 1:
                self._failed()
            got.append((fields[0].decode(), fields[1], body[:size]))
        return got

    def close(self) -> None:
        self._end()
        if self.proc.returncode != 0:
            self._failed()

    def stop(self) -> None:
        """End it unread: the commit failed before its answers were needed."""
        if self.proc.poll() is None:
            self.proc.kill()
        self._end()

    def _end(self) -> None:
        if self.stderr is not None:  # ended already
            return
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except (BrokenPipeError, OSError):
                pass
        self.stderr = self.proc.stderr.read()
        self.proc.stderr.close()
        self.proc.wait()

    def _failed(self):
        self._end()
        stderr = self.stderr.decode("utf-8", "replace")
        raise GitCommandError(["cat-file", "--batch"], self.proc.returncode, stderr)


# --- the repository ---------------------------------------------------------------------


@struct
class Repo:
    """What one `git rev-parse` says about the repository holding a folder."""

    top: Path  # the work tree's root
    git_dir: Path
    hooks: Path
    branch: str | None  # refs/heads/NAME, None on a detached HEAD
    head: str | None  # HEAD's commit id, None before the first commit
    objects: Path | None = None  # where new objects go (None: ask git to write them)

    def has_commit_hooks(self) -> bool:
        return any(os.access(self.hooks / h, os.X_OK) for h in COMMIT_HOOKS)


def not_a_repo(root: Path) -> EnvironmentFailure:
    return EnvironmentFailure(
        f"{root} is not a git repository, so labpath cannot save history there",
        hint=f"run `git -C {root} init` (or `labpath init {root}`), then retry",
    )


_DISCOVER = [
    "rev-parse",
    "--show-toplevel",
    "--absolute-git-dir",
    "--git-path",
    "hooks",
    "--git-path",
    "objects",
    "HEAD",
    "--symbolic-full-name",
    "HEAD",
]


def ask_repo(root: Path) -> Started:
    """Start the `git rev-parse` discover() reads, to do other work while it runs."""
    if not root.is_dir():
        raise not_a_repo(root)
    return Started(root, _DISCOVER)


def discover(root: Path, asked: Started | None = None) -> Repo:
    """The repository holding root; not_a_repo() when there is none.

    Unreadable when git fails otherwise (an unsafe owner, a broken config): the
    caller then takes the slower path that copes with more.
    """
    proc = (asked or ask_repo(root)).result(check=False)
    lines = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        if "not a git repository" in stderr:
            raise not_a_repo(root)
        if len(lines) >= 4 and "ambiguous argument 'HEAD'" in stderr:  # no commit yet
            ref = git(root, ["symbolic-ref", "-q", "HEAD"], check=False)
            branch = ref.stdout.decode("utf-8", "surrogateescape").strip() or None
            top, git_dir, hooks, objects = _paths(root, lines)
            return Repo(top, git_dir, hooks, branch, None, objects)
        raise Unreadable(stderr)
    if len(lines) != 6 or lines[5] == "":
        raise Unreadable(f"unexpected output of git rev-parse: {lines!r}")
    branch = lines[5] if lines[5].startswith("refs/") else None
    top, git_dir, hooks, objects = _paths(root, lines)
    return Repo(top, git_dir, hooks, branch, lines[4], objects)


def _paths(root: Path, lines: list[str]) -> tuple[Path, Path, Path, Path]:
    _TOPS[str(root)] = Path(lines[0])
    return Path(lines[0]), Path(lines[1]), root / lines[2], root / lines[3]


# Each folder's work-tree root as discover() found it in this process: a command that
# asks git about its files more than once asks where the repository is only once.
_TOPS: dict[str, Path] = {}


def toplevel(root: Path) -> Path:
    """The root of the work tree holding root (discover's `top`), asked of git once
    while that repository is still the nearest one (a long-lived process, a kernel or
    a test run, may see a repository made or removed between two commands)."""
    top = _TOPS.get(str(root))
    if top is not None and _still_top(Path(root), top):
        return top
    return discover(root).top


def own_top(root: Path) -> Path | None:
    """root, resolved, when it holds its own .git and git's environment names no other
    repository: then it is its work tree's top without asking git. Else None."""
    if "GIT_DIR" in os.environ or "GIT_WORK_TREE" in os.environ:
        return None
    if not os.path.exists(os.path.join(root, ".git")):
        return None
    return Path(root).resolve()


def _still_top(root: Path, top: Path) -> bool:
    if "GIT_DIR" in os.environ or not (top / ".git").exists():
        return False
    here = root.resolve()
    while here != top:
        if (here / ".git").exists() or here.parent == here:
            return False  # a repository nearer than top, or root is not under it
        here = here.parent
    return True


def branches(repo: Repo) -> list[str]:
    out = git(repo.top, ["for-each-ref", "--format=%(refname:short)", "refs/heads/"])
    return out.stdout.decode("utf-8", "surrogateescape").split()


def blocked(repo: Repo, names=None) -> UsageError | None:
    """Why a commit made now could vanish (rebase, merge, detached HEAD), or None.

    names: the branches' names (a callable), asked only on a detached HEAD."""
    top, gd = repo.top, repo.git_dir
    again = "; nothing was recorded"
    if (gd / "rebase-merge").is_dir() or (gd / "rebase-apply").is_dir():
        return UsageError(
            "a rebase is in progress in the workspace, and what labpath commits now "
            f"would vanish with `git rebase --abort`{again}",
            hint=f"finish it: git -C {top} rebase --continue   or abort it: "
            f"git -C {top} rebase --abort   then run the command again",
        )
    for name, verb in (
        ("MERGE_HEAD", "merge"),
        ("CHERRY_PICK_HEAD", "cherry-pick"),
        ("REVERT_HEAD", "revert"),
    ):
        if (gd / name).exists():
            finish = (
                f"git -C {top} commit"
                if verb == "merge"
                else (f"git -C {top} {verb} --continue")
            )
            return UsageError(
                f"a {verb} is in progress in the workspace, and what labpath commits "
                f"now would be mixed into it{again}",
                hint=f"finish it: {finish}   or abort it: git -C {top} {verb} --abort"
                "   then run the command again",
            )
    if repo.branch is None and repo.head is not None:
        if (gd / "BISECT_LOG").exists():
            back = f"git -C {top} bisect reset"
        else:
            known = names() if names else branches(repo)
            back = f"git -C {top} switch {_home_branch(known)}"
        return UsageError(
            f"the workspace is on a detached HEAD ({repo.head[:10]}), and "
            f"what labpath commits there would vanish when you switch back{again}",
            hint=f"go back to your branch: {back}   then run the command again",
        )
    return None


def _home_branch(names: list[str]) -> str:
    for name in ("main", "master"):
        if name in names:
            return name
    return names[0] if names else "main"


def in_head(repo: Repo, paths: list[Path]) -> set[Path]:
    """Those of these files that HEAD's tree holds."""
    if repo.head is None or not paths:
        return set()
    rel = [p.resolve().relative_to(repo.top.resolve()).as_posix() for p in paths]
    out = git(repo.top, ["ls-tree", "-z", "--name-only", "HEAD", "--", *rel])
    held = set(out.stdout.decode("utf-8", "surrogateescape").split("\0"))
    return {p for p, r in zip(paths, rel) if r in held}


# --- one commit of a few files --------------------------------------------------------------


def clean_message(message: str) -> str:
    """What `git commit -m` stores: trailing spaces and extra blank lines dropped."""
    lines: list[str] = []
    for line in message.splitlines():
        line = line.rstrip()
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def plumbable(repo: Repo, top: Path, paths: list[Path]) -> bool:
    """Whether commit_files can commit these: plain files, no commit hook to honour."""
    if repo.head is not None and repo.branch is None:
        return False
    for p in paths:
        if p.is_symlink() or not p.is_file():
            return False
    return not repo.has_commit_hooks()


def commit_files(
    repo: Repo,
    paths: list[Path],
    message: str,
    identity: list[str],
    lock_wait: float,
) -> tuple[str | None, bool]:
    """Commit exactly these files; (the new commit or None if nothing changed, identity
    fallback used). identity is tried only when git has none of its own.

    The commit is made from the files' own bytes while update-index stages them, and
    HEAD moves to it only once the index holds those same blobs; when it does not (a
    filter, a line-ending conversion), the commit is made again from what `ls-files`
    says the index holds.
    """
    top = repo.top
    rel = [p.resolve().relative_to(top.resolve()).as_posix() for p in paths]
    questions = _tree_questions(rel)
    askable = not any("\n" in r for r in rel)  # a name is asked of cat-file on a line
    settings_asked = Started(top, _SETTINGS)
    reading = Batch(top, questions)
    indexing = Started(top, ["update-index", "--add", "--", *rel])
    text = clean_message(message).encode("utf-8")
    try:
        settings = _settings(settings_asked.result(check=False))
        heads = reading.answers(questions.count(b"\n"))
        how = _How(
            ["-S"] if settings.get("commit.gpgsign") else [],
            repo.objects if _writes_loose(settings) else None,
            text,
            identity,
        )
        guess = _from_files(paths, rel, settings) if askable else None
        # (mktree would refuse a blob update-index has not written yet)
        early = guess is not None and how.store is not None
        made = _commit(repo, guess, heads, how) if early else None
        git_waiting(
            top, ["update-index", "--add", "--", *rel], lock_wait, first=indexing
        )
        staged: list = []
        if askable:
            reading.ask(
                "".join(f":0:{r}\n" for r in rel).encode("utf-8", "surrogateescape")
            )
            staged = reading.answers(len(rel))
        reading.close()
    except BaseException:
        settings_asked.stop()
        reading.stop()
        indexing.stop()
        raise
    if guess is None or [a and a[0] for a in staged] != [guess[r][1] for r in rel]:
        made = None  # the index holds other blobs than the files' bytes: ask it
        guess = _staged(top, rel)
    for _attempt in range(5):
        if made is None:
            made = _commit(repo, guess, heads, how)
        heads = None  # a retry reads the HEAD that moved
        parent, sha = made
        if sha is None:
            return None, how.fell_back
        subject = text.decode("utf-8").splitlines()[0]
        reflog = f"commit{' (initial)' if parent is None else ''}: {subject}"
        moved = git(
            top,
            ["update-ref", "-m", reflog, "HEAD", sha, parent or ""],
            check=False,
        )
        if moved.returncode == 0:
            return sha, how.fell_back
        stderr = moved.stderr.decode("utf-8", "replace")
        if "but expected" not in stderr and "already exists" not in stderr:
            raise GitCommandError(["update-ref"], moved.returncode, stderr)
        made = None  # someone committed meanwhile: build the commit again on their HEAD
    raise GitCommandError(["update-ref"], 1, "fatal: HEAD kept moving; not committed")


class _How:
    """How commit_files makes its commits: signing, where trees go, the message, and
    the identity to fall back on (fell_back once git has refused its own)."""

    def __init__(self, signed, store, text, identity):
        self.signed, self.store, self.text = signed, store, text
        self.identity, self.fell_back = identity, False


def _commit(repo: Repo, blobs: dict, heads: list | None, how: _How):
    """The trees and the commit for these blobs on HEAD: (HEAD, the commit), the
    commit None when the trees are HEAD's own."""
    parent, before, tree = _write_trees(repo, blobs, heads, how.store)
    if tree == before:
        return parent, None
    args = ["commit-tree", *how.signed, tree, *(["-p", parent] if parent else [])]
    top = repo.top
    try:
        sha = _commit_tree(top, args, how.text, how.identity if how.fell_back else [])
    except GitCommandError as exc:
        if how.fell_back or not how.identity or not _no_identity(exc.stderr):
            raise
        how.fell_back = True
        sha = _commit_tree(top, args, how.text, how.identity)
    return parent, sha


# The settings that change how a commit is made here: signing (commit-tree does not read
# commit.gpgsign itself), whether the executable bit counts, the two that ask git to
# write objects its own way (group permissions, fsync), and the object hash.
_SETTINGS = [
    "config",
    "-z",
    "--get-regexp",
    r"^(commit\.gpgsign|core\.filemode|core\.sharedrepository|core\.fsync.*"
    r"|extensions\.objectformat)$",
]
_TRUE = {"true", "yes", "on"}
_FALSE = {"false", "no", "off", ""}


def _settings(proc: subprocess.CompletedProcess) -> dict[str, object]:
    """`git config -z --get-regexp` as {key: True | False | raw value}, the last one
    given winning; {"unreadable": True} when git could not read its configuration."""
    if proc.returncode not in (0, 1):  # 1: none of them is set
        return {"unreadable": True}
    found: dict[str, object] = {}
    for record in proc.stdout.decode("utf-8", "surrogateescape").split("\0"):
        if not record:
            continue
        key, newline, value = record.partition("\n")
        if not newline:  # `[commit] gpgsign` with no value means true
            found[key] = True
        elif value.lower() in _TRUE:
            found[key] = True
        elif value.lower() in _FALSE:
            found[key] = False
        else:
            try:
                found[key] = int(value) != 0
            except ValueError:
                found[key] = value
    return found


def _writes_loose(settings: dict) -> bool:
    """Whether this process may write tree objects itself: git writes loose objects
    unsynced and with the umask's permissions, unless these settings say otherwise."""
    if settings.get("unreadable"):
        return False
    if settings.get("core.sharedrepository") not in (None, False, "umask"):
        return False
    return not any(
        key.startswith("core.fsync") and value is not False
        for key, value in settings.items()
    )


def _from_files(
    paths: list[Path], rel: list[str], settings: dict
) -> dict[str, tuple[bytes, str]] | None:
    """{path: (mode, blob id)} from the files' bytes and executable bits: what
    update-index stages when no filter changes them. None when the bit does not count
    (core.fileMode false: the index keeps its own mode)."""
    if settings.get("core.filemode") not in (None, True):
        return None
    sha256 = str(settings.get("extensions.objectformat", "")).lower() == "sha256"
    digest = _digest(32 if sha256 else 20)
    blobs = {}
    for path, name in zip(paths, rel):
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            data = fh.read()
        oid = digest(b"blob %d\0" % len(data) + data).hexdigest()
        blobs[name] = (b"100755" if st.st_mode & 0o100 else b"100644", oid)
    return blobs


def _staged(top: Path, rel: list[str]) -> dict[str, tuple[bytes, str]]:
    """{path: (mode, blob id)} as the index holds them."""
    staged = git(top, ["ls-files", "-s", "-z", "--", *rel]).stdout
    blobs: dict[str, tuple[bytes, str]] = {}
    for record in staged.split(b"\0"):
        if record:
            meta, _, name = record.partition(b"\t")
            mode, sha, stage = meta.split(b" ")
            if stage == b"0":
                blobs[name.decode("utf-8", "surrogateescape")] = (mode, sha.decode())
    if set(blobs) != set(rel):
        raise GitCommandError(["ls-files"], 1, f"not staged as expected: {rel}")
    return blobs


def _no_identity(stderr: str) -> bool:
    text = stderr.lower()
    return any(p in text for p in IDENTITY_PROBLEMS)


def _commit_tree(top: Path, args: list[str], text: bytes, identity: list[str]) -> str:
    out = git(top, [*identity, *args], input=text)
    return out.stdout.decode().strip()


def _parse_tree(body: bytes, width: int) -> dict[bytes, tuple[bytes, bytes]]:
    """A raw tree object as {name: (mode, id bytes)}."""
    entries = {}
    i = 0
    while i < len(body):
        space = body.index(b" ", i)
        nul = body.index(b"\0", space)
        entries[body[space + 1 : nul]] = (
            body[i:space],
            body[nul + 1 : nul + 1 + width],
        )
        i = nul + 1 + width
    return entries


def _order(item) -> bytes:
    name, (mode, _) = item
    return name + b"/" if mode == b"40000" else name


def _digest(width: int):
    """git's object hash for ids of width bytes: SHA-1, or SHA-256 in a sha256 repository.

    The interpreter's own SHA modules load in a tenth of the time hashlib (OpenSSL)
    takes, and only a commit needs them.
    """
    try:
        if width == 20:
            from _sha1 import sha1 as digest
        else:
            from _sha256 import sha256 as digest
    except ImportError:  # pragma: no cover - a build without them
        import hashlib

        digest = hashlib.sha1 if width == 20 else hashlib.sha256
    return digest


def _folders(paths) -> list[str]:
    """The folders on these paths, deepest first, the root ("") last."""
    dirs = {""}
    for path in paths:
        parts = path.split("/")[:-1]
        dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return sorted(dirs, key=lambda d: (d.count("/") + (d != ""), d), reverse=True)


def _tree_questions(paths) -> bytes:
    """What `cat-file --batch` is asked: HEAD, its tree, and its trees on these paths."""
    subdirs = [d for d in _folders(paths) if d]
    return ("HEAD\nHEAD^{tree}\n" + "".join(f"HEAD:{d}\n" for d in subdirs)).encode()


def _write_trees(
    repo: Repo, blobs: dict, answers: list | None = None, store: Path | None = None
) -> tuple[str | None, str | None, str]:
    """Write HEAD's trees with these blobs in place: (HEAD, its tree, the new tree).

    One `cat-file --batch` reads HEAD and the trees on the files' paths (answers, when
    it has already answered); a HEAD that moves meanwhile makes update-ref refuse, and
    the commit is built again. The new trees go into store (the objects folder) as
    loose objects, or through `mktree` when store is None.
    """
    width = len(next(iter(blobs.values()))[1]) // 2
    digest = _digest(width)
    order = _folders(blobs)
    trees: dict[str, dict] = {d: {} for d in order}
    subdirs = [d for d in order if d]
    ask = _tree_questions(blobs)
    if answers is None:
        reading = Batch(repo.top, ask)
        try:
            answers = reading.answers(ask.count(b"\n"))
        finally:
            reading.stop()
    if answers[0] is None:
        if repo.head is not None:
            raise GitCommandError(["cat-file"], 1, "fatal: HEAD cannot be read")
        parent = before = None
    else:
        parent, kind, body = answers[0]
        if kind != b"commit" or not body.startswith(b"tree "):
            raise GitCommandError(["cat-file"], 1, "fatal: HEAD is not a commit")
        before = body[5 : body.index(b"\n")].decode()
        if answers[1] is None or answers[1][0] != before:
            raise GitCommandError(["cat-file"], 1, "fatal: HEAD moved while read")
        trees[""] = _parse_tree(answers[1][2], width)
        for d, obj in zip(subdirs, answers[2:]):
            if obj is None:
                continue
            if obj[1] != b"tree":
                raise GitCommandError(["cat-file"], 1, f"fatal: {d} is not a folder")
            trees[d] = _parse_tree(obj[2], width)
    for path, (mode, sha) in blobs.items():
        folder, _, name = path.rpartition("/")
        trees[folder][name.encode("utf-8", "surrogateescape")] = (
            mode,
            bytes.fromhex(sha),
        )
    batch = bytearray()
    ids: list[str] = []
    raw: list[bytes] = []
    for d in order:
        entries = sorted(trees[d].items(), key=_order)
        body = b"".join(
            mode + b" " + name + b"\0" + oid for name, (mode, oid) in entries
        )
        raw.append(b"tree %d\0" % len(body) + body)
        oid = digest(raw[-1]).digest()
        ids.append(oid.hex())
        if store is None:
            for name, (mode, sub) in entries:
                kind = {b"40000": b"tree", b"160000": b"commit"}.get(mode, b"blob")
                batch += b"%s %s %s\t%s\0" % (mode, kind, sub.hex().encode(), name)
            batch += b"\0"
        if d:
            folder, _, name = d.rpartition("/")
            trees[folder][name.encode("utf-8", "surrogateescape")] = (b"40000", oid)
    if before is not None and ids[-1] == before:
        return parent, before, before  # nothing changed: nothing to write
    if store is not None:
        for oid, data in zip(ids, raw):
            write_loose(store, oid, data)
        return parent, before, ids[-1]
    written = git(repo.top, ["mktree", "-z", "--batch"], input=bytes(batch)).stdout
    if written.decode().split() != ids:
        raise GitCommandError(["mktree"], 1, "fatal: tree ids differ from git's")
    return parent, before, ids[-1]


def write_loose(objects: Path, oid: str, data: bytes) -> None:
    """Store one object (its header and body) under objects as git does: compressed,
    read-only, written under a temporary name and linked into place, never replacing
    an object already there."""
    import zlib

    folder = os.path.join(objects, oid[:2])
    path = os.path.join(folder, oid[2:])
    if os.path.exists(path):
        return
    try:
        os.mkdir(folder)
    except FileExistsError:
        pass
    from labpath.fsutil import fresh_file

    fd, tmp = fresh_file(Path(folder), "tmp_obj_", "")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(zlib.compress(data, 1))
        os.chmod(tmp, 0o444)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process stored the same object meanwhile
        except OSError:  # a file system without hard links
            os.replace(tmp, path)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
