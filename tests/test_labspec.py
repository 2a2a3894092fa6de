"""Labs validated like curricula: lab.yaml, bugs.yaml and mutants.yaml, with file:line."""

import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from labpath import authoring, bugedit, devcheck, labs, labspec
from labpath.cli import app
from labpath.errors import UsageError


@pytest.fixture
def lab_dir(tmp_path):
    """A copy of the micrograd lab, free to break."""
    dest = tmp_path / "micrograd"
    shutil.copytree(labs.LABS_ROOT / "micrograd", dest)
    return dest


def edit(path, old, new):
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def load_error(lab_dir):
    with pytest.raises(UsageError) as err:
        labspec.read_lab(lab_dir / "lab.yaml")
    return err.value


def test_every_shipped_lab_and_catalogue_validates():
    for lab_id in labs.available():
        lab = labs.load(lab_id)
        assert lab.id == lab_id
        assert len(labspec.read_bugs(lab)) >= devcheck.MIN_BUGS, lab_id
        labspec.check_mutants(lab)


def test_unknown_lab_key_names_its_line_and_the_close_key(lab_dir):
    edit(lab_dir / "lab.yaml", "time_limit: 60", "time_limt: 60")
    err = load_error(lab_dir)
    assert (
        err.message == f"{lab_dir / 'lab.yaml'}:6: (top level): unknown key 'time_limt'"
    )
    assert err.hint == "did you mean 'time_limit'?"


def test_newer_lab_format_is_refused_with_upgrade_hint(lab_dir):
    edit(lab_dir / "lab.yaml", "format_version: 1", "format_version: 2")
    err = load_error(lab_dir)
    assert err.message.startswith(
        f"{lab_dir / 'lab.yaml'}:1: format_version: version 2"
    )
    assert "upgrade labpath" in err.hint


def test_lab_id_must_equal_its_folder_name(lab_dir):
    edit(lab_dir / "lab.yaml", "id: micrograd", "id: micrograt")
    err = load_error(lab_dir)
    assert ":2: id: 'micrograt' differs from the lab's folder name 'micrograd'" in (
        err.message
    )


@pytest.mark.parametrize(
    "old, new, words",
    [
        ("time_limit: 60", "time_limit: soon", ":6: time_limit: must be a number"),
        ("time_limit: 60", "time_limit: -1", ":6: time_limit: must be positive"),
        ("seed: 1337", "seed: 1.5", ":7: seed: must be an integer"),
        ("files: [engine.py]", "files: engine.py", ":5: files: must be a list"),
        ("files: [engine.py]", "files: []", ":5: files: must list the learner's"),
        ("files: [engine.py]", "files: [../x.py]", ":5: files[0]: '../x.py' must be"),
        ("  - name: torch\n", "  - nam: torch\n", ":25: forbidden[0]: unknown key"),
        ("title: A scalar autograd engine\n", "", ":1: (top level): missing required"),
        (
            "seed: 1337",
            "seed: 1337\nuses: [micrograt]",
            ":8: uses[0]: no lab 'micrograt'",
        ),
        ("seed: 1337", "seed: [1", ":8: malformed YAML"),
    ],
)
def test_malformed_lab_yaml_answers_with_file_and_line(lab_dir, old, new, words):
    edit(lab_dir / "lab.yaml", old, new)
    assert words in load_error(lab_dir).message


def test_a_bug_must_fail_a_check_that_exists(lab_dir):
    edit(
        lab_dir / "bugs.yaml",
        "fails: test_mul_matches_torch",
        "fails: test_mul_matches_torh",
    )
    lab = labspec.read_lab(lab_dir / "lab.yaml")
    with pytest.raises(UsageError) as err:
        labspec.read_bugs(lab)
    assert err.value.message.startswith(f"{lab.bugs_file}:29: bugs[2].fails: no check")
    assert err.value.hint == "did you mean 'test_mul_matches_torch'?"


@pytest.mark.parametrize(
    "old, new, words",
    [
        (
            "grad\n    file: engine.py",
            "grad\n    file: engin.py",
            ":42: bugs[4].file: no file",
        ),
        ("format_version: 1", "format_version: 3", ":3: format_version: version 3"),
        ("  - id: mul-overwrites-grad", "  - id: add-overwrites-grad", "is taken"),
        ("    summary: __add__'s", "    sumary: __add__'s", ":6: bugs[0]: unknown key"),
        (
            'new: "self.grad = other.data',
            'new: [1]\n      - old: x\n        new: "',
            "must be a non-empty",
        ),
    ],
)
def test_malformed_bugs_yaml_answers_with_file_and_line(lab_dir, old, new, words):
    edit(lab_dir / "bugs.yaml", old, new)
    lab = labspec.read_lab(lab_dir / "lab.yaml")
    with pytest.raises(UsageError) as err:
        labspec.read_bugs(lab)
    assert str(lab.bugs_file) in err.value.message
    assert words in err.value.message


