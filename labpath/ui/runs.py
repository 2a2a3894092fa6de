"""The view of `labpath run --list`."""

from __future__ import annotations

from rich.markup import escape

from labpath.ui.console import err, out


def run_list(result) -> None:
    """`labpath run --list`: id, start time, plots of each run, newest first."""
    if not result.runs:
        what = f"No runs of {result.lab}" if result.lab else "No runs yet"
        out.print(f"{escape(what)}.")
        err.print("Start one with [bold]labpath run LAB[/]", style="dim")
        return
    width = max(len(r.id) for r in result.runs)
    for r in result.runs:
        names = [p.relative_to(r.folder).as_posix() for p in r.plots]
        shown = ", ".join(names) if names else "no plots"
        out.print(
            f"[bold]{escape(r.id):<{width}}[/]  {r.started:%Y-%m-%d %H:%M:%S}  "
            f"[dim]{len(names)} plot(s):[/] {escape(shown)}"
        )
    err.print(
        'Attach one to an entry: labpath log "what it showed" --attach-run ID',
        style="dim",
    )
