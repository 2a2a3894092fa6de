"""Git operations on the workspace, through GitPython, limited to labpath's own paths."""

from __future__ import annotations

import time
from pathlib import Path

from labpath.errors import EnvironmentFailure, UsageError
from labpath.structs import struct

FALLBACK_NAME = "labpath"
FALLBACK_EMAIL = "labpath@localhost"
LOCK_WAIT = 2.0  # seconds to wait for another git process to release index.lock
# git's automatic gc and maintenance never start inside a labpath command
NO_MAINTENANCE = ["-c", "gc.auto=0", "-c", "maintenance.auto=false"]


@struct
class CommitResult:
    sha: str | None  # None when there was nothing to commit
    warning: str | None = None


def _git_module():
    try:
        import git
    except ImportError as exc:  # GitPython raises ImportError when git is absent
        raise EnvironmentFailure(
            f"git is not usable: {exc}".splitlines()[0],
            hint="install git (https://git-scm.com/downloads) and try again",
        ) from None
    return git


def open_repo(root: Path):
    """The git repository holding root, or an error naming the fix."""
    git = _git_module()
    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise EnvironmentFailure(
            f"{root} is not a git repository, so labpath cannot save history there",
            hint=f"run `git -C {root} init` (or `labpath init {root}`), then retry",
        ) from None


def init_repo(root: Path) -> None:
    """Make root a git repository unless it already lies inside one."""
    git = _git_module()
    try:
        git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        git.Repo.init(root)


def is_repo(root: Path) -> bool:
    return any((p / ".git").exists() for p in (root, *root.parents))


_warned = False


def has_identity(repo) -> bool:
    """Whether git itself can name an author and a committer (config or environment)."""
    git = _git_module()
    try:
        repo.git.var("GIT_AUTHOR_IDENT")
        repo.git.var("GIT_COMMITTER_IDENT")
    except git.GitCommandError:
        return False
    return True


def identity_args(repo) -> list[str]:
    """The `-c` options that give git labpath's fallback identity, when it has none."""
    if has_identity(repo):
        return []
    return list(FALLBACK_IDENTITY)


FALLBACK_IDENTITY = [
    "-c",
    f"user.name={FALLBACK_NAME}",
    "-c",
    f"user.email={FALLBACK_EMAIL}",
]


def _identity_args(repo) -> tuple[list[str], str | None]:
    """Config overrides when git has no identity, plus a warning (once per process)."""
    args = identity_args(repo)
    if not args:
        return [], None
    return args, _identity_warning()


def _identity_warning() -> str | None:
    """The warning that labpath's fallback identity was used (once per process)."""
    global _warned
    if _warned:
        return None
    _warned = True
    return (
        "git has no user.name/user.email configured; committed as "
        f"'{FALLBACK_NAME} <{FALLBACK_EMAIL}>' (set them with "
        "`git config --global user.name ...`)"
    )


def fatal_line(stderr: str) -> str:
    """The line of git's error output that says what went wrong (its `fatal:` line)."""
    lines = [line.strip() for line in _unwrap(stderr).splitlines() if line.strip()]
    for prefix in ("fatal:", "error:"):
        for line in lines:
            if line.startswith(prefix):
                return line
    return lines[-1] if lines else "git gave no reason"


def _unwrap(stderr: str) -> str:
    text = (stderr or "").strip()
    if text.startswith("stderr: '") and text.endswith("'"):  # GitPython's wrapping
        text = text[len("stderr: '") : -1]
    return text


def _lock_path(stderr: str) -> str | None:
    import re

    m = re.search(r"Unable to create '([^']+\.lock)'", stderr or "")
    return m[1] if m else None


def _run(repo, args: list[str]):
    """Run a git command, retrying briefly while another process holds the index lock."""
    git = _git_module()
    deadline = time.monotonic() + LOCK_WAIT
    pause = 0.05
    while True:
        try:
            return repo.git.execute(["git", *args])
        except git.GitCommandError as exc:
            if _lock_path(exc.stderr or "") is None or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.4)


def _failure(exc, top: Path) -> EnvironmentFailure:
    stderr = _unwrap(exc.stderr or str(exc))
    line = fatal_line(stderr)
    lock = _lock_path(stderr)
    if lock:
        hint = (
            f"another git program (an editor, a terminal) is using the workspace's "
            f"repository; if none is running, remove the stale lock: rm {lock}"
        )
    elif "gpg" in stderr:
        detail = [x.strip() for x in stderr.splitlines() if "gpg" in x]
        line = f"{line} ({detail[0]})"
        hint = (
            "git is set to sign commits (commit.gpgsign) but gpg cannot sign: fix gpg, "
            f"or turn signing off here: git -C {top} config commit.gpgsign false"
        )
    else:
        hint = f"run `git -C {top} status` to see what git objects to"
    return EnvironmentFailure(f"git commit failed: {line}", hint=hint)


