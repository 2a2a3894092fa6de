"""Everything labpath prints: typed results rendered to stdout, messages to stderr, JSON."""

from __future__ import annotations

import importlib

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

# Where each view lives: only the module a command's result needs is imported, so a
# command pays for its own view alone.
_HOME = {
    "check": (
        "CheckScreen",
        "check_progress",
        "check_report",
        "recheck_table",
        "rechecking",
        "watch_outcome",
        "watch_started",
    ),
    "loop": (
        "done_result",
        "hint_view",
        "init_done",
        "log_saved",
        "next_card",
        "reset_done",
        "solution_view",
        "status_view",
    ),
    "runs": ("run_list",),
    "records": (
        "corpus_built",
        "dev_check",
        "doctor_view",
        "exported",
        "journal_edited",
        "journal_list",
        "journal_show",
        "journal_tags",
        "mutation_report",
        "record_written",
        "piped_lines",
        "quiz_ask",
        "quiz_done",
        "quiz_list",
        "quiz_show",
        "quiz_show_err",
        "repaired",
        "report_written",
        "review_ask",
        "review_done",
        "review_list",
        "review_show",
        "skip_added",
        "sprint_done",
        "sprint_timer",
        "synced",
        "time_added",
        "time_list",
        "verify_table",
        "verifying",
    ),
}
_MODULE = {name: module for module, names in _HOME.items() for name in names}


def __getattr__(name: str):
    """ui.check_report and the like, imported from their module on first use."""
    module = _MODULE.get(name)
    if module is None:
        raise AttributeError(f"module 'labpath.ui' has no attribute {name!r}")
    return getattr(importlib.import_module(f"labpath.ui.{module}"), name)


def _v(name: str):
    return __getattr__(name)


# How each result looks in the terminal, by the result's type name.
VIEWS = {
    "InitResult": lambda r: _v("init_done")(r),
    "CardResult": lambda r: _v("next_card")(r),
    "DoneResult": lambda r: _v("done_result")(r),
    "Status": lambda r: _v("status_view")(r),
    "HintResult": lambda r: _v("hint_view")(r),
    "ResetResult": lambda r: _v("reset_done")(r),
    "SolutionResult": lambda r: _v("solution_view")(r),
    "LogResult": lambda r: _v("log_saved")(r),
    "CheckOutcome": lambda r: _v("check_report")(r),
    "RecheckResult": lambda r: _v("recheck_table")(r),
    "WatchResult": lambda r: None,
    "RunResult": lambda r: None,
    "RunList": lambda r: _v("run_list")(r),
    "EntryList": lambda r: _v("journal_list")(r),
    "EntryShown": lambda r: _v("journal_show")(r.entry, r.root),
    "Edited": lambda r: _v("journal_edited")(r),
    "TagCounts": lambda r: _v("journal_tags")(r.counts),
    "Exported": lambda r: _v("exported")(r.out, r.text) if r.out else raw(r.text),
    "SprintResult": lambda r: _v("sprint_done")(r.run, r.session),
    "Added": lambda r: _v("time_added")(r.session),
    "Skipped": lambda r: _v("skip_added")(r.skip),
    "TimeList": lambda r: _v("time_list")(r.sessions, r.start, r.end),
    "Repaired": lambda r: _v("repaired")(r.repairs),
    "Synced": lambda r: _v("synced")(r.result),
    "Written": lambda r: _v("report_written")(r.report),
    "DueCards": lambda r: _v("review_list")(r.due, r.cards),
    "SessionResult": lambda r: _v("review_done")(r),
    "QuizList": lambda r: _v("quiz_list")(r.items),
    "QuizResult": lambda r: _v("quiz_done")(r),
    "Diagnosis": lambda r: _v("doctor_view")(r.findings),
    "LabsVerdict": lambda r: _v("dev_check")(r.verdicts, r.curriculum),
    "NewLab": lambda r: raw(
        f"Wrote the lab skeleton {r.path}\nNext: labpath dev check --static {r.path}\n"
    ),
    "Mutation": lambda r: _v("mutation_report")(r.report),
    "CorpusBuilt": lambda r: _v("corpus_built")(r.corpus),
    "Recorded": lambda r: _v("record_written")(r),
    "Verified": lambda r: _v("verify_table")(r),
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
