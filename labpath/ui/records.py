"""How the journal, time, repairs, sync, reports, review, doctor and dev tools look."""

from __future__ import annotations

from labpath.app import admin
from labpath.app.journal import EntryList
from labpath.ui.console import ask, err, escape, out
from labpath.ui.loop import _hm


def _when(entry) -> str:
    return (entry.created or "")[:16].replace("T", " ")


def journal_list(result: EntryList) -> None:
    entries = result.entries
    if not entries:
        out.print("No entries match." if result.filtered else "The journal is empty.")
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


def journal_tags(counts) -> None:
    if not counts:
        out.print('No tags yet: labpath log "..." --tag TAG')
        return
    for tag, n in counts:
        out.print(f"{n:>5}  [cyan]#{escape(tag)}[/]")


class sprint_timer:
    """A Rich progress bar for the sprint; the timer itself lives in timelog."""

    def __init__(self, minutes: int, task: str | None):
        self.minutes = minutes
        self.task = task

    def __enter__(self):
        from rich.progress import BarColumn, Progress, TextColumn

        label = f"Sprint {self.minutes} min" + (f" · {self.task}" if self.task else "")
        self.progress = Progress(
            TextColumn(escape(label)),
            BarColumn(),
            TextColumn("{task.fields[clock]}"),
            console=err.rich,
            transient=False,
        )
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
    out.print(
        f"Recorded [bold]{s.minutes:g} min[/]"
        + (f" on {escape(s.task)}" if s.task else "")
        + f" [dim]ending {s.end[:16].replace('T', ' ')}[/]"
    )


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
        table.add_row(
            s.start[:16].replace("T", " "),
            f"{s.minutes:g}",
            kind,
            escape(s.task or ""),
            escape(s.note or ""),
        )
    out.print(table)
    out.print(f"Total [bold]{_hm(sum(s.minutes for s in sessions))}[/] from {span}")


def repaired(done) -> None:
    if not done:
        out.print("Every log reads cleanly; nothing to repair.")
        return
    for r in done:
        lines = ", ".join(str(n) for n, _ in r.bad_lines)
        out.print(
            f"Repaired [bold]{escape(str(r.path))}[/]: dropped corrupt line(s) {lines}"
            + (
                f", restored {r.restored} from commit {r.from_commit[:10]}"
                if r.from_commit
                else ""
            )
        )
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
                "No cards yet: aha entries, the questions of tasks you start and "
                "the mistakes your checks name become cards."
            )
            err.print('Log one: [bold]labpath log "what clicked"[/]', style="dim")
        return
    for d in due:
        when = "new" if d.due is None else f"due {d.due[:10]}"
        out.print(
            f"[dim]{when:>14}[/] [magenta]{d.card.kind:<8}[/] {escape(d.card.front)}"
        )
    err.print(f"{len(due)} card(s) to review · labpath review", style="dim")


def review_show(event) -> None:
    """One step of a review session: a card's front, its back, its next date."""
    c = event.item.card
    if isinstance(event, admin.Front):
        label = c.kind if c.kind == "aha" or not c.task else f"{c.kind} · {c.task}"
        out.print(f"\n[dim]{escape(label)}[/]\n[bold]{escape(c.front)}[/]")
    elif isinstance(event, admin.Back):
        out.print(escape(c.back))
    elif isinstance(event, admin.Scheduled):
        out.print(f"[dim]next review {event.due[:10]}[/]")


def review_ask(event) -> str:
    """The question after a card's front (reveal it?) or its back (how well?)."""
    if isinstance(event, admin.Front):
        return ask("Enter shows the answer (q stops)")
    return ask("How well did you recall it? 1 again, 2 hard, 3 good, 4 easy (q stops)")


def review_done(result) -> None:
    n = len(result.reviewed)
    out.print(
        f"\nReviewed {n} card(s)"
        + (f"; {result.remaining} left for later" if result.remaining else ".")
    )


def doctor_view(findings) -> None:
    for f in findings:
        mark = "[green]✓[/]" if f.ok else "[red]✗[/]"
        out.print(f"{mark} [bold]{escape(f.name)}[/]: {escape(f.detail)}")
        if f.fix and not f.ok:
            out.print(f"    fix: {escape(f.fix)}")
    bad = sum(1 for f in findings if not f.ok)
    out.print("\nAll good." if not bad else f"\n{bad} problem(s) found.")


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


def corpus_built(c) -> None:
    where = ", ".join(c.repos) or "the standard library"
    out.print(
        escape(
            f"{where}: {c.train_files} train / {c.val_files} val files "
            f"({c.duplicates} duplicates, {c.skipped} skipped); "
            f"{c.train_tokens:,} / {c.val_tokens:,} tokens, vocab {c.vocab_size} -> {c.out_dir}"
        )
    )


