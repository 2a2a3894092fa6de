"""Everything labpath prints: Rich rendering to stdout, messages to stderr, JSON."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, is_dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)

MARKS = {
    "passed": "[green]✓[/]",
    "failed": "[red]✗[/]",
    "not_started": "[yellow]…[/]",
    "skipped": "[dim]-[/]",
    "error": "[magenta]![/]",
}


def error(message: str, hint: str | None = None) -> None:
    err.print(f"[bold red]Error:[/] {escape(message)}")
    if hint:
        err.print(f"[bold]Hint:[/] {escape(hint)}")


def notice(message: str) -> None:
    err.print(escape(message), style="dim")


def warning(message: str) -> None:
    err.print(f"[yellow]Warning:[/] {escape(message)}")


def print_json(data) -> None:
    """Machine-readable output: one JSON document on stdout."""
    sys.stdout.write(json.dumps(_plain(data), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _plain(data):
    if is_dataclass(data) and not isinstance(data, type):
        return _plain(asdict(data))
    if isinstance(data, dict):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_plain(v) for v in data]
    if isinstance(data, Path):
        return str(data)
    return data


# --- init / next / done ---------------------------------------------------------------


def init_done(result) -> None:
    if result.created:
        out.print(f"Created a labpath workspace at [bold]{escape(str(result.root))}[/]")
        out.print("Next: [bold]labpath next[/]")
    else:
        out.print(f"{escape(str(result.root))} is already a labpath workspace")


def task_card(card) -> None:
    t = card.task
    done, total = card.position
    out.print(
        f"[dim]Phase {card.phase.number} · {escape(card.phase.title)} · week {t.week} · "
        f"{done}/{total} tasks done[/]"
    )
    out.print(f"[bold]{escape(t.title)}[/]  [dim]({t.kind}: {t.id}, ~{t.hours:g} h)[/]")
    out.print(f"\n[bold]Goal[/]  {escape(t.goal)}")
    if t.steps:
        out.print("\n[bold]Steps[/]")
        for n, step in enumerate(t.steps, 1):
            out.print(f"  {n}. {escape(step)}")
    if t.deliverables:
        out.print("\n[bold]Deliverables[/]")
        for d in t.deliverables:
            out.print(f"  - {escape(d)}")
    if t.resources:
        out.print("\n[bold]Resources[/]")
        for r in t.resources:
            out.print(f"  - {escape(r.title)}: {escape(r.url)}")
    out.print()
    if card.lab_dir is not None:
        out.print(f"[bold]Your code[/]  {escape(str(card.lab_dir))}")
        for path in card.created:
            out.print(f"  [green]+[/] {escape(str(path))}")
    elif t.lab:
        out.print(
            f"[dim]Automated checks for '{t.lab}' arrive in a later labpath; "
            "until then, mark it done yourself.[/]"
        )
    out.print(f"[bold]When ready[/]  {escape(card.command)}")


def all_done(total: int) -> None:
    out.print(f"Every task of the plan is done ({total}/{total}). Well earned.")
    out.print("Re-check any lab with [bold]labpath check LAB[/].")


def card_json(card) -> dict:
    t = card.task
    return {
        "id": t.id,
        "title": t.title,
        "kind": t.kind,
        "phase": {
            "number": card.phase.number,
            "id": card.phase.id,
            "title": card.phase.title,
        },
        "week": t.week,
        "goal": t.goal,
        "steps": list(t.steps),
        "deliverables": list(t.deliverables),
        "resources": [{"title": r.title, "url": r.url} for r in t.resources],
        "hours": t.hours,
        "lab": t.lab,
        "checkable": card.lab_ready,
        "lab_dir": str(card.lab_dir) if card.lab_dir else None,
        "created": [str(p) for p in card.created],
        "status": card.state.status,
        "command": card.command,
        "progress": {"done": card.position[0], "total": card.position[1]},
    }


def done_result(result) -> None:
    if result.already:
        out.print(f"'{result.task.id}' was already done.")
    else:
        out.print(f"[green]Done:[/] {escape(result.task.title)} ({result.task.id})")
    if result.next is not None:
        out.print(f"Next: {escape(result.next.title)} — [bold]labpath next[/]")


# --- check ----------------------------------------------------------------------------

SUMMARY = {
    "passed": "[bold green]PASSED[/]",
    "failed": "[bold red]FAILED[/]",
    "not_started": "[bold yellow]NOT STARTED[/]",
    "timeout": "[bold red]TIMED OUT[/]",
    "crashed": "[bold red]CRASHED[/]",
    "harness_error": "[bold magenta]LABPATH ERROR[/]",
}


def check_report(outcome, verbose: bool = False) -> None:
    r = outcome.report
    out.print(
        f"[bold]{r.lab}[/] [dim]· {escape(r.target)} · seed {r.seed} · {r.duration:.1f}s[/]"
    )
    for res in r.results:
        mark = MARKS.get(res.outcome, "?")
        line = f" {mark} {res.name}" + (
            f" [dim]— {escape(res.doc)}[/]" if res.doc else ""
        )
        out.print(line, no_wrap=True, overflow="ellipsis")
        if res.outcome in ("failed", "error"):
            _failure_detail(res)
        elif res.outcome == "not_started":
            out.print(f"     [yellow]not started:[/] {escape(res.message or '')}")
        elif res.outcome == "skipped" and verbose:
            out.print(f"     [dim]{escape(res.message or '')}[/]")
    counts = (
        f"{r.passed}/{r.total} passed"
        + (f", {r.count('failed')} failed" if r.count("failed") else "")
        + (f", {r.count('not_started')} not started" if r.count("not_started") else "")
        + (f", {r.count('skipped')} skipped" if r.count("skipped") else "")
    )
    out.print(f"\n{SUMMARY.get(r.status, r.status)} {counts}")
    if r.message:
        out.print(escape(r.message))
    if r.status in ("crashed", "harness_error") and verbose and r.output:
        out.print(escape(r.output[-4000:]))
    artifacts = [a for res in r.results for a in res.artifacts]
    for a in artifacts:
        out.print(f"[dim]plot:[/] {escape(a)}")
    if r.status == "passed":
        if outcome.newly_done:
            out.print(
                f"Task '{outcome.task.id}' is done. Log what clicked: [bold]labpath log[/]"
            )
        if outcome.commit:
            out.print(f"[dim]Committed your code as {outcome.commit[:10]}[/]")
    elif r.status == "failed":
        first = next(x for x in r.results if x.outcome in ("failed", "error"))
        out.print(
            f"Start with {first.name}; rerun [bold]labpath check {r.lab}[/]"
            + (f" (same inputs: --seed {r.seed})" if r.seed is not None else "")
        )
        out.print(f"Stuck? [bold]labpath hint {r.lab}[/] reveals the next hint.")
    elif r.status == "not_started":
        first = next(x for x in r.results if x.outcome == "not_started")
        out.print(
            f"Begin where the first gap is: {escape(first.message or first.name)}"
        )


def _failure_detail(res) -> None:
    rows = []
    if res.what:
        rows.append(("compared", res.what))
    if res.yours is not None or res.expected is not None:
        rows.append(("yours", f"{res.yours}    expected {res.expected}"))
    if res.where:
        rows.append(("where", res.where))
    if res.message:
        rows.append(("error", res.message))
    if res.learner_location:
        rows.append(("in", res.learner_location))
    if res.diagnosis:
        rows.append(("diagnosis", res.diagnosis))
    if res.hint:
        rows.append(("hint", res.hint))
    if res.seed is not None:
        rows.append(("seed", str(res.seed)))
    for entry in res.table or []:
        rows.append(
            (
                "tensor",
                f"shape {tuple(entry.get('shape', ()))}: {entry.get('mismatched')} of "
                f"{entry.get('total')} differ, max abs err {entry.get('max_abs_err', 0):.3g}, "
                f"max rel err {entry.get('max_rel_err', 0):.3g}, worst at "
                f"{entry.get('worst_index')}",
            )
        )
    for key, value in rows:
        style = "bold" if key == "diagnosis" else "dim" if key == "seed" else ""
        text = escape(str(value))
        out.print(
            f"     [dim]{key:<9}[/] " + (f"[{style}]{text}[/]" if style else text)
        )


def check_json(outcome, exit_code: int) -> dict:
    r = outcome.report
    return {
        "lab": r.lab,
        "target": r.target,
        "status": r.status,
        "exit_code": exit_code,
        "passed": r.passed,
        "failed": r.count("failed"),
        "not_started": r.count("not_started"),
        "skipped": r.count("skipped"),
        "total": r.total,
        "duration": round(r.duration, 3),
        "seed": r.seed,
        "message": r.message,
        "task": outcome.task.id if outcome.task else None,
        "recorded": outcome.recorded,
        "newly_done": outcome.newly_done,
        "commit": outcome.commit,
        "results": [_plain(x) for x in r.results],
    }


# --- log / status -----------------------------------------------------------------------


def log_saved(result) -> None:
    e = result.entry
    where = f" · {e.task}" if e.task else ""
    out.print(f"Saved [bold]{escape(e.title)}[/]{escape(where)}")
    out.print(
        f"[dim]{escape(str(e.path))}"
        + (f" · commit {result.commit[:10]}" if result.commit else "")
        + "[/]"
    )


def status_view(st) -> None:
    ctx = st.context
    cur = ctx.curriculum
    out.print(
        f"[bold]labpath[/] · {escape(str(ctx.workspace.root))} · "
        f"{st.done}/{len(cur.tasks)} tasks done · {st.journal_entries} journal entries"
    )
    if st.pace is not None:
        pace_view(st.pace)
    lines = []
    width = max(len(t.id) for t in cur.tasks)
    for phase in cur.phases:
        lines.append(f"\n[bold]Phase {phase.number} · {escape(phase.title)}[/]")
        for week in phase.weeks:
            for t in week.tasks:
                s = ctx.state(t).status
                style = {"done": "green", "started": "yellow"}.get(s, "dim")
                current = st.current is not None and t.id == st.current.id
                mark = " [bold]← current[/]" if current else ""
                lines.append(
                    f"  week {week.number:>2}  {escape(t.id):<{width}}  {t.kind:<9}  "
                    f"[{style}]{s}[/]{mark}"
                )
    # One print of the whole table: far cheaper than a Rich table per phase.
    out.print("\n".join(lines), no_wrap=True, overflow="ellipsis")
    if st.current is not None:
        out.print(f"\nCurrent: [bold]{escape(st.current.title)}[/] — labpath next")
        for reason in st.pace.why if st.pace is not None else ():
            out.print(f"  [dim]because {escape(reason)}[/]")
    else:
        out.print("\nEvery task is done.")


def status_json(st) -> dict:
    ctx = st.context
    phases = []
    for phase in ctx.curriculum.phases:
        weeks = []
        for week in phase.weeks:
            tasks = []
            for t in week.tasks:
                s = ctx.state(t)
                tasks.append(
                    {
                        "id": t.id,
                        "title": t.title,
                        "kind": t.kind,
                        "lab": t.lab,
                        "status": s.status,
                        "started_at": s.started_at,
                        "done_at": s.done_at,
                        "checks": s.checks,
                    }
                )
            weeks.append({"number": week.number, "title": week.title, "tasks": tasks})
        phases.append(
            {
                "number": phase.number,
                "id": phase.id,
                "title": phase.title,
                "weeks": weeks,
            }
        )
    return {
        "workspace": str(ctx.workspace.root),
        "current": st.current.id if st.current else None,
        "done": st.done,
        "total": len(ctx.curriculum.tasks),
        "journal_entries": st.journal_entries,
        "pace": pace_json(st.pace) if st.pace is not None else None,
        "phases": phases,
    }


def dev_check(verdicts, extra) -> None:
    for v in verdicts:
        head = "[green]ok[/]" if v.ok else "[red]PROBLEMS[/]"
        out.print(f"[bold]{v.lab}[/] {head}")
        for f in v.findings:
            mark = "[green]✓[/]" if f.ok else "[red]✗[/]"
            secs = f" [dim]{f.seconds:.1f}s[/]" if f.seconds else ""
            out.print(f"  {mark} {escape(f.item)}: {escape(f.detail)}{secs}")
    for f in extra:
        if not f.ok:
            out.print(f"[red]✗[/] {escape(f.lab)}: {escape(f.detail)}")
    bad = sum(1 for v in verdicts if not v.ok) + sum(1 for f in extra if not f.ok)
    out.print("\nAll labs sound." if not bad else f"\n{bad} problem(s) found.")


def mutation_report(report) -> None:
    from labpath import mutate

    out.print(
        f"[bold]{report.lab}[/]: {report.sample} of {report.generated} mutants "
        f"(seed {report.seed}), {report.seconds:.0f}s of a {report.budget:g}s budget"
    )
    for r in report.results:
        if r.outcome == mutate.EQUIVALENT:
            out.print(f"  [dim]= {escape(r.mutant.key)} ({escape(r.why)})[/]")
        elif r.outcome in (mutate.SURVIVED, mutate.TIMED_OUT, mutate.NOT_RUN):
            colour = "red" if r.outcome == mutate.SURVIVED else "yellow"
            out.print(
                f"  [{colour}]{r.outcome}[/] {escape(r.mutant.key)} "
                f"[dim](line {r.mutant.line})[/]"
            )
            if r.outcome == mutate.SURVIVED:
                out.print(escape(r.diff.rstrip()), highlight=False)
    for key in report.unused_equivalents:
        out.print(f"  [yellow]stale[/] equivalent mutant not generated: {escape(key)}")
    counts = ", ".join(
        f"{report.count(k)} {k.replace('_', ' ')}"
        for k in mutate.OUTCOMES
        if report.count(k)
    )
    out.print(
        f"\n{report.detected}/{report.scored} non-equivalent mutants caught "
        f"({report.score:.1f}%): {counts}."
    )


# --- watch, hint, reset, solution, check --all, doctor ----------------------------------


def check_progress(lab: str):
    """A context manager yielding update(done, total) that draws a progress bar."""
    from contextlib import contextmanager

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    @contextmanager
    def bar():
        progress = Progress(
            TextColumn(f"checking {lab}"), BarColumn(), MofNCompleteColumn(),
            console=err, transient=True,
        )  # fmt: skip
        task = progress.add_task("checks", total=None)
        with progress:
            yield lambda done, total: progress.update(
                task, completed=done, total=total or None
            )

    return bar()


def watch_started(target, changed) -> None:
    if out.is_terminal:
        out.clear()
    if changed:
        out.print(f"[dim]changed: {escape(', '.join(changed))}[/]")


def watch_outcome(outcome, target) -> None:
    check_report(outcome)
    out.print(
        f"\n[dim]Watching {escape(str(target))} — save a file to re-check; Ctrl-C to stop.[/]"
    )


def hint_view(result) -> None:
    out.print(
        f"[bold]Hint {result.level}/{result.total}[/] ({result.name}) for {result.lab}:"
    )
    out.print(escape(result.text))
    if result.repeated:
        out.print("[dim]That was the last hint. After a pass: labpath solution[/]")
    elif result.level < result.total:
        out.print(f"[dim]Run labpath hint {result.lab} again for the next level.[/]")


def reset_done(result) -> None:
    out.print(
        f"Restored the starter of [bold]{result.lab}[/] in {escape(str(result.folder))}"
    )
    if result.saved:
        out.print(
            f"Your previous files are in commit {result.saved[:12]}. Get them back with:"
        )
        out.print(f"  {escape(result.restore_command)}")
    if result.untouched:
        out.print(
            f"[dim]Left your other uncommitted changes alone: {escape(', '.join(result.untouched))}[/]"
        )


def solution_view(result) -> None:
    if result.copied_to:
        out.print(
            f"Copied the {result.lab} solution to {escape(str(result.copied_to))}"
        )
        return
    from rich.syntax import Syntax

    if result.forced:
        err.print("[yellow]Shown before a pass (recorded).[/]")
    for name, text in result.files:
        out.print(f"[bold]{escape(name)}[/]")
        out.print(Syntax(text, "python", line_numbers=True, word_wrap=False))


def rechecking(lab: str) -> None:
    err.print(f"[dim]re-checking {lab}...[/]")


def recheck_table(rows) -> None:
    if not rows:
        out.print("No lab has passed yet, so there is nothing to re-check.")
        return
    for r in rows:
        mark = "[red]REGRESSED[/]" if r.regressed else "[green]still passing[/]"
        out.print(f"  {r.lab:<16} {r.now:<12} {r.passed}/{r.total}  {mark}")
    bad = [r.lab for r in rows if r.regressed]
    out.print(
        f"\n{len(bad)} regression(s): {', '.join(bad)}"
        if bad
        else "\nEvery passed lab still passes."
    )


def doctor_view(findings) -> None:
    for f in findings:
        mark = "[green]✓[/]" if f.ok else "[red]✗[/]"
        out.print(f"{mark} [bold]{escape(f.name)}[/]: {escape(f.detail)}")
        if f.fix and not f.ok:
            out.print(f"    fix: {escape(f.fix)}")
    bad = sum(1 for f in findings if not f.ok)
    out.print("\nAll good." if not bad else f"\n{bad} problem(s) found.")


# --- journal, sprints and time, pace, sync, reports, review ----------------------------------


def raw(text: str) -> None:
    """Text exactly as given (exports), without Rich markup or wrapping."""
    sys.stdout.write(text)
    sys.stdout.flush()


def _when(entry) -> str:
    return (entry.created or "")[:16].replace("T", " ")


def journal_list(entries, query=None) -> None:
    if not entries:
        out.print(
            "No entries match."
            if query and query != type(query)()
            else "The journal is empty."
        )
        err.print('Add one with [bold]labpath log "what clicked"[/]', style="dim")
        return
    for e in entries:
        star = "[yellow]★[/] " if e.starred else ""
        where = f" [dim]· {escape(e.lab or e.task)}[/]" if (e.lab or e.task) else ""
        tags = (
            f" [cyan]{escape(' '.join('#' + t for t in e.tags))}[/]" if e.tags else ""
        )
        out.print(
            f"[dim]{e.id[:12]}[/] {_when(e)} [magenta]{e.type:<7}[/] {star}"
            f"[bold]{escape(e.title)}[/]{where}{tags}"
        )
    err.print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}", style="dim")


def journal_show(entry, root=None) -> None:
    star = " [yellow]★[/]" if entry.starred else ""
    out.print(f"[bold]{escape(entry.title)}[/]{star}")
    meta = [_when(entry), entry.type]
    if entry.task:
        meta.append(f"phase {entry.phase} · week {entry.week} · {entry.task}")
    if entry.check:
        c = entry.check
        meta.append(f"check {c.get('status')} {c.get('passed')}/{c.get('total')}")
    if entry.commit:
        meta.append(f"code at {entry.commit[:10]}")
    out.print(f"[dim]{escape(' · '.join(str(m) for m in meta))}[/]")
    if entry.tags:
        out.print(f"[cyan]{escape(' '.join('#' + t for t in entry.tags))}[/]")
    out.print()
    out.print(escape(entry.body))
    for p in entry.plots:
        out.print(f"[dim]plot:[/] {escape(p)}")
    out.print(f"\n[dim]{entry.id} · {escape(str(entry.path))}[/]")


def journal_edited(result) -> None:
    if not result.changed:
        out.print(f"No changes to [bold]{escape(result.entry.title)}[/]")
        return
    star = " ★" if result.entry.starred else ""
    out.print(f"Saved [bold]{escape(result.entry.title)}[/]{star}")
    if result.commit:
        out.print(
            f"[dim]{escape(str(result.entry.path))} · commit {result.commit[:10]}[/]"
        )


def exported(path, text: str) -> None:
    out.print(f"Wrote {escape(str(path))} ({len(text.splitlines())} lines)")


def _hm(minutes: float) -> str:
    h, m = divmod(int(round(minutes)), 60)
    return f"{h}h{m:02d}m" if h else f"{m}m"


_BARS = " ▁▂▃▄▅▆▇█"


def _spark(values, top: float) -> str:
    top = max([top, *values, 1e-9])
    return "".join(_BARS[min(8, int(round(8 * v / top)))] for v in values)


def pace_view(p) -> None:
    """The pace block of `labpath status`: calendar, hours this week, streaks."""
    low, high = p.target_hours
    if p.current_week is None:
        where = "every task done"
    elif p.weeks_ahead > 0:
        where = f"[green]ahead by {p.weeks_ahead} week{'s' * (p.weeks_ahead != 1)}[/]"
    elif p.weeks_ahead < 0 or p.hours_behind > 0:
        n = -p.weeks_ahead
        weeks = f"{n} week{'s' * (n != 1)}" if n > 0 else "part of a week"
        where = f"[yellow]behind by {weeks}[/] ({p.hours_behind:g} h of earlier weeks' work left)"
    else:
        where = "[green]on track[/]"
    on = f", on week {p.current_week}'s tasks" if p.current_week else ""
    out.print(
        f"Plan week [bold]{p.plan_week}[/] (started {p.start_date}){on} · {where}"
    )
    pct = int(100 * p.week_minutes / (low * 60)) if low else 0
    mark = {"stretch": "[green]stretch met[/]", "met": "[green]target met[/]"}.get(
        p.week_state, f"{pct}% of {low:g} h"
    )
    spark = _spark([m for _, m in p.recent_weeks], low * 60)
    out.print(
        f"This week [bold]{_hm(p.week_minutes)}[/] of {low:g}-{high:g} h · {mark} · "
        f"last 8 weeks {spark}"
    )
    today = " (today done)" if p.today_counts else ""
    out.print(
        f"Streaks: [bold]{p.weekly_streak}[/] week{'s' * (p.weekly_streak != 1)} on target · "
        f"[bold]{p.daily_streak}[/] sprint day{'s' * (p.daily_streak != 1)}{today} · "
        f"{p.sprint_days_this_week}/7 sprint days this week"
    )


def pace_json(p) -> dict:
    data = _plain(p)
    data["schedule"] = p.schedule
    data["recent_weeks"] = [{"week": w, "minutes": m} for w, m in p.recent_weeks]
    return data


def interactive() -> bool:
    """Whether a person is at the terminal (both ends), so questions may be asked."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (ValueError, AttributeError):
        return False