def blocked(root: Path) -> UsageError | None:
    """Why a commit made now could vanish (rebase, merge, detached HEAD), or None."""
    from labpath import gitcmd

    try:
        return gitcmd.blocked(gitcmd.discover(root))
    except gitcmd.Unreadable:
        pass
    repo = open_repo(root)  # what only GitPython reads
    detached = repo.head.is_detached
    return gitcmd.blocked(
        gitcmd.Repo(
            top=Path(repo.working_tree_dir),
            git_dir=Path(repo.git_dir),
            hooks=Path(repo.git_dir) / "hooks",
            branch=None if detached else repo.head.ref.path,
            head=repo.head.commit.hexsha if detached else None,
        ),
        lambda: [h.name for h in repo.heads],
    )


def quick_repo(root: Path, asked=None):
    """The repository as one `git rev-parse` sees it (no GitPython), or None when only
    GitPython can read it; either way an error when root is in no repository. asked is
    that rev-parse, started earlier (gitcmd.ask_repo)."""
    from labpath import gitcmd

    try:
        return gitcmd.discover(root, asked)
    except gitcmd.Unreadable:
        open_repo(root)
        return None


def ready_repo(root: Path, asked=None):
    """quick_repo(), refused (UsageError) while a rebase, merge or detached HEAD would
    swallow a commit made now: for a command that will commit, before it writes."""
    from labpath import gitcmd

    repo = quick_repo(root, asked)
    problem = blocked(root) if repo is None else gitcmd.blocked(repo)
    if problem is not None:
        raise problem
    return repo


def ensure_committable(root: Path) -> None:
    """Refuse, before anything is written, when a commit now could vanish."""
    problem = blocked(root)
    if problem is not None:
        raise problem


APPEND_ONLY = ".jsonl"  # labpath's logs under .labpath/ only ever grow


def shrunk(repo, path: Path) -> int:
    """How many committed lines of an append-only log the working file lost (0: none)."""
    top = Path(repo.working_tree_dir).resolve()
    return _shrunk(repo, path.resolve().relative_to(top).as_posix(), path)


def _shrunk(repo, rel: str, path: Path) -> int:
    git = _git_module()
    try:
        committed = repo.git.execute(
            ["git", "show", f"HEAD:{rel}"],
            strip_newline_in_stdout=False,
            as_process=False,
            stdout_as_string=False,
        )
    except git.GitCommandError:
        return 0  # not committed yet (or no commit at all)
    current = path.read_bytes()
    if current.startswith(committed):
        return 0
    have = set(current.splitlines())
    return max(1, sum(1 for line in committed.splitlines() if line not in have))


def _check_logs(repo, top: Path, rel: list[str]) -> None:
    for r in rel:
        p = Path(r)
        if p.suffix != APPEND_ONLY or p.parent.name != ".labpath":
            continue
        lost = _shrunk(repo, r, top / r)
        if lost:
            raise UsageError(
                f"{top / r} no longer starts with its committed version ({lost} "
                "committed line(s) changed or gone: something other than labpath "
                "rewrote it); nothing was committed",
                hint=f"see what changed: git -C {top} diff -- {r}   then restore the "
                "committed lines and keep the new ones: labpath repair",
            )


def commit_paths(
    root: Path, paths: list[Path], message: str, rewrites: bool = False
) -> CommitResult:
    """Stage and commit exactly these paths; the learner's other changes stay untouched.

    An append-only log is committed only when it extends its committed version
    (rewrites=True is for `repair`, which rebuilds one on purpose).
    """
    git = _git_module()
    repo = open_repo(root)
    top = Path(repo.working_tree_dir).resolve()
    rel = [str(Path(p).resolve().relative_to(top)) for p in paths if Path(p).exists()]
    gone = [
        str(Path(p).resolve().relative_to(top)) for p in paths if not Path(p).exists()
    ]
    if not rel and not gone:
        return CommitResult(None)
    identity, warning = _identity_args(repo)
    try:
        if not rewrites:
            _check_logs(repo, top, rel)
        files = [r for r in rel if not (top / r).is_dir()]
        folders = [r for r in rel if (top / r).is_dir()]
        if files:  # named one by one: added even where .gitignore covers them (plots)
            _run(repo, ["add", "-f", "--", *files])
        if folders:
            _run(repo, ["add", "--", *folders])
        pathspecs = rel + [g for g in gone if _tracked(repo, g)]
        if not pathspecs:
            return CommitResult(None, warning)
        if not repo.git.status("--porcelain", "--", *pathspecs):
            return CommitResult(None)
        _run(
            repo,
            [
                *identity,
                *NO_MAINTENANCE,
                "commit",
                "--no-verify",
                "-q",
                "-m",
                message,
                "--",
                *pathspecs,
            ],
        )
    except git.GitCommandError as exc:
        raise _failure(exc, top) from None
    return CommitResult(repo.head.commit.hexsha, warning)


