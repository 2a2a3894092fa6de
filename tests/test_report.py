"""Reports: the figures from data, the Markdown report with its PNGs, a lab's post draft."""

import datetime as dt
import json

from labpath import progress, report
from labpath.timelog import Session

from .conftest import git

D = dt.date


def test_figures_from_data():
    weeks = report.weeks_between(D(2026, 11, 4), D(2026, 11, 18))
    assert weeks == [D(2026, 11, 2), D(2026, 11, 9), D(2026, 11, 16)]
    s = [
        Session(
            "a", "sprint", "2026-11-10T07:00:00+00:00", "2026-11-10T07:30:00+00:00", 30
        ),
        Session(
            "b", "manual", "2026-11-17T07:00:00+00:00", "2026-11-17T09:00:00+00:00", 120
        ),
    ]
    assert report.hours_per_week(s, weeks) == [0, 0.5, 2.0]
    events = [
        {
            "event": "check",
            "task": "mlp",
            "lab": "mlp",
            "status": "failed",
            "at": "2026-11-10T07:00:00+00:00",
        },
        {
            "event": "check",
            "task": "mlp",
            "lab": "mlp",
            "status": "passed",
            "at": "2026-11-11T07:00:00+00:00",
        },
        {"event": "done", "task": "mlp", "at": "2026-11-11T07:00:00+00:00"},
        {
            "event": "check",
            "task": "mlp",
            "lab": "mlp",
            "status": "passed",
            "at": "2026-11-12T07:00:00+00:00",
        },
        {
            "event": "check",
            "task": "bigram",
            "lab": "bigram",
            "status": "failed",
            "at": "2026-11-12T08:00:00+00:00",
        },
    ]
    assert report.attempts_until_pass(events) == {
        "mlp": (2, True),
        "bigram": (1, False),
    }
    assert report.completions(events) == [(D(2026, 11, 11), "mlp")]


def test_report_writes_markdown_and_four_plots(cli, ws, tmp_path):
    assert cli("init", ws).exit_code == 0
    assert cli("time", "add", "2h").exit_code == 0
    assert cli("log", "Residual paths carry gradients", "--star").exit_code == 0
    out = tmp_path / "month"
    r = cli("report", "--since", "last month", "--out", out, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["entries"] == 1 and data["minutes"] == 120
    md = (out / "report.md").read_text()
    assert "Residual paths carry gradients** ★" in md and "2.0 h over" in md
    for name in (
        "hours-per-week",
        "tasks-completed",
        "check-attempts",
        "journal-entries",
    ):
        png = out / f"{name}.png"
        assert png.read_bytes()[:4] == b"\x89PNG" and f"({name}.png)" in md


def test_lab_post_draft_from_entries_checks_and_plots(cli, ws):
    assert cli("init", ws).exit_code == 0
    assert cli("next").exit_code == 0
    plot = ws / ".labpath" / "artifacts" / "micrograd" / "20261129T070000" / "grads.png"
    plot.parent.mkdir(parents=True)
    plot.write_bytes(b"\x89PNG fake")
    prog = ws / ".labpath" / "progress.jsonl"
    progress.record(
        prog,
        "check",
        "micrograd",
        lab="micrograd",
        status="failed",
        passed=3,
        total=20,
        plots=[str(plot.relative_to(ws))],
    )
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "check")
    assert (
        cli("log", "Gradients accumulate\n\nUse += in every backward.").exit_code == 0
    )
    progress.record(
        prog,
        "check",
        "micrograd",
        lab="micrograd",
        status="passed",
        passed=20,
        total=20,
    )
    r = cli("report", "--lab", "micrograd")
    assert r.exit_code == 0, r.output
    post = (ws / "reports" / "micrograd-post" / "post.md").read_text()
    assert post.startswith("# A scalar autograd engine")
    assert (
        "first pass on attempt 2" in post and "| 1 |" in post and "failed 3/20" in post
    )
    assert "### Gradients accumulate" in post and "Use += in every backward." in post
    assert "(20261129T070000-grads.png)" in post
    assert (ws / "reports" / "micrograd-post" / "check-history.png").exists()
    assert "Questions I can now answer" in post


