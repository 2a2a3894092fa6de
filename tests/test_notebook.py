"""Checks on notebooks: an .ipynb as the lab's files, and checks from a running kernel."""

import json
import linecache
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook  # noqa: E402

from labpath import labs, notebook  # noqa: E402

from .conftest import DATA, ROOT, commits  # noqa: E402

LECTURE = (DATA / "micrograd" / "lecture_shape" / "engine.py").read_text()
SOLUTION = (labs.load("micrograd").solution_dir / "engine.py").read_text()

# The lecture's first, partial Value: a later cell redefines it in full.
FIRST_VALUE = """\
class Value:
    def __init__(self, data, _children=(), _op="", label=""):
        self.data = data
        self.grad = 0.0
        self._prev = set(_children)
        self._op = _op
        self.label = label

    def __repr__(self):
        return f"Value(data={self.data})"

    def __add__(self, other):
        return Value(self.data + other.data, (self, other), "+")
"""


def write(path: Path, *cells) -> Path:
    """A notebook of these cells: a str is a code cell, ("md", text) a markdown cell."""
    nb = new_notebook(
        cells=[
            new_markdown_cell(c[1]) if isinstance(c, tuple) else new_code_cell(c)
            for c in cells
        ]
    )
    nbformat.write(nb, str(path))
    return path


def lecture_cells(value_source: str = LECTURE) -> list:
    """Cells written the way the lecture notebooks are: small, exploratory, redefining."""
    return [
        ("md", "# micrograd from scratch"),
        "!pip install graphviz",
        "import math\nimport numpy as np\nimport matplotlib.pyplot as plt\n%matplotlib inline",
        "def f(x):\n    return 3*x**2 - 4*x + 5",
        "f(3.0)",
        "xs = np.arange(-5, 5, 0.25)\nys = f(xs)\nplt.plot(xs, ys)",
        FIRST_VALUE,
        "a = Value(2.0, label='a')\nb = Value(-3.0, label='b')\nd = a + b\nd",
        "print(d._prev)\nprint(d._op)",
        ("md", "The full Value, with backward()"),
        value_source,
        "%%time\nx = Value(0.5)\ny = (x * 2).tanh()\ny.backward()",
        "%%bash\nls -la",
        "for n in range(3):\n    print(n, x.grad)",
        "x.grad",
    ]


def flat(text: str) -> str:
    return " ".join(text.split())


# --- cleaning cells (no checks run) ------------------------------------------------


def test_shell_and_magic_lines_go_and_an_indented_one_leaves_a_pass():
    lines, offset, _ = notebook.clean_cell(
        "!pip install torch\n%matplotlib inline\nfiles = !ls\nif True:\n    %time 1\nx = 1"
    )
    assert offset == 0
    assert lines == ["", "", "", "if True:", "    pass", "x = 1"]


def test_valid_python_is_never_read_as_magic():
    source = 'doc = """\n%not a magic\n!nor this\n"""'
    assert notebook.clean_cell(source)[0] == source.splitlines()


def test_time_keeps_its_body_and_bash_or_capture_drop_the_cell():
    lines, offset, _ = notebook.clean_cell("%%time\nx = 1\ny = 2")
    assert (lines, offset) == (["x = 1", "y = 2"], 1)
    for magic in ("%%bash\nls", "%%capture\nx = 1", "%%writefile engine.py\nx = 1"):
        lines, _, why = notebook.clean_cell(magic)
        assert lines is None and why.startswith("%%")


def test_cells_that_only_show_are_left_out_and_mixed_cells_stay():
    converted = notebook.convert(
        [
            ("cell 1", "print(x)"),
            ("cell 2", "plt.plot(xs, ys)\nplt.show()"),
            ("cell 3", "df.head()"),
            ("cell 4", "for w in words[:5]:\n    print(w)"),
            ("cell 5", "ys = f(xs)\nplt.plot(xs, ys)"),
            ("cell 6", "# labpath: skip\nslow = train()"),
        ],
        ["engine.py"],
        "work.ipynb",
    )
    assert converted.modules["engine.py"].source().split() == [
        "ys",
        "=",
        "f(xs)",
        "plt.plot(xs,",
        "ys)",
    ]
    left_out = dict(converted.skipped)
    assert left_out["cell 1"] == left_out["cell 4"] == "only shows output"
    assert left_out["cell 6"] == "# labpath: skip"


