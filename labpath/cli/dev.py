"""Tools for lab authors: dev check, dev new and dev mutate."""

from typing import Annotated

import typer

from labpath.cli.options import JsonOpt

dev_app = typer.Typer(help="Tools for lab authors.", no_args_is_help=True)


@dev_app.command("check")
def dev_check(
    lab: Annotated[
        list[str] | None, typer.Argument(help="Labs to verify (default: all).")
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Check runs in parallel.")
    ] = 2,
    static: Annotated[
        bool,
        typer.Option(
            "--static", help="Only what needs no torch: seconds, not minutes."
        ),
    ] = False,
    json: JsonOpt = False,
):
    """Prove every lab sound: starter fails, solution passes, each catalogued bug is caught."""
    from labpath import ui
    from labpath.app import dev

    result = dev.check_labs(lab, jobs, static)
    ui.show(result, json)
    raise typer.Exit(result.exit_code)


@dev_app.command("new")
def dev_new(
    lab: Annotated[str, typer.Argument(help="The new lab's id, e.g. layernorm.")],
    folder: Annotated[
        str | None,
        typer.Option(
            "--dir", help="Write LAB/ in this folder (default: labpath's labs)."
        ),
    ] = None,
):
    """Write a skeleton lab: brief, lab.yaml, starter, solution, checks and bugs.yaml."""
    from labpath import ui
    from labpath.app import dev

    ui.show(dev.new_lab(lab, folder))


@dev_app.command("mutate")
def dev_mutate(
    lab: Annotated[str, typer.Argument(help="The lab whose solution to mutate.")],
    sample: Annotated[
        int, typer.Option("--sample", "-n", help="Mutants to draw (0: all).")
    ] = 40,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the draw.")] = 0,
    budget: Annotated[
        float, typer.Option("--budget", help="Seconds for the whole run.")
    ] = 600.0,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Mutants run in parallel.")
    ] = 2,
    match: Annotated[
        str | None,
        typer.Option("--match", help="Only mutants whose key contains this."),
    ] = None,
    json: JsonOpt = False,
):
    """Run seeded mutants of a lab's solution through its checks; list every survivor."""
    from labpath import ui
    from labpath.app import dev

    result = dev.mutate_lab(lab, sample, seed, budget, jobs, match)
    ui.show(result, json)
    raise typer.Exit(result.exit_code)
