"""Everything labpath prints: typed results rendered to stdout, messages to stderr, JSON."""

from __future__ import annotations

from labpath.ui.check import (
    CheckScreen,
    check_progress,
    check_report,
    recheck_table,
    rechecking,
    watch_outcome,
    watch_started,
)
from labpath.ui.console import (
    ask,
    ask_note,
    ask_what_clicked,
    err,
    error,
    interactive,
    notice,
    notices,
    out,
    print_json,
    raw,
    warning,
)
from labpath.ui.loop import (
    done_result,
    hint_view,
    init_done,
    log_saved,
    next_card,
    reset_done,
    solution_view,
    status_view,
)
from labpath.ui.records import (
    corpus_built,
    doctor_view,
    exported,
    journal_edited,
    journal_list,
    journal_show,
    journal_tags,
    mutation_report,
    repaired,
    report_written,
    review_ask,
    review_done,
    review_list,
    review_show,
    skip_added,
    sprint_done,
    sprint_timer,
    synced,
    time_added,
    time_list,
)
from labpath.ui.records import dev_check as dev_check_view

# How each result looks in the terminal, by the result's type name.
VIEWS = {
    "InitResult": init_done,
    "CardResult": next_card,
    "DoneResult": done_result,
    "Status": status_view,
    "HintResult": hint_view,
    "ResetResult": reset_done,
    "SolutionResult": solution_view,
    "LogResult": log_saved,
    "CheckOutcome": check_report,
    "RecheckResult": recheck_table,
    "WatchResult": lambda r: None,
    "RunResult": lambda r: None,
    "EntryList": journal_list,
    "EntryShown": lambda r: journal_show(r.entry, r.root),
    "Edited": journal_edited,
    "TagCounts": lambda r: journal_tags(r.counts),
    "Exported": lambda r: exported(r.out, r.text) if r.out else raw(r.text),
    "SprintResult": lambda r: sprint_done(r.run, r.session),
    "Added": lambda r: time_added(r.session),
    "Skipped": lambda r: skip_added(r.skip),
    "TimeList": lambda r: time_list(r.sessions, r.start, r.end),
    "Repaired": lambda r: repaired(r.repairs),
    "Synced": lambda r: synced(r.result),
    "Written": lambda r: report_written(r.report),
    "DueCards": lambda r: review_list(r.due, r.cards),
    "SessionResult": review_done,
    "Diagnosis": lambda r: doctor_view(r.findings),
    "LabsVerdict": lambda r: dev_check_view(r.verdicts, r.curriculum),
    "NewLab": lambda r: raw(
        f"Wrote the lab skeleton {r.path}\nNext: labpath dev check --static {r.path}\n"
    ),
    "Mutation": lambda r: mutation_report(r.report),
    "CorpusBuilt": lambda r: corpus_built(r.corpus),
}


def show(result, as_json: bool = False) -> None:
    """A use case's result: its notices on stderr, then JSON or its terminal view."""
    notices(result.notices)
    if as_json:
        print_json(result.to_json())
    else:
        VIEWS[type(result).__name__](result)


__all__ = [
    "CheckScreen",
    "ask",
    "ask_note",
    "ask_what_clicked",
    "check_progress",
    "check_report",
    "err",
    "error",
    "interactive",
    "notice",
    "out",
    "print_json",
    "raw",
    "rechecking",
    "review_ask",
    "review_show",
    "show",
    "sprint_timer",
    "warning",
    "watch_outcome",
    "watch_started",
]