def ask(question: str) -> str:
    """Ask one question on the terminal; an empty answer is ''."""
    err.print(f"[bold]{escape(question)}[/] ", end="")
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.strip()


class sprint_timer:
    """A Rich progress bar for the sprint; the timer itself lives in timelog."""

    def __init__(self, minutes: int, task: str | None):
        self.minutes = minutes
        self.task = task

    def __enter__(self):
        from rich.progress import BarColumn, Progress, TextColumn

        label = f"Sprint {self.minutes} min" + (f" · {self.task}" if self.task else "")
        self.progress = Progress(
            TextColumn(escape(label)), BarColumn(), TextColumn("{task.fields[clock]}"),
            console=err, transient=False,
        )  # fmt: skip
        self.progress.start()
        self.bar = self.progress.add_task(
            "sprint", total=self.minutes * 60, clock="0:00"
        )
        err.print("[dim]Ctrl-C stops early and keeps the minutes spent.[/]")
        return self.tick

    def tick(self, elapsed: float, total: float) -> None:
        left = max(0, int(total - elapsed))
        self.progress.update(
            self.bar, completed=elapsed, clock=f"{left // 60}:{left % 60:02d} left"
        )

    def __exit__(self, *exc):
        self.progress.stop()
        return False


def sprint_done(run, session) -> None:
    if session is None:
        out.print("Stopped within the first minute: nothing recorded.")
        return
    how = "Sprint done" if run.completed else "Sprint stopped"
    out.print(
        f"{how}: [bold]{run.minutes:g} min[/] recorded"
        + (f" on {escape(run.task)}" if run.task else "")
    )