def test_report_errors(cli, ws, tmp_path):
    assert cli("init", ws).exit_code == 0
    r = cli("report", "--lab", "microgad")
    assert r.exit_code == 2, r.output
    assert "did you mean 'micrograd'" in r.stderr
    r = cli("report", "--lab", "mlp")
    assert r.exit_code == 2, r.output
    assert "nothing to write about" in r.stderr
    f = tmp_path / "afile"
    f.write_text("x")
    r = cli("report", "--out", f)
    assert r.exit_code == 2, r.output
    r = cli("report", "--since", "tomorrowish")
    assert r.exit_code == 2, r.output
    r = cli("report", "--lab", "micrograd", "--since", "today")
    assert r.exit_code == 2, r.output


def test_each_plot_fits_its_data_and_counts_no_week_before_the_start(cli, ws):
    from labpath import curriculum, timelog, workspace

    assert cli("init", ws).exit_code == 0
    settings = ws / "labpath.yaml"
    settings.write_text(
        settings.read_text().replace(
            settings.read_text().split("start_date: ")[1].split("\n")[0], "2026-11-18"
        )
    )
    log = ws / ".labpath" / "time.jsonl"
    for sid, day, minutes in (("a", "2026-11-10", 300), ("b", "2026-11-19", 360)):
        log.open("a").write(
            json.dumps(
                {
                    "id": sid,
                    "kind": "manual",
                    "start": f"{day}T08:00:00+00:00",
                    "end": f"{day}T14:00:00+00:00",
                    "minutes": minutes,
                }
            )
            + "\n"
        )
    prog = ws / ".labpath" / "progress.jsonl"
    for task, at in (("mlp", "09:00"), ("bigram", "11:00"), ("micrograd", "15:30")):
        prog.open("a").write(
            json.dumps(
                {"at": f"2026-11-20T{at}:00+00:00", "event": "done", "task": task}
            )
            + "\n"
        )
    now = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)
    ws_obj = workspace.open_workspace(str(ws))
    out = ws / "r"
    r = report.progress_report(ws_obj, curriculum.load(), out=str(out), now=now)
    md = r.path.read_text()
    start, end = now - dt.timedelta(days=30), now
    sessions = timelog.in_range(timelog.read(log), start, end)
    fig = report.figures(ws_obj, progress.read_events(prog), sessions, [], start, end)
    assert fig.weeks == (D(2026, 11, 16), D(2026, 11, 23))  # not the weeks of October
    assert fig.hours == (6.0, 0.0) and fig.met == 1
    assert "over 2 week(s)" in md and "met in 1 of 2 weeks" in md
    assert [t for _, t in fig.done] == ["mlp", "bigram", "micrograd"]  # by time
    assert md.index("**mlp**") < md.index("**bigram**") < md.index("**micrograd**")
    hours, done, _, entries = report.render(fig, (5, 10), 46, out)
    assert hours.labels == entries.labels == ("11-16", "11-23")
    lo, hi = done.xlim
    first, last = (
        w.astimezone().replace(tzinfo=None) for w in (fig.done[0][0], fig.done[-1][0])
    )
    assert first - dt.timedelta(
        hours=12
    ) <= lo < first and last < hi <= last + dt.timedelta(hours=12)


def test_lab_post_shows_each_entrys_plots_once_under_that_entry(cli, ws):
    assert cli("init", ws).exit_code == 0
    assert cli("next").exit_code == 0
    prog = ws / ".labpath" / "progress.jsonl"
    for n, status in ((1, "failed"), (2, "failed")):
        plot = (
            ws
            / ".labpath"
            / "artifacts"
            / "micrograd"
            / f"2026112{n}T070000"
            / "grads.png"
        )
        plot.parent.mkdir(parents=True)
        plot.write_bytes(b"\x89PNG fake")
        progress.record(
            prog,
            "check",
            "micrograd",
            lab="micrograd",
            status=status,
            passed=n,
            total=20,
            plots=[str(plot.relative_to(ws))],
        )
        git(ws, "add", "-A")
        git(ws, "commit", "-qm", f"check {n}")
        assert cli("log", f"Entry {n}\n\nbody {n}").exit_code == 0
        assert cli("log", f"Again {n}\n\nsame check").exit_code == 0
    r = cli("report", "--lab", "micrograd")
    assert r.exit_code == 0, r.output
    post = (ws / "reports" / "micrograd-post" / "post.md").read_text()
    for n in (1, 2):
        image = f"(2026112{n}T070000-grads.png)"
        assert post.count(image) == 1, post
        assert (
            post.index(f"### Entry {n}")
            < post.index(image)
            < post.index(f"### Again {n}")
        )
