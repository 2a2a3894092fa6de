"""`labpath record` pins what passed at which commit; `labpath verify` re-checks it from a
clone, a bundle or a URL, and says which claim no longer holds."""

import json
import shutil
import subprocess

import pytest

from labpath import __version__, labs

from .conftest import commits, flat, git

SOLUTION = labs.load("micrograd").solution_dir / "engine.py"
MUL = "self.grad += other.data * out.grad"  # the solution's line a broken copy changes
_template = {}


@pytest.fixture()
def recorded(cli, ws, tmp_path_factory):
    """micrograd passed on its reference solution, 45 min logged, one journal entry,
    then `labpath record`: built once per module, copied for each test."""
    if "path" not in _template:
        assert cli("next").exit_code == 0
        shutil.copy(SOLUTION, ws / "labs" / "micrograd" / "engine.py")
        r = cli("check", "micrograd", "--no-prompt")
        assert r.exit_code == 0, r.output
        assert cli("time", "add", "45m", "--note", "reading").exit_code == 0
        assert (
            cli("log", "Backprop is the chain rule", "--lab", "micrograd").exit_code
            == 0
        )
        r = cli("record")
        assert r.exit_code == 0, r.output
        _template["path"] = tmp_path_factory.mktemp("record") / "ws"
        shutil.copytree(ws, _template["path"], symlinks=True)
    else:
        shutil.copytree(_template["path"], ws, symlinks=True)
    return ws


def pass_commit(ws) -> str:
    return git(ws, "log", "--format=%H", "--grep=^check: micrograd passed").split()[0]


def errors(r) -> list[str]:
    return [line for line in r.stderr.splitlines() if line.startswith("Error:")]


@pytest.mark.torch
def test_record_names_the_commit_each_lab_passed_at_and_commits_itself(recorded, cli):
    data = json.loads((recorded / "record" / "record.json").read_text())
    (claim,) = data["labs"]
    assert claim["lab"] == "micrograd"
    assert claim["commit"] == pass_commit(recorded)
    assert claim["passed"] == claim["total"] > 0
    assert claim["seed"] == 1337 and claim["labpath"] == __version__
    assert claim["duration"] > 0 and claim["checks"].startswith("sha256:")
    assert data["time"]["minutes"] == 45 and data["time"]["sessions"] == 1
    assert data["journal"]["entries"] == 1 and data["journal"]["by_type"]["aha"] == 1
    assert commits(recorded)[0] == "record: 1 lab(s) passed (micrograd)"
    assert git(recorded, "show", "--name-only", "--format=", "HEAD").split() == [
        "record/RECORD.md",
        "record/record.json",
    ]
    md = (recorded / "record" / "RECORD.md").read_text()
    assert f"| micrograd | {claim['passed']}/{claim['total']} | 1337 |" in md
    assert "git bundle create labpath.bundle --all" in md

    again = cli("record")
    assert again.exit_code == 0, again.output
    assert "not signed" in flat(again.stdout)
    printed = cli("record", "--json")
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout)["labs"][0]["commit"] == claim["commit"]