def record_written(r) -> None:
    labs = r.record["labs"]
    out.print(
        f"Wrote [bold]{escape(str(r.paths[1]))}[/] and record.json: "
        f"{len(labs)} lab(s) passed"
    )
    for c in labs:
        commit = c["commit"][:10] if c["commit"] else "code not committed"
        out.print(
            f"  [green]✓[/] {escape(c['lab'])} [dim]{commit}[/] "
            f"{c['passed']}/{c['total']} checks, seed {c['seed']}"
        )
    if r.commit:
        out.print(f"[dim]commit {r.commit[:10]} · {escape(r.signing)}[/]")
    else:
        out.print(f"[dim]{escape(r.signing)}[/]")
    err.print(
        "Share it: [bold]git bundle create labpath.bundle --all[/], then anyone runs "
        "[bold]labpath verify labpath.bundle[/]",
        style="dim",
    )


def verifying(lab: str) -> None:
    err.print(f"Checking {escape(lab)} ...", style="dim")


_SHORT = {
    "failed": "fails now",
    "not_started": "fails now",
    "unchecked": "not checked",
}


def verify_table(r) -> None:
    from rich.table import Table

    out.print(
        f"Record of {escape(r.source)} at [bold]{r.head[:10]}[/] "
        f"[dim](record commit {(r.record_commit or '?')[:10]}, "
        f"signature: {escape(r.signature)})[/]"
    )
    if r.claims:
        table = Table(show_edge=False)
        for col in ("", "lab", "commit", "checks", "now"):
            table.add_column(col)
        for c in r.claims:
            mark = "[green]✓[/]" if c.holds else "[red]✗[/]"
            checks = f"{c.passed}/{c.total} pass" if c.total else "-"
            now = "holds" if c.holds else _SHORT.get(c.status, c.status)
            if c.note:
                now += f" [yellow]({escape(c.note)})[/]"
            table.add_row(mark, escape(c.lab), (c.commit or "-")[:10], checks, now)
        out.print(table)
    bad = [c for c in r.claims if not c.holds]
    for c in bad:
        out.print(f"[red]✗[/] {escape(c.lab)}: {escape(c.reason or c.status)}")
    if bad:
        out.print(f"\n{len(bad)} of {len(r.claims)} claim(s) do not hold.")
    else:
        out.print(f"\nEvery claim holds ({len(r.claims)} lab(s)).")


# --- quiz --------------------------------------------------------------------------------


def piped_lines() -> list[str]:
    """Answers piped in, one a line (an empty line is an Enter)."""
    import sys

    return sys.stdin.read().splitlines()


def quiz_list(items) -> None:
    from labpath.quiz import LETTERS

    for i in items:
        q = i.question
        out.print(f"\n[dim]{escape(i.task)}[/] [bold]{escape(q.text)}[/]")
        for n, choice in enumerate(q.choices):
            mark = "*" if n + 1 == q.correct else " "
            out.print(f"  {mark} {LETTERS[n]}) {escape(choice)}")
        if q.answer:
            out.print(f"  [dim]{escape(q.answer)}[/]")
    err.print(f"{len(items)} question(s) · labpath quiz", style="dim")


def quiz_show(event, console=None) -> None:
    """One step of a quiz: the question, the grade of a choice, the answer, the date."""
    from labpath import quiz
    from labpath.quiz import LETTERS

    con = console or out
    q = event.item.question
    if isinstance(event, quiz.Asked):
        kind = "choice" if q.choices else "recall"
        con.print(
            f"\n[dim]{escape(event.item.task)} · {kind} · "
            f"{event.number}/{event.total}[/]\n[bold]{escape(q.text)}[/]"
        )
        for n, choice in enumerate(q.choices):
            con.print(f"  {LETTERS[n]}) {escape(choice)}")
    elif isinstance(event, quiz.Graded):
        right = f"{LETTERS[q.correct - 1]}) {q.choices[q.correct - 1]}"
        if event.right:
            con.print(f"[green]✓ right[/]: {escape(right)}")
        else:
            con.print(
                f"[red]✗ wrong[/] (you chose {LETTERS[event.given - 1]}): "
                f"the answer is {escape(right)}"
            )
        if q.answer:
            con.print(escape(q.answer))
    elif isinstance(event, quiz.Revealed):
        con.print(
            escape(q.answer)
            if q.answer
            else "[dim](no written answer: compare with your notes)[/]"
        )
    elif isinstance(event, quiz.Scheduled):
        con.print(f"[dim]next review {event.due[:10]}[/]")


def quiz_show_err(event) -> None:
    quiz_show(event, err)


def quiz_ask(event) -> str:
    """After a question: the choice, or Enter once recalled; after an answer: a rating."""
    from labpath import quiz

    if isinstance(event, quiz.Asked):
        q = event.item.question
        if q.choices:
            last = quiz.LETTERS[len(q.choices) - 1]
            return ask(f"Your answer (a-{last} or 1-{len(q.choices)}, q stops)")
        return ask("Recall your answer, then press Enter to see it (q stops)")
    return ask("How well did you recall it? 1 again, 2 hard, 3 good, 4 easy (q stops)")


def quiz_done(result) -> None:
    n = len(result.answered)
    score = f" · {result.right}/{result.graded} choices right" if result.graded else ""
    out.print(
        f"\nAnswered {n} question(s){score}"
        + (f"; {result.remaining} left" if result.remaining else ".")
    )
    if n:
        err.print("Your answers are review evidence: labpath review", style="dim")