def commit_files(
    root: Path, paths: list[Path], message: str, repo=None
) -> CommitResult:
    """commit_paths for a few plain files, through git's plumbing (labpath.gitcmd).

    No GitPython, no refresh of the whole index, no automatic gc or maintenance; the
    same message, identity fallback, warnings and errors. Anything else (folders,
    deletions, links, append-only logs, a commit hook to honour, a repository only
    GitPython reads) takes commit_paths.
    """
    from labpath import gitcmd

    try:
        repo = repo or gitcmd.discover(root)
    except gitcmd.Unreadable:
        return commit_paths(root, paths, message)
    files = [Path(p) for p in paths]
    if any(p.suffix == APPEND_ONLY for p in files) or not gitcmd.plumbable(
        repo, repo.top, files
    ):
        return commit_paths(root, paths, message)
    try:
        sha, fell_back = gitcmd.commit_files(
            repo, files, message, FALLBACK_IDENTITY, LOCK_WAIT
        )
    except gitcmd.GitCommandError as exc:
        raise _failure(exc, repo.top) from None
    if sha is None:
        return CommitResult(None)
    return CommitResult(sha, _identity_warning() if fell_back else None)


def commit_or_warn(
    root: Path,
    paths: list[Path],
    message: str,
    what: str = "it",
    quick: bool = False,
    repo=None,
) -> CommitResult:
    """commit_paths (commit_files when quick), with a failing commit turned into a
    warning: what was written stays."""
    try:
        if quick:
            return commit_files(root, paths, message, repo)
        return commit_paths(root, paths, message)
    except EnvironmentFailure as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        return CommitResult(
            None,
            f"{exc.message}; {what} is saved but not committed: once git works, run "
            f"the command again (it saves nothing twice){hint}",
        )


def changes(root: Path, paths: list[Path], *flags: str) -> list[tuple[str, Path]]:
    """`git status --porcelain` on these paths: (XY code, absolute path) per entry.

    Through git's own command line (no GitPython, a tenth of a second to import), as
    `labpath next` asks this on every run.
    """
    from labpath import gitcmd

    if not paths:
        return []

    def status(top: Path, check: bool):
        rel = [str(Path(p).resolve().relative_to(top)) for p in paths]
        args = ["status", "--porcelain", "-z", *flags, "--", *rel]
        return gitcmd.git(top, args, check=check)

    top = gitcmd.own_top(root)  # root holds its .git: no need to ask git for the top
    done = status(top, check=False) if top is not None else None
    if done is None or done.returncode != 0:  # the long way, which says what is wrong
        try:
            top = gitcmd.toplevel(root).resolve()
        except gitcmd.Unreadable:
            repo = open_repo(root)
            top = Path(repo.working_tree_dir).resolve()
        done = status(top, check=True)
    out = done.stdout.decode("utf-8", "surrogateescape")
    entries, fields = [], iter(out.split("\0"))
    for field in fields:
        if len(field) < 4:
            continue
        code = field[:2]
        entries.append((code, top / field[3:]))
        if code[0] in "RC":  # a rename or copy: its old path follows
            next(fields, None)
    return entries


NEW = ("??", "A ", "AM")  # XY codes of a file no commit holds yet


def dirty(root: Path, paths: list[Path]) -> bool:
    """Whether git sees any change (or untracked file) under these paths."""
    return bool(paths) and bool(changes(root, paths))


def uncommitted(root: Path, paths: list[Path]) -> list[Path]:
    """Files under these paths that no commit holds yet (new, or staged by a failed commit)."""
    paths = [p for p in paths if Path(p).exists()]
    if not paths:
        return []
    entries = changes(root, paths, "--untracked-files=all")
    return [path for code, path in entries if code in NEW]


def _tracked(repo, rel: str) -> bool:
    return bool(repo.git.ls_files("--", rel))


def head(root: Path) -> str | None:
    """The workspace HEAD commit, or None before the first commit or without git."""
    from labpath import gitcmd

    try:
        return gitcmd.discover(root).head
    except (EnvironmentFailure, gitcmd.Unreadable):
        pass
    try:
        repo = open_repo(root)
        return repo.head.commit.hexsha
    except (EnvironmentFailure, ValueError):
        return None