def test_a_later_definition_wins_as_in_a_kernel_run_top_to_bottom(tmp_path):
    path = write(tmp_path / "work.ipynb", *lecture_cells())
    converted = notebook.read(path, labs.load("micrograd"))
    namespace = {}
    exec(converted.modules["engine.py"].source(), namespace)
    assert hasattr(namespace["Value"], "backward")  # the full, second definition
    left_out = dict(converted.skipped)
    assert left_out["cell 5"] == "only shows output"  # f(3.0)
    assert left_out["cell 13"] == "%%bash cell"


def test_from_future_moves_to_the_top_of_the_module():
    converted = notebook.convert(
        [("cell 1", "x = 1"), ("cell 2", "from __future__ import annotations\ny = 2")],
        ["engine.py"],
        "work.ipynb",
    )
    source = converted.modules["engine.py"].source()
    assert source.startswith("from __future__ import annotations\n")
    compile(source, "engine.py", "exec")


def test_locations_in_the_modules_become_cells():
    converted = notebook.convert(
        [("cell 2", "import math"), ("cell 7", "def f():\n    return 1\n\n    x")],
        ["engine.py"],
        "work.ipynb",
    )
    folder = Path("/tmp/labpath-notebook-x")
    r = notebook.Relocator(folder, converted.modules, "work.ipynb")
    # engine.py: line 1 is cell 2, line 2 the blank between cells, 3.. cell 7
    assert r.text(f'File "{folder}/engine.py", line 4, in f') == (
        'File "work.ipynb", cell 7, line 2, in f'
    )
    assert r.text("importing your engine.py failed at engine.py:3 in <module>: E") == (
        "importing your work.ipynb failed at work.ipynb, cell 7, line 1: E"
    )
    assert r.text("engine.py:4 in f") == "work.ipynb, cell 7, line 2 in f"


# --- the command line ---------------------------------------------------------------


