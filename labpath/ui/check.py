"""How a check run looks: the report, its progress bar, watch and --all."""

from __future__ import annotations

from labpath.app.check import CheckOutcome, RecheckResult
from labpath.ui.console import err, escape, notices, out

MARKS = {
    "passed": "[green]✓[/]",
    "failed": "[red]✗[/]",
    "not_started": "[yellow]…[/]",
    "skipped": "[dim]-[/]",
    "error": "[magenta]![/]",
}


# --- check ----------------------------------------------------------------------------

SUMMARY = {
    "passed": "[bold green]PASSED[/]",
    "failed": "[bold red]FAILED[/]",
    "not_started": "[bold yellow]NOT STARTED[/]",
    "timeout": "[bold red]TIMED OUT[/]",
    "crashed": "[bold red]CRASHED[/]",
    "harness_error": "[bold magenta]LABPATH ERROR[/]",
}


def check_report(outcome: CheckOutcome, verbose: bool = False) -> None:
    """The report of one run: each check, the summary, where to start."""
    r = outcome.report
    if outcome.planted is not None:
        _count_report(outcome)
        return
    warm = " · warm" if outcome.warm else ""
    out.print(
        f"[bold]{r.lab}[/] [dim]· {escape(r.target)} · seed {r.seed} · "
        f"{r.duration:.1f}s{warm}[/]"
    )
    for res in r.results:
        mark = MARKS.get(res.outcome, "?")
        line = f" {mark} {res.name}" + (
            f" [dim]— {escape(res.doc)}[/]" if res.doc else ""
        )
        out.print(line, no_wrap=True, overflow="ellipsis")
        _notes(res, verbose)
        if res.outcome in ("failed", "error"):
            _failure_detail(res)
        elif res.outcome == "not_started":
            out.print(f"     [yellow]not started:[/] {escape(res.message or '')}")
        elif res.outcome == "skipped" and (
            verbose or "fix " in (res.message or "")[:13]
        ):
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
    for a in outcome.plots:
        out.print(f"[dim]plot:[/] {escape(a)}")
    if r.status == "passed":
        if outcome.newly_done:
            out.print(
                f"Task '{outcome.task.id}' is done. Log what clicked: [bold]labpath log[/]"
            )
        check_committed(outcome)
    elif r.status == "failed":
        first = outcome.start_with
        out.print(
            f"Start with {first.name}; rerun [bold]labpath check {r.lab}[/]"
            + (f" (same inputs: --seed {r.seed})" if r.seed is not None else "")
        )
        out.print(f"Stuck? [bold]labpath hint {r.lab}[/] reveals the next hint.")
    elif r.status == "not_started":
        first = outcome.start_with
        out.print(
            f"Begin where the first gap is: {escape(first.message or first.name)}"
        )


def _count_report(outcome: CheckOutcome) -> None:
    """A lab that hides its faults: how many remain, and nothing that says which."""
    r, c = outcome.report, outcome.planted
    warm = " · warm" if outcome.warm else ""
    out.print(
        f"[bold]{r.lab}[/] [dim]· {escape(r.target)} · {r.duration:.1f}s{warm}[/]"
    )
    if r.status not in ("passed", "failed"):
        out.print(f"{SUMMARY.get(r.status, r.status)} {escape(r.message or '')}")
        return
    line = f"{c.planted} faults planted, {c.remaining} remain"
    if r.status == "passed":
        rewritten = (
            f" [dim](rewritten: {c.rewritten}% of the lines changed)[/]"
            if c.rewritten is not None and c.rewritten >= 50
            else ""
        )
        out.print(f"{line}: {SUMMARY['passed']}{rewritten}")
        if outcome.newly_done:
            out.print(
                f"Task '{outcome.task.id}' is done. Log what clicked: [bold]labpath log[/]"
            )
        out.print(f"See what was planted: [bold]labpath solution {r.lab}[/]")
        check_committed(outcome)
        return
    out.print(f"{line}: {SUMMARY['failed']}")
    if c.raised:
        from labpath.planted import RAISED

        out.print(escape(RAISED))
    out.print(
        f"Probe, fix, rerun [bold]labpath check {r.lab}[/]; "
        f"stuck? [bold]labpath hint {r.lab}[/]"
    )


def _notes(res, verbose: bool) -> None:
    """What a check measured: figures and notes on a pass, a budget when it is over
    (or always with -v); on a failure only with -v, as its message says the rest."""
    for n in getattr(res, "notes", ()):
        quiet = n.get("kind") == "budget" and n.get("ok")
        if verbose or (res.outcome == "passed" and not quiet):
            style = "yellow" if n.get("kind") == "budget" and not n.get("ok") else "dim"
            out.print(f"     [{style}]{escape(str(n.get('text', '')))}[/]")


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


def check_committed(outcome: CheckOutcome) -> None:
    if outcome.commit and outcome.code_committed:
        out.print(f"[dim]Committed your code as {outcome.commit[:10]}[/]")
    elif outcome.commit:
        out.print(f"[dim]Recorded the pass as {outcome.commit[:10]}[/]")


def check_progress(lab: str):
    """A context manager yielding update(done, total) that draws a progress bar."""
    from contextlib import contextmanager

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    @contextmanager
    def bar():
        progress = Progress(
            TextColumn(f"checking {lab}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err.rich,
            transient=True,
        )
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


def watch_outcome(outcome: CheckOutcome, target) -> None:
    check_report(outcome)
    out.print(
        f"\n[dim]Watching {escape(str(target))} — save a file to re-check; Ctrl-C to stop.[/]"
    )


def rechecking(lab: str) -> None:
    err.print(f"[dim]re-checking {lab}...[/]")


def recheck_table(result: RecheckResult) -> None:
    rows = result.rows
    if not rows:
        out.print("No lab has passed yet, so there is nothing to re-check.")
        return
    for r in rows:
        mark = "[red]REGRESSED[/]" if r.regressed else "[green]still passing[/]"
        out.print(f"  {r.lab:<16} {r.now:<12} {r.passed}/{r.total}  {mark}")
    bad = result.regressions
    out.print(
        f"\n{len(bad)} regression(s): {', '.join(bad)}"
        if bad
        else "\nEvery passed lab still passes."
    )


class CheckScreen:
    """Shows the report as soon as the run is recorded, before labpath commits."""

    def __init__(self, verbose: bool = False):
        self.verbose = verbose
        self.shown = 0  # notices already printed with the early report
        self.early = False

    def __call__(self, first: CheckOutcome) -> None:
        self.early = True
        self.shown = len(first.notices)
        notices(first.notices)
        check_report(first, self.verbose)

    def finish(self, outcome: CheckOutcome) -> None:
        """What is left to show once the commit is made."""
        notices(outcome.notices[self.shown :])
        if self.early:
            check_committed(outcome)
        else:
            check_report(outcome, self.verbose)