def test_malformed_mutants_yaml_answers_with_file_and_line(tmp_path):
    dest = tmp_path / "bigram"
    shutil.copytree(labs.LABS_ROOT / "bigram", dest)
    edit(dest / "mutants.yaml", "    why: one draw", "    wy: one draw")
    with pytest.raises(UsageError) as err:
        labspec.check_mutants(labspec.read_lab(dest / "lab.yaml"))
    assert f"{dest / 'mutants.yaml'}:6: equivalent[0]: unknown key 'wy'" in (
        err.value.message
    )


SOURCE = """\
def f(x):
    y = x * 2  # twice
    return y + 1


def g(x):
    return x * 2
"""


def test_a_bug_edit_matches_code_whatever_the_comments_and_layout():
    text, n = bugedit.apply(SOURCE, "    y = x * 2\n", "    y = x * 3\n")
    assert n == 1
    assert "    y = x * 3\n    return y + 1" in text
    reformatted = SOURCE.replace("y = x * 2  # twice", "y = x*2").replace(
        "return y + 1", "return max(\n        y,\n        1,\n    )"
    )
    text, n = bugedit.apply(reformatted, "y = x * 2", "y = x * 3")
    assert n == 1 and "y = x * 3\n    return max(" in text
    text, n = bugedit.apply(reformatted, "return max(y, 1,)", "return y")
    assert n == 1 and "    return y\n" in text
    # a comment in old: is ignored, so rewording the code's comment cannot break it
    assert bugedit.apply(SOURCE, "y = x * 2  # three times", "y = 0")[1] == 1


def test_a_bug_edit_may_stop_inside_brackets_or_a_string():
    text = 'def f(a,\n      b):\n    """Doc here."""\n    return a\n'
    assert bugedit.apply(text, "def f(a,", "def f(c,") == (text.replace("a,", "c,"), 1)
    # a fragment that cuts a string is matched as the exact text it is
    changed, n = bugedit.apply(text, '    """Doc', '    """Text')
    assert n == 1 and '"""Text here."""' in changed


def test_a_bug_edit_counts_code_not_comments():
    assert bugedit.apply(SOURCE, "x * 2", "x")[1] == 2
    assert bugedit.apply(SOURCE, "return x * 3", "x")[1] == 0
    assert bugedit.apply(SOURCE + "# y = x * 2 again\n", "y = x * 2", "y")[1] == 1


def test_static_check_passes_every_shipped_lab():
    verdicts, extra = authoring.check_static(None)
    assert sorted(v.lab for v in verdicts) == labs.available()
    bad = [(v.lab, f.item, f.detail) for v in verdicts for f in v.findings if not f.ok]
    assert bad == []
    assert all(f.ok for f in extra)


def findings(lab_dir):
    verdict = authoring.static_check(labspec.read_lab(lab_dir / "lab.yaml"))
    return {f.item: f for f in verdict.findings}


def test_static_check_names_a_bug_that_no_longer_applies(lab_dir):
    edit(
        lab_dir / "solution" / "engine.py",
        "for node in reversed(topo):",
        "for node in topo[::-1]:",
    )
    found = findings(lab_dir)["bug:forgot-reversed"]
    assert not found.ok
    assert "occurs 0 times in solution/engine.py" in found.detail
    assert found.detail.startswith(f"{lab_dir / 'bugs.yaml'}:")


def test_static_check_names_a_bug_that_applies_twice_or_changes_nothing(lab_dir):
    edit(
        lab_dir / "bugs.yaml",
        'old: "for node in reversed(topo):"\n        new: "for node in topo:"',
        'old: "out.grad"\n        new: "out.grad  # a comment only"',
    )
    assert "occurs" in findings(lab_dir)["bug:forgot-reversed"].detail
    edit(
        lab_dir / "bugs.yaml",
        'old: "out.grad"\n        new: "out.grad  # a comment only"',
        'old: "reversed(topo):"\n        new: "reversed(topo):  # the same code"',
    )
    assert "changes no code" in findings(lab_dir)["bug:forgot-reversed"].detail


def test_static_check_rejects_an_old_fragment_holding_a_comment(lab_dir):
    edit(
        lab_dir / "bugs.yaml",
        'old: "for node in reversed(topo):"',
        'old: "for node in reversed(topo):  # from the output"',
    )
    found = findings(lab_dir)["bug:forgot-reversed"]
    assert not found.ok and "holds a comment" in found.detail