def time_added(s) -> None:
    out.print(f"Recorded [bold]{s.minutes:g} min[/]" + (f" on {escape(s.task)}" if s.task else "")
              + f" [dim]ending {s.end[:16].replace('T', ' ')}[/]")  # fmt: skip


def skip_added(skip) -> None:
    out.print(f"{skip.date} is a rest day: it will not break your daily streak.")


def time_list(sessions, start, end) -> None:
    span = f"{start:%Y-%m-%d}" if start else "the beginning"
    span += f" to {end:%Y-%m-%d}" if end else " to now"
    if not sessions:
        out.print(f"No time recorded from {span}.")
        err.print(
            "Start one with [bold]labpath sprint[/] or add some: [bold]labpath time add 45m[/]",
            style="dim",
        )
        return
    from rich.table import Table

    table = Table(show_edge=False)
    for col in ("when", "min", "kind", "task", "note"):
        table.add_column(col, justify="right" if col == "min" else "left")
    for s in sessions:
        kind = s.kind + (" (stopped)" if s.interrupted else "")
        table.add_row(s.start[:16].replace("T", " "), f"{s.minutes:g}", kind,
                      escape(s.task or ""), escape(s.note or ""))  # fmt: skip
    out.print(table)
    out.print(f"Total [bold]{_hm(sum(s.minutes for s in sessions))}[/] from {span}")


