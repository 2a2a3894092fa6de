"""dev mutate: which mutants are generated, their stable keys, and real runs on a tiny lab."""

import json
import textwrap

import pytest

from labpath import labs, mutate
from labpath.errors import UsageError

SOURCE = textwrap.dedent(
    '''\
    """A tiny lab file: one of each construct the mutator knows."""
    import math


    def add(a, b):
        """a + b."""
        return a + b


    def scale(x, k=2):
        return x * k


    def total(xs):
        s = 0
        for x in xs:
            s += x
        return s


    def norm(v):
        return math.sqrt(sum(x * x for x in v))


    def pick(t):
        print("picking", len(t) + 1)
        t.sort()
        return t.sum(dim=1).T


    def bigger(a, b):
        if a > b:
            return a
        return b


    class Box:
        def __repr__(self):
            return f"Box({1 + 2})"


    if __name__ == "__main__":
        print(add(1, 2))
    '''
)

CHECK = textwrap.dedent(
    """\
    from labpath.checks import kit


    def test_add():
        calc = kit.learner_module("calc")
        if calc.add(2, 3) != 5 or calc.add(-1, 4) != 3:
            kit.fail("add(2, 3)", yours=calc.add(2, 3), expected=5)


    def test_total():
        calc = kit.learner_module("calc")
        if calc.total([1, 2, 4]) != 7:
            kit.fail("total([1, 2, 4])", yours=calc.total([1, 2, 4]), expected=7)
    """
)


def make_lab(root, source=SOURCE, checks=CHECK, equivalent=None) -> labs.Lab:
    (root / "solution").mkdir(parents=True)
    (root / "checks").mkdir()
    (root / "solution" / "calc.py").write_text(source)
    (root / "checks" / "test_calc.py").write_text(checks)
    if equivalent is not None:
        (root / mutate.MUTANTS_FILE).write_text(equivalent)
    return labs.Lab(
        id="calc",
        title="calc",
        directory=root,
        files=("calc.py",),
        time_limit=60,
        hints=(),
        forbidden=(),
        seed=1,
    )


def keys(lab):
    return {m.key for m in mutate.generate(lab)}


def test_generate_covers_every_operator(tmp_path):
    found = keys(make_lab(tmp_path))
    for key in [
        "calc.py::add::binop::+ => -",
        "calc.py::scale::constant::2 => 3",  # a documented default argument
        "calc.py::scale::binop::* => /",
        "calc.py::total::augassign::+= => =",
        "calc.py::total::drop-stmt::s += x => pass",
        "calc.py::total::constant::0 => 1",
        "calc.py::norm::drop-sqrt::math.sqrt(sum(x * x for x in v)) => "
        "sum(x * x for x in v)",
        "calc.py::pick::drop-stmt::t.sort() => pass",
        "calc.py::pick::axis::1 => 0",
        "calc.py::pick::drop-.T::t.sum(dim=1).T => t.sum(dim=1)",
        "calc.py::bigger::compare::> => >=",
        "calc.py::bigger::compare::> => <",
    ]:
        assert key in found, sorted(found)


def test_docstrings_imports_reprs_and_the_main_block_are_left_alone(tmp_path):
    lab = make_lab(tmp_path)
    for m in mutate.generate(lab):
        assert "Box" not in m.scope and "print" not in m.old
        assert m.line < SOURCE.splitlines().index('if __name__ == "__main__":') + 1
        assert '"""' not in m.old and "import" not in m.old


def test_swapped_arguments_are_generated_for_distinct_arguments(tmp_path):
    lab = make_lab(tmp_path, source="def f(g, a, b):\n    return g(a, b) + g(a, a)\n")
    swaps = [m.key for m in mutate.generate(lab) if m.op == "swap-args"]
    assert swaps == ["calc.py::f::swap-args::a, b => b, a"]


def test_keys_do_not_depend_on_line_numbers(tmp_path):
    moved = SOURCE.replace("import math\n", "import math\n\n# a comment\nX = 1\n\n")
    before = keys(make_lab(tmp_path / "a"))
    after = keys(make_lab(tmp_path / "b", source=moved))
    assert before <= after


def test_identical_sites_get_numbered_keys(tmp_path):
    lab = make_lab(tmp_path, source="def f(x):\n    return x + 1 + 1\n")
    found = keys(lab)
    assert "calc.py::f::constant::1 => 2" in found
    assert "calc.py::f::constant::1 => 2#2" in found


def test_the_sample_is_deterministic_for_a_seed(tmp_path):
    everything = mutate.generate(make_lab(tmp_path))
    a = mutate.choose(everything, 8, seed=3)
    assert a == mutate.choose(everything, 8, seed=3)
    assert a != mutate.choose(everything, 8, seed=4)
    assert len(a) == 8 and mutate.choose(everything, 0, seed=3) == everything


def test_a_mutant_that_does_not_parse_or_parses_the_same_is_not_run():
    text = "def f(x):\n    return x+1\n"
    at = text.index("x+1")
    same = mutate.Mutant("f.py", "f", "binop", "x+1", "x + 1", 1, 2, at, at + 3)
    broken = mutate.Mutant("f.py", "f", "binop", "+", "+)", 1, 2, at + 1, at + 2)
    assert same.apply(text) == "def f(x):\n    return x + 1\n"
    assert mutate._static_verdict(same, text) == mutate.EQUIVALENT
    assert mutate._static_verdict(broken, text) == mutate.INVALID