def test_static_check_names_a_starter_the_solution_does_not_honour(lab_dir):
    edit(
        lab_dir / "solution" / "engine.py",
        "def backward(self):",
        "def backward(self, g):",
    )
    found = findings(lab_dir)["interface:engine.py"]
    assert not found.ok
    assert found.detail == (
        "Value.backward: the starter has (self), the solution (self, g)"
    )


def test_static_check_accepts_a_solution_with_more_than_the_starter():
    """Optional extras, helpers, inherited methods and defaulted arguments."""
    import ast

    starter = ast.parse("class A:\n    def f(self, x): ...\ndef g(a, b=1): ...\n")
    solution = ast.parse(
        "class Base:\n    def f(self, x, y=0): ...\nclass A(Base):\n    pass\n"
        "def g(a, b=2, *, c=3): ...\ndef extra(): ...\n"
    )
    s, sol = authoring.interface(starter), authoring.interface(solution)
    for name, args in authoring._promises(s):
        assert authoring._accepts(authoring._find(sol, name), args), name
    required = authoring.interface(ast.parse("def g(a, b): ...\n"))
    assert not authoring._accepts(required["g"], s["g"])


def test_static_check_wants_the_brief_steps_and_hints(lab_dir):
    readme = lab_dir / "README.md"
    readme.write_text(readme.read_text().replace("## Steps", "## Plan"))
    edit(lab_dir / "lab.yaml", "hints:\n  - >-\n", "hints:\n  - one\n  - >-\n")
    found = findings(lab_dir)
    assert not found["brief"].ok and "0 steps" in found["brief"].detail
    assert found["hints"].ok
    readme.unlink()
    assert not findings(lab_dir)["brief"].ok


def cli(*args):
    return CliRunner().invoke(app, list(args))


def test_cli_static_check_of_a_broken_lab_yaml_is_one_line_and_exit_2(lab_dir):
    edit(lab_dir / "lab.yaml", "title:", "titel:")
    result = cli("dev", "check", "--static", str(lab_dir))
    assert result.exit_code == 2, result.output
    assert f"Error: {lab_dir / 'lab.yaml'}:3: (top level): unknown key 'titel'" in (
        result.output
    )
    assert "Traceback" not in result.output


def test_cli_static_check_fails_a_lab_with_a_finding(lab_dir):
    edit(lab_dir / "solution" / "engine.py", "reversed(topo)", "topo[::-1]")
    result = cli("dev", "check", "--static", str(lab_dir), "--json")
    assert result.exit_code == 1, result.output
    assert '"item": "bug:forgot-reversed"' in result.output


def test_dev_new_writes_a_lab_that_passes_the_static_check(tmp_path):
    result = cli("dev", "new", "demo", "--dir", str(tmp_path / "labs"))
    assert result.exit_code == 0, result.output
    lab_dir = tmp_path / "labs" / "demo"
    assert sorted(p.relative_to(lab_dir).as_posix() for p in lab_dir.rglob("*.*")) == [
        "README.md",
        "bugs.yaml",
        "checks/conftest.py",
        "checks/test_demo.py",
        "lab.yaml",
        "solution/demo.py",
        "starter/demo.py",
    ]
    assert "# TODO:" in (lab_dir / "starter" / "demo.py").read_text()
    result = cli("dev", "check", "--static", str(lab_dir))
    assert result.exit_code == 0, result.output
    assert "All labs sound." in result.output


def test_dev_new_refuses_to_overwrite_a_lab(tmp_path):
    assert cli("dev", "new", "demo", "--dir", str(tmp_path)).exit_code == 0
    (tmp_path / "demo" / "README.md").write_text("my brief")
    result = cli("dev", "new", "demo", "--dir", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert f"Error: {tmp_path / 'demo'} already exists" in result.output
    assert (tmp_path / "demo" / "README.md").read_text() == "my brief"
    result = cli("dev", "new", "micrograd")
    assert result.exit_code == 2 and "already exists" in result.output
    result = cli("dev", "new", "Not_An_Id", "--dir", str(tmp_path))
    assert result.exit_code == 2 and "is not a lab id" in result.output


def test_static_check_imports_no_torch():
    code = (
        "import sys\n"
        "from labpath import authoring\n"
        "authoring.check_static(None)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'numpy', 'pytest', 'git')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_dev_new_skeleton_passes_the_full_dev_check(tmp_path):
    lab_dir = authoring.new_lab("demo", str(tmp_path))
    verdict = devcheck.check_lab(authoring.lab_at(str(lab_dir)))
    assert verdict.ok, [(f.item, f.detail) for f in verdict.findings if not f.ok]
