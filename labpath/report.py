"""Reports: a Markdown progress report with PNG plots, and a blog-post draft for one lab."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

from labpath import dates, journal
from labpath.errors import UsageError
from labpath.fsutil import atomic_write
from labpath.pace import monday
from labpath.timelog import Session


@dataclass(frozen=True)
class Report:
    path: Path  # the Markdown file
    plots: tuple[Path, ...]
    entries: int
    minutes: float


@dataclass(frozen=True)
class Plot:
    """A saved figure and what its axes show, read back from the axes themselves."""

    path: Path
    labels: tuple[str, ...] = ()  # the x tick labels of a bar chart
    xlim: tuple = ()  # the x range: dates for a time axis, else numbers


@dataclass(frozen=True)
class Figures:
    """The data behind the progress report's plots and figures."""

    weeks: tuple[dt.date, ...]  # Mondays from the later of the period and start_date
    hours: tuple[float, ...]
    entries: tuple[int, ...]
    done: tuple[tuple[dt.datetime, str], ...]  # each task's first completion, by time
    attempts: dict
    met: int  # weeks meeting the minimum target


# --- the figures, from data alone --------------------------------------------------------------


def _day(iso: str) -> dt.date:
    when = dt.datetime.fromisoformat(iso)
    return (when if when.tzinfo else when.astimezone()).astimezone().date()


def weeks_between(start: dt.date, end: dt.date) -> list[dt.date]:
    first, last = monday(start), monday(end)
    out = []
    while first <= last:
        out.append(first)
        first += dt.timedelta(days=7)
    return out


def hours_per_week(sessions: list[Session], weeks: list[dt.date]) -> list[float]:
    per = dict.fromkeys(weeks, 0.0)
    for s in sessions:
        w = monday(_day(s.end))
        if w in per:
            per[w] += s.minutes / 60
    return [round(per[w], 2) for w in weeks]


def entries_per_week(entries, weeks: list[dt.date]) -> list[int]:
    per = dict.fromkeys(weeks, 0)
    for e in entries:
        when = journal.created_at(e)
        if when and monday(when.date()) in per:
            per[monday(when.date())] += 1
    return [per[w] for w in weeks]


def completion_times(events: list[dict]) -> list[tuple[dt.datetime, str]]:
    """(when, task) for each task's first completion, in time order."""
    seen, out = set(), []
    for e in events:
        if e.get("event") == "done" and e["task"] not in seen and e.get("at"):
            try:
                when = dt.datetime.fromisoformat(e["at"])
            except (TypeError, ValueError):
                continue
            seen.add(e["task"])
            out.append(
                ((when if when.tzinfo else when.astimezone()).astimezone(), e["task"])
            )
    return sorted(out, key=lambda x: x[0])


def completions(events: list[dict]) -> list[tuple[dt.date, str]]:
    """(day, task) for each task's first completion, in time order."""
    return [(when.date(), task) for when, task in completion_times(events)]


def attempts_until_pass(events: list[dict]) -> dict[str, tuple[int, bool]]:
    """For each lab: check runs up to and including the first pass, and whether it passed."""
    out: dict[str, tuple[int, bool]] = {}
    for e in events:
        if e.get("event") != "check":
            continue
        lab = e.get("lab") or e["task"]
        n, passed = out.get(lab, (0, False))
        if passed:
            continue
        out[lab] = (n + 1, e.get("status") == "passed")
    return out


def in_period(events: list[dict], since: dt.datetime | None, until: dt.datetime | None):
    out = []
    for e in events:
        try:
            when = dt.datetime.fromisoformat(e.get("at", ""))
        except ValueError:
            continue
        when = when if when.tzinfo else when.astimezone()
        if (since is None or when >= since) and (until is None or when <= until):
            out.append(e)
    return out


# --- plots ---------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    import io

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, dpi=110, format="png")
    atomic_write(path, buf.getvalue())
    return path


def _bars(ax, path: Path) -> Plot:
    return Plot(path, tuple(t.get_text() for t in ax.get_xticklabels()), ax.get_xlim())


def plot_hours(weeks, hours, target, path: Path) -> Plot:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    labels = [w.strftime("%m-%d") for w in weeks]
    low, high = target
    colors = ["#2e7d32" if h >= low else "#9e9e9e" for h in hours]
    ax.bar(labels, hours, color=colors)
    ax.axhspan(
        low, high, color="#a5d6a7", alpha=0.3, label=f"target {low:g}-{high:g} h"
    )
    ax.set_ylabel("hours")
    ax.set_title("Hours per week")
    ax.legend(loc="upper left", fontsize=8)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    plot = _bars(ax, _save(fig, path))
    plt.close(fig)
    return plot