def test_a_malformed_equivalents_file_is_a_clear_error(tmp_path):
    lab = make_lab(tmp_path, equivalent="format_version: 1\nequivalent:\n  - why: x\n")
    with pytest.raises(UsageError) as err:
        mutate.load_equivalents(lab)
    assert "needs 'mutant'" in err.value.message
    assert "labpath dev mutate calc --json" in err.value.hint


def test_every_shipped_equivalent_mutant_is_still_generated():
    for lab_id in labs.available():
        lab = labs.load(lab_id)
        generated = mutate.generate(lab)
        for eq in mutate.load_equivalents(lab):
            assert any(eq.covers(m) for m in generated), f"{lab_id}: stale {eq.key}"


def test_a_function_outside_the_contract_covers_every_mutant_in_it(tmp_path):
    lab = make_lab(
        tmp_path,
        equivalent="format_version: 1\noutside:\n"
        "  - scope: 'calc.py::total'\n    why: a helper the lab gives\n",
    )
    (outside,) = mutate.load_equivalents(lab)
    covered = {m.scope for m in mutate.generate(lab) if outside.covers(m)}
    assert covered == {"total"}


def test_mutants_run_through_the_checks_and_survivors_show_their_diff(tmp_path, capsys):
    source = (
        "def add(a, b):\n    return a + b\n\n\ndef scale(x, k=2):\n    return x * k\n"
    )
    equivalent = (
        "format_version: 1\nequivalent:\n"
        "  - mutant: 'calc.py::scale::binop::* => /'\n"
        "    why: scale is outside this lab's contract\n"
    )
    checks = CHECK.split("def test_total")[0]
    lab = make_lab(tmp_path, source=source, checks=checks, equivalent=equivalent)
    report = mutate.mutate_lab(lab, sample=None, seed=0, budget=300, jobs=2)
    by_key = {r.mutant.key: r for r in report.results}
    assert by_key["calc.py::add::binop::+ => -"].outcome == mutate.KILLED
    assert by_key["calc.py::add::binop::+ => -"].detail == "test_add"
    eq = by_key["calc.py::scale::binop::* => /"]
    assert eq.outcome == mutate.EQUIVALENT and "outside" in eq.why
    survivor = by_key["calc.py::scale::constant::2 => 3"]
    assert survivor.outcome == mutate.SURVIVED
    assert "-def scale(x, k=2):\n+def scale(x, k=3):" in survivor.diff
    assert report.scored == report.count(mutate.KILLED) + len(report.survivors)
    data = mutate.as_data(report)
    assert data["counts"]["equivalent"] == 1
    assert data["score"] == round(report.score, 1) < 100
    from labpath import ui

    ui.mutation_report(report)
    shown = capsys.readouterr().out
    assert "survived calc.py::scale::constant::2 => 3" in shown
    assert "+def scale(x, k=3):" in shown
    assert "(scale is outside this lab's contract)" in shown
    assert f"{report.detected}/{report.scored} non-equivalent mutants caught" in shown


def test_a_mutant_that_loops_forever_times_out(tmp_path):
    source = "def add(a, b):\n    while a > 0 - 1:\n        a = a\n    return a + b\n"
    checks = CHECK.split("def test_total")[0]
    lab = make_lab(tmp_path, source=source, checks=checks)
    lab = labs.Lab(**{**lab.__dict__, "time_limit": 8})
    # The solution itself loops for a > -1, so build the lab from a correct copy.
    (tmp_path / "solution" / "calc.py").write_text(
        "def add(a, b):\n    while a < 0 - 1e9:\n        a = a\n    return a + b\n"
    )
    report = mutate.mutate_lab(lab, sample=None, seed=0, budget=120, jobs=2, timeout=4)
    outcomes = {r.mutant.key: r.outcome for r in report.results}
    assert outcomes["calc.py::add::compare::< => >"] == mutate.TIMED_OUT


def test_a_lab_whose_solution_fails_cannot_be_mutated(tmp_path):
    checks = CHECK.split("def test_total")[0]
    lab = make_lab(tmp_path, source="def add(a, b):\n    return a - b\n", checks=checks)
    with pytest.raises(UsageError) as err:
        mutate.mutate_lab(lab, sample=None, budget=60)
    assert "does not pass its checks" in err.value.message


def test_cli_rejects_bad_arguments(cli):
    result = cli("dev", "mutate", "micrograd", "--sample", "-1")
    assert result.exit_code == 2, result.output
    assert "Error:" in result.stderr and "cannot be negative" in result.stderr
    assert "Hint: labpath dev mutate micrograd" in result.stderr
    result = cli("dev", "mutate", "micrograd", "--jobs", "0")
    assert result.exit_code == 2, result.output
    result = cli("dev", "mutate", "micrograd", "--match", "no such text")
    assert result.exit_code == 2 and "no mutant's key contains" in result.stderr
    result = cli("dev", "mutate", "nosuchlab")
    assert result.exit_code == 2 and "no lab 'nosuchlab'" in result.stderr


@pytest.mark.torch
@pytest.mark.slow
def test_cli_runs_a_real_lab_and_prints_json(cli):
    result = cli("dev", "mutate", "micrograd", "--sample", "6", "--seed", "2", "--json")
    assert result.exit_code in (0, 1), result.output
    data = json.loads(result.stdout)
    assert data["lab"] == "micrograd" and data["sample"] == 6
    assert sum(data["counts"].values()) == 6
    assert all(m["key"].startswith("engine.py::") for m in data["mutants"])
