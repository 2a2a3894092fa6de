"""Sync the workspace with its git remote: fast-forward pull, then push; never a forced merge."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labpath.errors import EnvironmentFailure, UsageError


@dataclass(frozen=True)
class SyncResult:
    remote: str
    branch: str
    pulled: int  # commits fast-forwarded in
    pushed: int  # commits sent
    created_upstream: bool = False


def decide(ahead: int, behind: int) -> str:
    """What sync does for a branch `ahead`/`behind` its remote (pure)."""
    if ahead and behind:
        return "diverged"
    if behind:
        return "pull"
    if ahead:
        return "push"
    return "up-to-date"


def _fail(exc, what: str, root: Path) -> EnvironmentFailure:
    detail = (getattr(exc, "stderr", "") or str(exc)).strip().splitlines()
    last = detail[-1].strip() if detail else str(exc)
    return EnvironmentFailure(
        f"git {what} failed: {last}",
        hint=f"check the remote and your access: git -C {root} remote -v",
    )


def sync(root: Path, remote: str | None = None) -> SyncResult:
    """Fetch, fast-forward if behind, push if ahead; report a diverged history with its fix."""
    from labpath import vcs

    git = vcs._git_module()
    repo = vcs.open_repo(root)
    top = Path(repo.working_tree_dir)
    remotes = [r.name for r in repo.remotes]
    if not remotes:
        raise UsageError(
            f"the workspace at {top} has no git remote to sync with",
            hint=f"add one: git -C {top} remote add origin URL   (then: labpath sync)",
        )
    if remote is None:
        remote = "origin" if "origin" in remotes else remotes[0]
    elif remote not in remotes:
        raise UsageError(
            f"no git remote named '{remote}'", hint=f"remotes: {', '.join(remotes)}"
        )
    if repo.head.is_detached:
        raise UsageError(
            "the workspace is on a detached HEAD; sync needs a branch",
            hint=f"git -C {top} switch main",
        )
    try:
        branch = repo.active_branch.name
        repo.head.commit  # noqa: B018 - raises ValueError before the first commit
    except ValueError:
        raise UsageError(
            "the workspace has no commits yet", hint='labpath log "first entry"'
        ) from None
    if _merge_in_progress(repo):
        raise UsageError(
            "a merge is in progress in the workspace",
            hint=f"finish it (git -C {top} commit) or abort it (git -C {top} merge --abort)",
        )
    saved = _save_own_state(root, top)
    try:
        repo.git.fetch(remote)
    except git.GitCommandError as exc:
        raise _fail(exc, "fetch", top) from None
    tracking = f"{remote}/{branch}"
    remote_has = bool(repo.git.branch("-r", "--list", tracking).strip())
    if not remote_has:
        try:
            repo.git.push("-u", remote, branch)
        except git.GitCommandError as exc:
            raise _fail(exc, "push", top) from None
        count = int(repo.git.rev_list("--count", "HEAD"))
        return SyncResult(remote, branch, 0, count, created_upstream=True)
    counts = repo.git.rev_list("--left-right", "--count", f"HEAD...{tracking}").split()
    ahead, behind = int(counts[0]), int(counts[1])
    action = decide(ahead, behind)
    if action == "diverged":
        # the same identity labpath commits with, so the merge commit can be made
        ident = " ".join(vcs.identity_args(repo))
        raise UsageError(
            f"this workspace and {tracking} have both moved on ({ahead} local, {behind} remote "
            "commits); "
            + (
                "labpath committed its own records first, nothing else was changed"
                if saved
                else "nothing was changed"
            ),
            hint=f"merge them (entries and logs never conflict): git -C {top} "
            f"{ident + ' ' if ident else ''}merge --no-edit {tracking}   then: labpath sync",
        )
    pulled = pushed = 0
    if action == "pull":
        try:
            repo.git.merge("--ff-only", tracking)
        except git.GitCommandError as exc:
            detail = (exc.stderr or "").strip()
            if "would be overwritten" in detail or "untracked working tree" in detail:
                raise UsageError(
                    f"pulling {behind} commit(s) would overwrite files you changed; "
                    "nothing was changed",
                    hint=f"commit or stash them first: git -C {top} status",
                ) from None
            raise _fail(exc, "merge --ff-only", top) from None
        pulled = behind
    elif action == "push":
        try:
            repo.git.push(remote, branch)
        except git.GitCommandError as exc:
            raise _fail(exc, "push", top) from None
        pushed = ahead
    return SyncResult(remote, branch, pulled, pushed)


OWN_STATE = (
    ".labpath/progress.jsonl",
    ".labpath/time.jsonl",
    ".labpath/review.jsonl",
    "journal",
)


def _save_own_state(root: Path, top: Path) -> str | None:
    """Commit labpath's records a command left uncommitted, so a pull or merge can run."""
    from labpath import vcs

    paths = [root / p for p in OWN_STATE if (root / p).exists()]
    if not paths or not vcs.dirty(root, paths):
        return None
    return vcs.commit_paths(root, paths, "sync: save labpath's records first").sha


def _merge_in_progress(repo) -> bool:
    return (Path(repo.git_dir) / "MERGE_HEAD").exists()
