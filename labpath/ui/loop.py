"""How the plan looks: init, the task card, done, hint, reset, solution, status."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labpath.ui.console import err, escape, out, raw

if TYPE_CHECKING:
    from labpath.app.journal import LogResult
    from labpath.app.lab import HintResult, ResetResult, SolutionResult
    from labpath.app.tasks import CardResult, DoneResult, InitResult, Status, TaskCard


def init_done(result: InitResult) -> None:
    if result.created:
        out.print(f"Created a labpath workspace at [bold]{escape(str(result.root))}[/]")
        out.print("Next: [bold]labpath next[/]")
    else:
        out.print(f"{escape(str(result.root))} is already a labpath workspace")


def next_card(result: CardResult) -> None:
    if result.card is None:
        all_done(result.total)
    else:
        task_card(result.card)


def task_card(card: TaskCard) -> None:
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


def done_result(result: DoneResult) -> None:
    if result.already:
        out.print(f"'{result.task.id}' was already done.")
    else:
        out.print(f"[green]Done:[/] {escape(result.task.title)} ({result.task.id})")
    if result.next is not None:
        out.print(f"Next: {escape(result.next.title)} — [bold]labpath next[/]")


def log_saved(result: LogResult) -> None:
    e = result.entry
    where = f" · {e.task}" if e.task else ""
    out.print(f"Saved [bold]{escape(e.title)}[/]{escape(where)}")
    out.print(
        f"[dim]{escape(str(e.path))}"
        + (f" · commit {result.commit[:10]}" if result.commit else "")
        + "[/]"
    )


def status_view(st: Status) -> None:
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
    unshipped = 0
    for phase in cur.phases:
        lines.append(f"\n[bold]Phase {phase.number} · {escape(phase.title)}[/]")
        for week in phase.weeks:
            for t in week.tasks:
                s = ctx.state(t).status
                style = {"done": "green", "started": "yellow"}.get(s, "dim")
                current = st.current is not None and t.id == st.current.id
                mark = " [bold]← current[/]" if current else ""
                if t.lab and not st.checkable(t):
                    mark += " [dim](checks not in this labpath yet)[/]"
                    unshipped += 1
                lines.append(
                    f"  week {week.number:>2}  {escape(t.id):<{width}}  {t.kind:<9}  "
                    f"[{style}]{s}[/]{mark}"
                )
    # One print of the whole table: far cheaper than a Rich table per phase.
    out.print("\n".join(lines), no_wrap=True, overflow="ellipsis")
    if unshipped:
        out.print(
            f"\n[dim]{unshipped} lab task(s) have no checks in this labpath yet: "
            "finish them with labpath done TASK.[/]"
        )
    if st.current is not None:
        out.print(f"\nCurrent: [bold]{escape(st.current.title)}[/] — labpath next")
        for reason in st.pace.why if st.pace is not None else ():
            out.print(f"  [dim]because {escape(reason)}[/]")
    else:
        out.print("\nEvery task is done.")


def hint_view(result: HintResult) -> None:
    out.print(
        f"[bold]Hint {result.level}/{result.total}[/] ({result.name}) for {result.lab}:"
    )
    out.print(escape(result.text))
    if result.repeated:
        out.print("[dim]That was the last hint. After a pass: labpath solution[/]")
    elif result.level < result.total:
        out.print(f"[dim]Run labpath hint {result.lab} again for the next level.[/]")


def reset_done(result: ResetResult) -> None:
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


def _planted_view(result: SolutionResult) -> None:
    """The faults a lab hid in the learner's starter and their notes on it (to stderr,
    so `> file.py` still gets the solution alone)."""
    if result.planted:
        err.print(f"[bold]The {len(result.planted)} faults planted in your starter[/]")
        for i, summary in enumerate(result.planted, 1):
            err.print(f"  {i}. {escape(summary)}")
    if result.journal:
        err.print(f"[bold]Your journal entries on {result.lab}[/]")
        for created, title, path in result.journal:
            err.print(
                f"  {escape(created[:10])}  {escape(title)}  [dim]{escape(path)}[/]"
            )
    elif result.planted:
        err.print(
            f"[dim]No journal entry on {result.lab} yet: "
            f"labpath log --tag {result.lab} records what each symptom taught you.[/]"
        )
    err.print()


def solution_view(result: SolutionResult) -> None:
    if result.planted or result.journal:
        _planted_view(result)
    if result.copied_to:
        out.print(
            f"Copied the {result.lab} solution to {escape(str(result.copied_to))}"
        )
        return
    from rich.syntax import Syntax

    if result.forced:
        err.print("[yellow]Shown before a pass (recorded).[/]")
    # `> s.py` gives the file itself; several files get a header
    if not out.is_terminal:
        for name, text in result.files:
            raw(text if len(result.files) == 1 else f"# ==> {name} <==\n{text}")
        return
    for name, text in result.files:
        out.print(f"[bold]{escape(name)}[/]")
        out.print(Syntax(text, "python", line_numbers=True, word_wrap=False))


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
    if p.schedule == "done":
        where = "every task done"
    elif p.schedule == "ahead":
        where = f"[green]ahead by {p.weeks_ahead} week{'s' * (p.weeks_ahead != 1)}[/]"
    elif p.schedule == "behind":
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