@pytest.mark.torch
def test_verify_confirms_the_record_on_a_fresh_clone_and_on_a_bundle(
    recorded, cli, tmp_path
):
    copy = tmp_path / "copy"
    subprocess.run(["git", "clone", "-q", str(recorded), str(copy)], check=True)
    r = cli("verify", copy, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["holds"] is True
    (claim,) = data["claims"]
    assert (claim["lab"], claim["status"]) == ("micrograd", "passed")
    assert claim["commit"] == pass_commit(recorded)

    bundle = tmp_path / "labpath.bundle"
    git(recorded, "bundle", "create", str(bundle), "--all")
    r = cli("verify", bundle)
    assert r.exit_code == 0, r.output
    row = next(line for line in r.stdout.splitlines() if "micrograd" in line)
    assert row.split()[:2] == ["✓", "│"] and pass_commit(recorded)[:10] in row
    assert "Every claim holds (1 lab(s))." in r.stdout


@pytest.mark.torch
def test_verify_flags_a_lab_whose_code_broke_after_the_record(recorded, cli):
    engine = recorded / "labs" / "micrograd" / "engine.py"
    assert MUL in engine.read_text()
    engine.write_text(engine.read_text().replace(MUL, "self.grad += out.grad"))
    git(recorded, "commit", "-qam", "a shorter mul")
    r = cli("verify")  # the current workspace, as committed
    assert r.exit_code == 1, r.output
    (line,) = [x for x in r.stdout.splitlines() if x.startswith("✗")]
    assert line.startswith("✗ micrograd: ") and " checks fail now: " in line
    assert "test_mul_matches_torch" in line
    assert "1 of 1 claim(s) do not hold." in r.stdout


@pytest.mark.torch
def test_a_pass_on_code_outside_the_workspace_is_claimed_but_never_verified(
    cli, started, tmp_path
):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(SOLUTION, outside / "engine.py")
    assert cli("check", "micrograd", "--path", outside).exit_code == 0
    r = cli("record")
    assert r.exit_code == 0, r.output
    assert "✓ micrograd code not committed 20/20 checks" in flat(r.stdout)
    assert "passed on code no commit holds" in flat(r.stderr)
    r = cli("verify")
    assert r.exit_code == 1, r.output
    assert "✗ micrograd: no commit holds the code that passed" in r.stdout
    assert "1 of 1 claim(s) do not hold." in r.stdout


@pytest.mark.torch
def test_verify_flags_a_rewritten_history_naming_the_claim(recorded, cli):
    sha = pass_commit(recorded)
    git(recorded, "reset", "-q", "--soft", f"{sha}~1")
    git(recorded, "commit", "-qm", "everything in one commit")
    r = cli("verify", f"file://{recorded}")
    assert r.exit_code == 1, r.output
    (line,) = [x for x in r.stdout.splitlines() if x.startswith("✗")]
    assert line == (
        f"✗ micrograd: recorded commit {sha[:12]} is not in the history of HEAD "
        "(the history was rewritten after the record)"
    )


def test_verify_refuses_what_is_no_record_with_one_error_line(cli, ws, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "commit", "-q", "--allow-empty", "-m", "code")
    folder = tmp_path / "folder"
    folder.mkdir()
    assert cli("init", ws).exit_code == 0
    (tmp_path / "notes.txt").write_text("not a bundle\n")
    cases = {
        repo: f"{repo} is not a labpath workspace (no labpath.yaml at its HEAD)",
        folder: f"{folder} is not a git repository",
        ws: f"{ws} has no committed record (record/record.json at its HEAD)",
        tmp_path / "gone": f"no such file or folder: {tmp_path / 'gone'}",
        tmp_path
        / "notes.txt": f"{tmp_path / 'notes.txt'} is a file but not a git bundle",
    }
    for given, message in cases.items():
        r = cli("verify", given)
        assert r.exit_code == 2, (given, r.output)
        assert errors(r) == [f"Error: {message}"], r.stderr
        assert r.stdout == ""


def test_record_is_signed_when_git_has_a_signing_key(cli, workspace, tmp_path):
    if shutil.which("ssh-keygen") is None:
        pytest.skip("no ssh-keygen to make a signing key")
    key = tmp_path / "key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True
    )
    git(workspace, "config", "gpg.format", "ssh")
    git(workspace, "config", "user.signingkey", f"{key}.pub")
    r = cli("record")
    assert r.exit_code == 0, r.output
    assert "signed with your git key (ssh)" in flat(r.stdout)
    assert "gpgsig" in git(workspace, "cat-file", "-p", "HEAD")
    r = cli("verify")
    assert r.exit_code == 0, r.output
    assert "signature: signed" in flat(r.stdout)

    # A key git cannot use: the record is still committed, unsigned, with a warning.
    git(workspace, "config", "user.signingkey", str(tmp_path / "missing.pub"))
    r = cli("record")
    assert r.exit_code == 0, r.output
    assert "committed unsigned" in flat(r.stderr)
    assert "gpgsig" not in git(workspace, "cat-file", "-p", "HEAD")