def plot_completions(done, total: int, path: Path) -> Plot:
    """done: (when, task) in time order; the x axis spans them with a little margin."""
    import matplotlib.dates as mdates

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    xlim: tuple = ()
    if done:
        times = [w.replace(tzinfo=None) for w, _ in done]  # local wall-clock times
        ax.step(times, list(range(1, len(done) + 1)), where="post", marker="o")
        for n, (when, task) in enumerate(zip(times, (t for _, t in done)), 1):
            ax.annotate(
                task, (when, n), fontsize=7, xytext=(3, 3), textcoords="offset points"
            )
        span = times[-1] - times[0]
        pad = max(span * 0.05, dt.timedelta(hours=6))
        ax.set_xlim(times[0] - pad, times[-1] + pad)
        locator = mdates.AutoDateLocator(maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.set_ylim(0, len(done) + 0.5)
        lo, hi = ax.get_xlim()
        xlim = (
            mdates.num2date(lo).replace(tzinfo=None),
            mdates.num2date(hi).replace(tzinfo=None),
        )
    else:
        ax.text(0.5, 0.5, "no task completed yet", ha="center", transform=ax.transAxes)
    ax.set_ylabel(f"tasks done (of {total})")
    ax.set_title("Labs and tasks completed over time")
    plot = Plot(_save(fig, path), (), xlim)
    plt.close(fig)
    return plot


def plot_attempts(attempts: dict[str, tuple[int, bool]], path: Path) -> Plot:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    labs = list(attempts)
    if labs:
        counts = [attempts[lab][0] for lab in labs]
        colors = ["#2e7d32" if attempts[lab][1] else "#ef6c00" for lab in labs]
        ax.bar(labs, counts, color=colors)
        ax.set_ylabel("check runs")
    else:
        ax.text(0.5, 0.5, "no checks run yet", ha="center", transform=ax.transAxes)
    ax.set_title("Check attempts until the first pass (orange: not passed yet)")
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    plot = _bars(ax, _save(fig, path))
    plt.close(fig)
    return plot


def plot_entries(weeks, counts, path: Path) -> Plot:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.bar([w.strftime("%m-%d") for w in weeks], counts, color="#5c6bc0")
    ax.set_ylabel("entries")
    ax.set_title("Journal entries per week")
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    plot = _bars(ax, _save(fig, path))
    plt.close(fig)
    return plot


def plot_check_history(checks: list[dict], path: Path) -> Plot:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    xs = list(range(1, len(checks) + 1))
    ax.plot(xs, [c.get("passed", 0) for c in checks], marker="o", label="passed")
    ax.plot(
        xs,
        [c.get("total", 0) for c in checks],
        linestyle="--",
        color="#9e9e9e",
        label="total",
    )
    ax.set_xlabel("attempt")
    ax.set_ylabel("checks")
    ax.set_title("Checks passing, attempt by attempt")
    ax.legend(fontsize=8)
    if len(xs) > 1:
        ax.set_xlim(0.75, len(xs) + 0.25)
    ax.set_xticks(xs if len(xs) <= 20 else ax.get_xticks())
    plot = Plot(_save(fig, path), (), ax.get_xlim())
    plt.close(fig)
    return plot


# --- the documents -----------------------------------------------------------------------------


def _out_dir(ws, out: str | None, name: str) -> Path:
    folder = Path(out).expanduser().resolve() if out else ws.root / "reports" / name
    if folder.exists() and not folder.is_dir():
        raise UsageError(
            f"--out {out} is a file", hint="give a folder: --out reports/my-month"
        )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _without_title(body: str, title: str) -> str:
    text = body.strip()
    first, _, rest = text.partition("\n")
    return rest.strip() if first.strip().lstrip("#").strip() == title else text


def _excerpt(body: str, title: str, limit: int = 400) -> str:
    text = " ".join(_without_title(body, title).split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def progress_report(
    ws,
    curriculum,
    since: str | None = None,
    until: str | None = None,
    out: str | None = None,
    now: dt.datetime | None = None,
) -> Report:
    """The period's Markdown report with four plots: the start of the monthly post."""
    from labpath import progress, timelog

    now = now or dt.datetime.now().astimezone()
    start, end = dates.period(since, until, now, now - dt.timedelta(days=30), now)
    events = progress.read_events(ws.progress_file)
    log = timelog.read(timelog.time_file(ws))
    sessions = timelog.in_range(log, start, end)
    entries = journal.select(journal.entries(ws), journal.Query(since=start, until=end))
    fig = figures(ws, events, sessions, entries, start, end)
    weeks = list(fig.weeks)
    done_all = [(w.date(), t) for w, t in fig.done]
    done = [(d, t) for d, t in done_all if start.date() <= d <= end.date()]
    attempts = fig.attempts
    folder = _out_dir(ws, out, f"{end:%Y-%m-%d}")
    low, high = ws.settings.weekly_hours
    plots = tuple(
        p.path for p in render(fig, (low, high), len(curriculum.tasks), folder)
    )
    minutes = sum(s.minutes for s in sessions)
    met = fig.met
    ahas = [e for e in entries if e.type == "aha"]
    lines = [
        f"# Learning report: {start:%Y-%m-%d} to {end:%Y-%m-%d}",
        "",
        f"- **Time**: {minutes / 60:.1f} h over {len(weeks)} week(s), "
        f"{minutes / 60 / max(1, len(weeks)):.1f} h a week on average "
        f"(target {low:g}-{high:g} h; met in {met} of {len(weeks)} weeks)",
        f"- **Tasks completed**: {len(done)} in this period, {len(done_all)} of "
        f"{len(curriculum.tasks)} overall",
        f"- **Journal**: {len(entries)} entries, {len(ahas)} of them aha moments",
        "",
        "![Hours per week](hours-per-week.png)",
        "",
    ]
    if done:
        lines += ["## Completed", ""]
        for day, task in done:
            n, _ = attempts.get(_lab_of(curriculum, task) or task, (0, False))
            tries = f" after {n} check run(s)" if n else ""
            lines.append(f"- {day:%Y-%m-%d} **{task}**{tries}")
        lines.append("")
    lines += [
        "![Tasks completed](tasks-completed.png)",
        "",
        "![Check attempts until pass](check-attempts.png)",
        "",
    ]
    lines += ["## What clicked", ""]
    if ahas:
        for e in sorted(ahas, key=lambda e: e.created):
            star = " ★" if e.starred else ""
            where = f" ({e.lab or e.task})" if (e.lab or e.task) else ""
            text = _excerpt(e.body, e.title, 200)
            lines.append(
                f"- **{e.title}**{star}{where}" + (f": {text}" if text else "")
            )
    else:
        lines.append('*No aha entries in this period: `labpath log "what clicked"`.*')
    lines += ["", "![Journal entries per week](journal-entries.png)", ""]
    path = folder / "report.md"
    atomic_write(path, "\n".join(lines))
    return Report(path, plots, len(entries), minutes)


def figures(
    ws, events, sessions, entries, start: dt.datetime, end: dt.datetime
) -> Figures:
    """The numbers behind each plot; weeks before the workspace's start_date are not shown."""
    first = max(start.date(), dt.date.fromisoformat(ws.settings.start_date))
    weeks = weeks_between(first, end.date()) if first <= end.date() else []
    hours = hours_per_week(sessions, weeks)
    low = ws.settings.weekly_hours[0]
    return Figures(
        weeks=tuple(weeks),
        hours=tuple(hours),
        entries=tuple(entries_per_week(entries, weeks)),
        done=tuple(completion_times(events)),
        attempts=attempts_until_pass(events),
        met=sum(1 for h in hours if h >= low),
    )


def render(fig: Figures, target, total: int, folder: Path) -> tuple[Plot, ...]:
    """Draw the report's four plots from its figures."""
    return (
        plot_hours(fig.weeks, fig.hours, target, folder / "hours-per-week.png"),
        plot_completions(fig.done, total, folder / "tasks-completed.png"),
        plot_attempts(fig.attempts, folder / "check-attempts.png"),
        plot_entries(fig.weeks, fig.entries, folder / "journal-entries.png"),
    )


def _lab_of(curriculum, task_id: str) -> str | None:
    for t in curriculum.tasks:
        if t.id == task_id:
            return t.lab
    return None


def _planted_section(ws, lab_id: str, passed: bool) -> list[str]:
    """For a lab that hid faults, once passed: what was planted (never before)."""
    from labpath import labs, planted

    if not passed or not labs.exists(lab_id) or not labs.load(lab_id).planted:
        return []
    plant = planted.read_state(ws.lab_dir(lab_id))
    if plant is None:
        return []
    chosen, _ = planted.draw(labs.load(lab_id), plant)
    lines = [f"## The {len(chosen)} faults I found", ""]
    lines += [f"{n}. {b.summary}" for n, b in enumerate(chosen, 1)]
    return lines + [""]


def lab_post(
    ws, curriculum, lab: str, out: str | None = None, now: dt.datetime | None = None
) -> Report:
    """A blog-post draft for one lab from its journal entries, check history and plots."""
    from labpath import progress, timelog
    from labpath.errors import did_you_mean

    task = curriculum.task_for_lab(lab)
    if task is None:
        known = sorted({t.lab for t in curriculum.tasks if t.lab})
        raise UsageError(
            f"no lab '{lab}' in the curriculum",
            hint=did_you_mean(lab, known) or f"labs: {', '.join(known)}",
        )
    now = now or dt.datetime.now().astimezone()
    events = progress.read_events(ws.progress_file)
    checks = [
        e
        for e in events
        if e.get("event") == "check" and (e.get("lab") or e["task"]) == lab
    ]
    entries = sorted(  # the id breaks ties between entries of the same second
        (e for e in journal.entries(ws) if e.lab == lab or lab in e.tags),
        key=lambda e: (e.created, e.id),
    )
    log = timelog.read(timelog.time_file(ws))
    minutes = sum(s.minutes for s in log.sessions if s.task == task.id)
    if not entries and not checks:
        raise UsageError(
            f"nothing to write about '{lab}' yet: no journal entries and no check runs",
            hint=f'run `labpath check {lab}` and log what you learn: labpath log --lab {lab} "..."',
        )
    folder = _out_dir(ws, out, f"{lab}-post")
    plots: list[Path] = []
    if checks:
        plots.append(plot_check_history(checks, folder / "check-history.png").path)
    images: list[str] = []
    own: dict[str, list[str]] = {}  # entry id -> its plots, each plot under one entry
    for e in entries:
        for p in e.plots:
            src = ws.root / p
            name = f"{Path(p).parent.name}-{Path(p).name}"
            if src.is_file() and name not in images:
                shutil.copyfile(src, folder / name)
                images.append(name)
                own.setdefault(e.id, []).append(name)
    first_pass = next((c for c in checks if c.get("status") == "passed"), None)
    attempts = checks.index(first_pass) + 1 if first_pass else len(checks)
    lines = [
        f"# {task.title}: what I learned building it from scratch",
        "",
        f"*Draft from labpath, {now:%Y-%m-%d}. Phase {task.phase}, week {task.week}.*",
        "",
        "## The goal",
        "",
        task.goal.strip(),
        "",
        "## How it went",
        "",
        f"- {minutes / 60:.1f} h logged on this task",
        f"- {len(checks)} check run(s)"
        + (
            f"; first pass on attempt {attempts} ({first_pass['at'][:10]})"
            if first_pass
            else "; not passing yet"
        ),
        f"- {len(entries)} journal entr{'y' if len(entries) == 1 else 'ies'}",
        "",
    ]
    if checks:
        lines += [
            "![Checks passing, attempt by attempt](check-history.png)",
            "",
            "| attempt | when | result |",
            "|---|---|---|",
        ]
        for n, c in enumerate(checks, 1):
            lines.append(
                f"| {n} | {str(c.get('at', ''))[:16].replace('T', ' ')} | "
                f"{c.get('status')} {c.get('passed')}/{c.get('total')} |"
            )
        lines.append("")
    lines += _planted_section(ws, lab, first_pass is not None)
    lines += ["## What clicked, in order", ""]
    for e in entries:
        when = journal.created_at(e)
        lines += [f"### {e.title}", "", f"*{when:%Y-%m-%d}*" if when else "", ""]
        body = _without_title(e.body, e.title)
        if body:
            lines += [body, ""]
        for name in own.get(e.id, ()):
            lines += [f"![{name}]({name})", ""]
    if not entries:
        lines += [f'*No entries yet: labpath log --lab {lab} "what clicked"*', ""]
    if task.questions:
        lines += ["## Questions I can now answer", ""]
        lines += [f"- {q}" for q in task.questions] + [""]
    path = folder / "post.md"
    atomic_write(path, "\n".join(lines))
    return Report(
        path, tuple(plots) + tuple(folder / n for n in images), len(entries), minutes
    )