def repaired(done) -> None:
    if not done:
        out.print("Every log reads cleanly; nothing to repair.")
        return
    for r in done:
        lines = ", ".join(str(n) for n, _ in r.bad_lines)
        out.print(f"Repaired [bold]{escape(str(r.path))}[/]: dropped corrupt line(s) {lines}"
                  + (f", restored {r.restored} from commit {r.from_commit[:10]}" if r.from_commit else ""))  # fmt: skip
        out.print(f"  [dim]the damaged file is kept as {escape(str(r.backup))}[/]")


def synced(r) -> None:
    where = f"{r.remote}/{r.branch}"
    if r.created_upstream:
        out.print(f"Pushed {r.pushed} commit(s) to a new branch {escape(where)}")
    elif r.pulled:
        out.print(f"Pulled {r.pulled} commit(s) from {escape(where)} (fast-forward)")
    elif r.pushed:
        out.print(f"Pushed {r.pushed} commit(s) to {escape(where)}")
    else:
        out.print(f"Up to date with {escape(where)}")


def report_written(r) -> None:
    out.print(f"Wrote [bold]{escape(str(r.path))}[/] with {len(r.plots)} plot(s)")
    out.print(f"[dim]{r.entries} journal entries · {r.minutes / 60:.1f} h logged[/]")


