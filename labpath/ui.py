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
    lines = [
        f"[bold]labpath[/] · {escape(str(ctx.workspace.root))} · "
        f"{st.done}/{len(cur.tasks)} tasks done · {st.journal_entries} journal entries"
    ]
    width = max(len(t.id) for t in cur.tasks)
    for phase in cur.phases:
        lines.append(f"\n[bold]Phase {phase.number} · {escape(phase.title)}[/]")
        for week in phase.weeks:
            for t in week.tasks:
                s = ctx.state(t).status
                style = {"done": "green", "started": "yellow"}.get(s, "dim")
                mark = (
                    " [bold]← current[/]"
                    if st.current is not None and t.id == st.current.id
                    else ""
                )
                lines.append(
                    f"  week {week.number:>2}  {escape(t.id):<{width}}  {t.kind:<9}  "
                    f"[{style}]{s}[/]{mark}"
                )
    if st.current is not None:
        lines.append(f"\nCurrent: [bold]{escape(st.current.title)}[/] — labpath next")
    else:
        lines.append("\nEvery task is done.")
    # One print of the whole view: far cheaper than a Rich table per phase.
    out.print("\n".join(lines), no_wrap=True, overflow="ellipsis")


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