@pytest.mark.torch
def test_a_failure_points_at_the_cell_not_the_temporary_file(cli, tmp_path):
    broken = LECTURE.replace("math.exp(self.data)", "math.exp(self.dat)")
    path = write(tmp_path / "work.ipynb", *lecture_cells(broken)[:11])
    line = broken.splitlines().index(
        next(x for x in broken.splitlines() if "self.dat)" in x)
    )
    result = cli("check", "micrograd", "--path", path, "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    where = {r["learner_location"] for r in report["results"] if r["learner_location"]}
    assert where == {f"work.ipynb, cell 11, line {line + 1} in exp"}
    assert "labpath-notebook-" not in result.stdout
    text = cli("check", "micrograd", "--path", path, "-v")
    assert text.exit_code == 1
    assert f"in        work.ipynb, cell 11, line {line + 1} in exp" in text.stdout
    assert (
        "work.ipynb: left out cells 2 (shell or magic lines only); "
        "5, 9 (only shows output)" in flat(text.stderr)
    )
    assert "labpath-notebook-" not in text.stdout


@pytest.mark.torch
def test_a_cell_that_raises_at_import_is_named(cli, tmp_path):
    cells = [*lecture_cells()[:11], "scale = 2\nz = Value(1.0) * undefined_scale"]
    path = write(tmp_path / "work.ipynb", *cells)
    result = cli("check", "micrograd", "--path", path)
    assert result.exit_code == 1, result.output
    assert (
        "importing your work.ipynb failed at work.ipynb, cell 12, line 2: NameError: "
        "name 'undefined_scale' is not defined" in flat(result.stdout)
    )
    assert "Traceback" not in result.output
    assert "start a cell that trains, plots or reads a file with `# labpath: skip`" in (
        flat(result.stderr)
    )


def test_a_notebook_that_does_not_parse_is_one_error_line(cli, tmp_path):
    path = tmp_path / "work.ipynb"
    path.write_text('{"cells": [')
    result = cli("check", "micrograd", "--path", path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {path}: not a notebook nbformat can read")
    assert "Traceback" not in result.stderr


def test_a_missing_notebook_is_a_usage_error(cli):
    result = cli("check", "micrograd", "--path", "nowhere.ipynb")
    assert result.exit_code == 2
    assert "Error: --path nowhere.ipynb: no such notebook" in result.stderr


def test_a_lab_that_plants_faults_is_checked_as_a_folder(cli, tmp_path):
    path = write(tmp_path / "work.ipynb", "x = 1")
    result = cli("check", "fixit", "--path", path)
    assert result.exit_code == 2
    assert "plants faults in its own files" in result.stderr


# --- a lab of two files --------------------------------------------------------------


PAIR_CHECKS = '''
from labpath.checks import kit


def test_mean():
    """mean of a list."""
    assert kit.learner_module("moments").mean([1.0, 2.0, 6.0]) == 3.0


def test_spread():
    """spread: largest minus smallest, centred on the mean."""
    spread = kit.learner_module("spread")
    assert spread.centred([1.0, 2.0, 6.0]) == [-2.0, -1.0, 3.0]
'''


@pytest.fixture()
def pair(tmp_path, monkeypatch):
    """A lab of two files (moments.py, spread.py imports it) whose checks need no torch."""
    lab = tmp_path / "labs" / "pair"
    (lab / "checks").mkdir(parents=True)
    (lab / "starter").mkdir()
    (lab / "lab.yaml").write_text(
        "format_version: 1\nid: pair\ntitle: Two files\n"
        "files: [moments.py, spread.py]\n"
    )
    (lab / "checks" / "test_pair.py").write_text(PAIR_CHECKS)
    (lab / "starter" / "moments.py").write_text(
        "def mean(xs):\n    raise NotImplementedError\n"
    )
    (lab / "starter" / "spread.py").write_text(
        "def centred(xs):\n    raise NotImplementedError\n"
    )
    monkeypatch.setenv("LABPATH_LABS", str(tmp_path / "labs"))
    return lab


def test_markers_send_cells_to_the_lab_files(cli, tmp_path, pair):
    path = write(
        tmp_path / "work.ipynb",
        "import math",
        "# labpath: file=moments.py\ndef mean(xs):\n    return sum(xs) / len(xs)",
        "mean([1, 2])",
        "# labpath: file=spread.py\nfrom moments import mean\n\n"
        "def centred(xs):\n    m = mean(xs)\n    return [x - m for x in xs]",
    )
    result = cli("check", "pair", "--path", path)
    assert result.exit_code == 0, result.output
    assert "PASSED 2/2" in result.stdout


def test_a_marker_naming_no_file_of_the_lab(cli, tmp_path, pair):
    path = write(tmp_path / "work.ipynb", "# labpath: file=spred.py\nx = 1")
    result = cli("check", "pair", "--path", path)
    assert result.exit_code == 2
    assert (
        "Error: work.ipynb, cell 1: `# labpath: file=spred.py` names no file of this lab"
        in result.stderr
    )
    assert "did you mean 'spread.py'?" in result.stderr


def test_without_markers_every_file_holds_the_whole_notebook(tmp_path, pair):
    path = write(tmp_path / "work.ipynb", "def mean(xs):\n    return 1", "y = 2")
    modules = notebook.read(path, labs.load("pair")).modules
    assert modules["moments.py"].source() == modules["spread.py"].source()


# --- in a workspace, and watch --------------------------------------------------------


@pytest.mark.torch
def test_a_lecture_style_notebook_in_the_workspace_passes_and_is_committed(
    cli, started
):
    path = write(started / "labs" / "micrograd" / "work.ipynb", *lecture_cells())
    before = commits(started)
    result = cli("check", "micrograd", "--path", path, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "passed" and report["target"] == str(path)
    assert report["newly_done"] and len(commits(started)) == len(before) + 1
    tracked = subprocess.run(
        ["git", "-C", str(started), "ls-files", "labs/micrograd/work.ipynb"],
        capture_output=True,
        text=True,
    ).stdout
    assert tracked.strip() == "labs/micrograd/work.ipynb"


class _NoWorker:
    """The warm check process, not needed when the check is a stand-in."""

    def start(self):
        pass

    def stop(self):
        pass


def test_watch_rechecks_when_the_notebook_is_saved(tmp_path, monkeypatch):
    from labpath import watch as watcher
    from labpath.checks import runner

    monkeypatch.setattr(runner, "Worker", _NoWorker)

    path = write(tmp_path / "work.ipynb", "x = 1")
    (tmp_path / "other.py").write_text("y = 1\n")
    runs, stop = [], threading.Event()

    def on_outcome(outcome):
        runs.append(outcome)
        if len(runs) == 1:
            time.sleep(0.3)
            (tmp_path / "other.py").write_text("y = 2\n")  # not the notebook: no run
            time.sleep(0.6)
            write(path, "x = 2")
        else:
            stop.set()

    guard = threading.Timer(30, stop.set)
    guard.daemon = True
    guard.start()
    count = watcher.watch(
        lambda worker: notebook.code_cells(path)[0][1],
        path,
        on_start=lambda changed: None,
        on_outcome=on_outcome,
        poll=True,
        stop_event=stop,
        debounce_ms=50,
    )
    guard.cancel()
    assert count == 2 and runs == ["x = 1", "x = 2"]


def test_watch_on_a_missing_notebook(cli, started):
    result = cli("watch", "micrograd", "--path", started / "gone.ipynb")
    assert result.exit_code == 2
    assert "no such notebook" in result.stderr


# --- from a running kernel ------------------------------------------------------------


def _run_in_fake_cells(namespace: dict, *cells: str) -> None:
    """Run cells as IPython does: each compiled under a cell name kept in linecache."""
    for number, source in enumerate(cells, start=1):
        name = f"<ipython-input-{number}-{number:012x}>"
        lines = [line + "\n" for line in source.splitlines()]
        linecache.cache[name] = (len(source), None, lines, name)
        exec(compile(source, name, "exec"), namespace)


@pytest.fixture()
def kernel():
    namespace = {"__name__": "__main__"}
    yield namespace
    for name in [n for n in linecache.cache if n.startswith("<ipython-input-")]:
        linecache.cache.pop(name, None)


@pytest.mark.torch
def test_check_from_a_kernel_finds_classes_defined_in_cells(kernel):
    import labpath

    broken = LECTURE.replace("math.exp(self.data)", "math.exp(self.dat)")
    line = 1 + next(i for i, x in enumerate(broken.splitlines()) if "self.dat)" in x)
    _run_in_fake_cells(kernel, "import math\nLIMIT = 3", FIRST_VALUE, broken)
    result = labpath.check("micrograd", kernel)
    assert not result.ok and result.report.status == "failed"
    text = str(result)
    assert "✗ test_exp_matches_torch" in text
    assert f"in        In [3], line {line} in exp" in text
    assert "labpath-kernel-" not in text
    html = result._repr_html_()
    assert html.startswith("<div>") and "FAILED" in html and "<script" not in html


def test_an_object_made_through_exec_is_one_clear_line(kernel):
    import labpath

    exec("class Value:\n    def backward(self):\n        pass\n", kernel)
    result = labpath.check("micrograd", kernel)
    assert str(result).splitlines()[0] == (
        "Error: cannot recover the source of `Value`: no cell or file holds it "
        "(made through exec, or typed where no source is kept)"
    )


def test_an_object_from_a_c_extension_is_one_clear_line(kernel):
    import math

    import labpath

    kernel["Value"] = math.sqrt
    assert str(labpath.check("micrograd", kernel)).splitlines()[0] == (
        "Error: cannot recover the source of `Value`: it is defined in a C extension "
        "(math); labpath checks Python source"
    )


def test_nothing_of_the_lab_defined_is_one_clear_line(kernel):
    import labpath

    assert str(labpath.check("micrograd", kernel)).startswith(
        "Error: none of Value (what lab 'micrograd' checks) is defined here"
    )


def test_what_a_recovered_function_needs_comes_with_it(kernel):
    from labpath.ipython import build

    _run_in_fake_cells(
        kernel,
        "import math as m\nfrom os.path import join\nSCALE = 2.5",
        "def helper(x):\n    return m.exp(x) * SCALE",
        "class Value:\n    def f(self):\n        return helper(1) + len(join('a'))",
    )
    modules, notes = build(labs.load("micrograd"), kernel)
    source = modules["engine.py"].source()
    namespace = {}
    exec(source, namespace)
    assert namespace["Value"]().f() == pytest.approx(2.5 * 2.718281828 + 1, rel=1e-6)
    assert "import math as m" in source and "from posixpath import join" in source
    assert notes == []


@pytest.mark.torch
def test_the_ipython_extension_checks_the_kernel(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        import labpath
        assert "labpath.ipython" not in sys.modules and "IPython" not in sys.modules
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        for cell in ["%load_ext labpath", "import math", {LECTURE!r}, "a = Value(2.0)"]:
            assert shell.run_cell(cell, store_history=True).success
        result = shell.run_cell("%labpath check micrograd", store_history=True).result
        print("OK" if result.ok else result)
        print(result._repr_html_()[:5])
        print(shell.run_cell("%labpath chek micrograd").result)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "OK" in lines and "<div>" in lines
    assert "Error: cannot read `%labpath chek micrograd`" in proc.stdout


def test_a_method_set_in_a_later_cell_and_a_dataclass_come_along(kernel):
    from labpath.ipython import build

    _run_in_fake_cells(
        kernel,
        "from dataclasses import dataclass\n\n@dataclass\nclass Config:\n    n: int = 3",
        "class Value:\n    def __init__(self, data):\n        self.data = data",
        "def double(self):\n    return Value(self.data * Config().n)\n\n"
        "Value.double = double\nValue.half = lambda self: Value(self.data / 2)",
    )
    modules, _ = build(labs.load("micrograd"), kernel)
    namespace = {}
    exec(modules["engine.py"].source(), namespace)
    v = namespace["Value"](4.0)
    assert (v.double().data, v.half().data) == (12.0, 2.0)


@pytest.mark.torch
def test_a_jupyter_kernel_checks_its_cells_and_names_the_cell_of_a_mistake(tmp_path):
    # A real ipykernel, run by nbclient as Jupyter would: its cells are compiled under
    # names of its own, its stdout is a stream to the client, and the check's report
    # comes back as the cell's result.
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    broken = LECTURE.replace("math.exp(self.data)", "math.exp(self.dat)")
    line = 1 + next(i for i, x in enumerate(broken.splitlines()) if "self.dat)" in x)
    cells = [
        "%load_ext labpath",
        "import math",
        broken,
        "%labpath check micrograd",
        LECTURE,
        "%labpath check micrograd",
    ]
    nb = new_notebook(cells=[new_code_cell(source) for source in cells])
    client = nbclient.NotebookClient(
        nb, timeout=300, allow_errors=True, resources={"metadata": {"path": tmp_path}}
    )
    client.execute()

    def result(cell) -> tuple[str, str]:
        (out,) = [o for o in cell.outputs if o.output_type == "execute_result"]
        return out.data["text/plain"], out.data["text/html"]

    errors = [o for c in nb.cells for o in c.outputs if o.output_type == "error"]
    assert errors == []
    text, html = result(nb.cells[3])
    assert "✗ test_exp_matches_torch" in text
    assert f"In [3], line {line} in exp" in text
    assert "ipykernel" not in text and "labpath-kernel-" not in text
    assert html.startswith("<div>") and "FAILED" in html
    text, _ = result(nb.cells[5])
    assert "✗" not in text and "PASSED" in text, text
