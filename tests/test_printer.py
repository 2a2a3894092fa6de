"""labpath's own printer and front-matter writer read and write what Rich and YAML would."""

import random
import string

import pytest
import yaml
from rich.markup import escape as rich_escape
from rich.markup import render as rich_render

from labpath.journal.entry import _simple_dump, render
from labpath.ui import console

MARKUP = [
    "[bold]labpath[/] · 3/46 tasks done",
    "[dim]Phase 1 · [bold]week 2[/bold][/]",
    "[green]passed[/] [red]failed[/] [bold red]Error:[/] x",
    "a literal \\[bold] tag and a list [1, 2]",
    "C:\\\\temp\\\\[bold]x[/]",
    "no markup at all: key=value (a) {b}",
]


@pytest.mark.parametrize("markup", MARKUP)
def test_plain_text_of_markup_is_what_rich_prints(markup):
    assert console.render(markup, ansi=False) == rich_render(markup).plain


def test_escaped_text_prints_as_itself_as_in_rich():
    rng = random.Random(0)
    alphabet = string.ascii_lowercase + "[]/\\ #@"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert console.escape(text) == rich_escape(text)
        assert (
            console.render(console.escape(text), False)
            == rich_render(rich_escape(text)).plain
        )


def test_styles_become_ansi_codes_on_a_terminal_and_colours_go_under_no_color():
    styled = console.render("[bold]a[/] [green]b[/]", ansi=True)
    assert "\x1b[1ma" in styled and "\x1b[32mb" in styled and styled.endswith("\x1b[0m")
    grey = console.render("[bold]a[/] [green]b[/]", ansi=True, colour=False)
    assert "\x1b[1ma" in grey and "32" not in grey


def test_markup_it_does_not_know_goes_to_rich(capsys):
    console.out.print("[link=https://example.org]site[/link] and [bold]b[/]")
    assert capsys.readouterr().out == "site and b\n"


def test_front_matter_written_without_yaml_reads_back_in_yaml_as_written():
    rng = random.Random(1)
    alphabet = string.ascii_letters + string.digits + " :'\"#-+=.,!?()[]{}&*%@`|>~é→\\"
    odd = ["yes", "no", "null", "~", "12", "1.5", "0x1f", "2026-12-02", "- a", "a: b"]
    written = 0
    for _ in range(2000):
        words = [
            "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
            for _ in range(rng.randint(1, 5))
        ]
        for title in (" ".join(words), rng.choice(odd)):
            front = {"id": "01ABC", "title": title, "tags": [title, "x"], "week": 3}
            front["starred"] = rng.random() < 0.5
            front["check"] = {"status": title, "passed": 8, "ok": front["starred"]}
            head = _simple_dump(front)
            if head is not None:
                written += 1
                assert yaml.safe_load(head) == front, head
    assert written > 3900  # nearly every title is written the fast way


def test_an_entry_of_a_checked_lab_is_written_without_yaml(monkeypatch):
    import sys

    from labpath.journal.entry import JournalEntry

    entry = JournalEntry(
        id="01ABC",
        created="2026-12-02T08:00:00+00:00",
        type="aha",
        title="t",
        body="text",
        check={"status": "failed", "passed": 8, "total": 12, "at": "2026-12-02T08:00"},
    )
    monkeypatch.setitem(sys.modules, "yaml", None)  # any import of PyYAML fails
    text = render(entry)
    monkeypatch.undo()
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["check"] == entry.check
    assert "check:\n  status: failed\n  passed: 8\n" in text


def test_an_entry_with_a_nested_field_is_still_written_by_yaml():
    from labpath.journal.entry import JournalEntry

    entry = JournalEntry(
        id="01ABC",
        created="2026-12-02T08:00:00+00:00",
        type="aha",
        title="Why += matters: reused nodes",
        body="text",
        extra={"meta": {"a": [1, 2]}},
    )
    front = yaml.safe_load(render(entry).split("---\n")[1])
    assert front["meta"] == {"a": [1, 2]} and front["title"] == entry.title
