"""Git operations on the workspace, through GitPython, limited to labpath's own paths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labpath.errors import EnvironmentFailure

FALLBACK_NAME = "labpath"
FALLBACK_EMAIL = "labpath@localhost"


@dataclass(frozen=True)
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


def _identity_args(repo) -> tuple[list[str], str | None]:
    """Config overrides when git has no identity, plus a warning (once per process)."""
    global _warned
    reader = repo.config_reader()
    name = reader.get_value("user", "name", default="")
    email = reader.get_value("user", "email", default="")
    if name and email:
        return [], None
    args = []
    if not name:
        args += ["-c", f"user.name={FALLBACK_NAME}"]
    if not email:
        args += ["-c", f"user.email={FALLBACK_EMAIL}"]
    warning = None
    if not _warned:
        _warned = True
        warning = (
            "git has no user.name/user.email configured; committed as "
            f"'{FALLBACK_NAME} <{FALLBACK_EMAIL}>' (set them with "
            "`git config --global user.name ...`)"
        )
    return args, warning


def commit_paths(root: Path, paths: list[Path], message: str) -> CommitResult:
    """Stage and commit exactly these paths; the learner's other changes stay untouched."""
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
        if rel:
            repo.git.add("--", *rel)
        pathspecs = rel + [g for g in gone if _tracked(repo, g)]
        if not pathspecs:
            return CommitResult(None, warning)
        if not repo.git.status("--porcelain", "--", *pathspecs):
            return CommitResult(None)
        repo.git.execute(
            [
                "git",
                *identity,
                "commit",
                "--no-verify",
                "-q",
                "-m",
                message,
                "--",
                *pathspecs,
            ]
        )
    except git.GitCommandError as exc:
        detail = (exc.stderr or str(exc)).strip().splitlines()
        raise EnvironmentFailure(
            f"git commit failed: {detail[-1] if detail else exc}",
            hint=f"run `git -C {top} status` to see what git objects to",
        ) from None
    return CommitResult(repo.head.commit.hexsha, warning)


def _tracked(repo, rel: str) -> bool:
    return bool(repo.git.ls_files("--", rel))


def head(root: Path) -> str | None:
    """The workspace HEAD commit, or None before the first commit or without git."""
    try:
        repo = open_repo(root)
        return repo.head.commit.hexsha
    except (EnvironmentFailure, ValueError):
        return None