def review_list(due, total: int) -> None:
    if not due:
        if total:
            out.print(f"Nothing to review now ({total} card(s) scheduled). Well kept.")
        else:
            out.print(
                "No cards yet: aha entries and the questions of tasks you start become cards."
            )
            err.print('Log one: [bold]labpath log "what clicked"[/]', style="dim")
        return
    for d in due:
        when = "new" if d.due is None else f"due {d.due[:10]}"
        out.print(
            f"[dim]{when:>14}[/] [magenta]{d.card.kind:<8}[/] {escape(d.card.front)}"
        )
    err.print(f"{len(due)} card(s) to review · labpath review", style="dim")


def review_card(item, part: str) -> None:
    c = item.card
    if part == "front":
        label = "aha" if c.kind == "aha" else f"question · {c.task}"
        out.print(f"\n[dim]{escape(label)}[/]\n[bold]{escape(c.front)}[/]")
    elif part == "back":
        out.print(escape(c.back))
    elif part.startswith("next:"):
        out.print(f"[dim]next review {part[5:15]}[/]")


def review_done(result) -> None:
    n = len(result.reviewed)
    out.print(
        f"\nReviewed {n} card(s)"
        + (f"; {result.remaining} left for later" if result.remaining else ".")
    )


def journal_tags(counts) -> None:
    if not counts:
        out.print('No tags yet: labpath log "..." --tag TAG')
        return
    for tag, n in counts:
        out.print(f"{n:>5}  [cyan]#{escape(tag)}[/]")
