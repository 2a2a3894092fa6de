"""The journal: one Markdown file per entry, YAML front matter, committed one by one.

entry: the model and the file format; store: paths, writes, the index; query: selecting
entries; exports: JSON and Markdown; template: what the editor shows. The edit and star
workflows are use cases, in labpath.app.journal_edit.
"""

# Where each name lives: a command imports only the part of the journal it uses
# (`status` counts entries without the query and export code).
_HOME = {
    "DATE_FORMS": "labpath.dates",
    "WEEKDAYS": "labpath.dates",
    "parse_when": "labpath.dates",
    "ENTRY_TYPES": "labpath.journal.entry",
    "FIELDS": "labpath.journal.entry",
    "KNOWN_KEYS": "labpath.journal.entry",
    "AliasRefused": "labpath.journal.entry",
    "JournalEntry": "labpath.journal.entry",
    "checked_from_text": "labpath.journal.entry",
    "created_at": "labpath.journal.entry",
    "edited": "labpath.journal.entry",
    "from_text": "labpath.journal.entry",
    "new_id": "labpath.journal.entry",
    "parse": "labpath.journal.entry",
    "read_checked": "labpath.journal.entry",
    "read_entry": "labpath.journal.entry",
    "render": "labpath.journal.entry",
    "slugify": "labpath.journal.entry",
    "title_of": "labpath.journal.entry",
    "FORMATS": "labpath.journal.exports",
    "export": "labpath.journal.exports",
    "to_json": "labpath.journal.exports",
    "to_markdown": "labpath.journal.exports",
    "Query": "labpath.journal.query",
    "find": "labpath.journal.query",
    "make_query": "labpath.journal.query",
    "matches": "labpath.journal.query",
    "search": "labpath.journal.query",
    "select": "labpath.journal.query",
    "tag_counts": "labpath.journal.query",
    "INDEX_VERSION": "labpath.journal.store",
    "LINKED": "labpath.journal.store",
    "count": "labpath.journal.store",
    "entries": "labpath.journal.store",
    "entry_files": "labpath.journal.store",
    "entry_names": "labpath.journal.store",
    "entry_path": "labpath.journal.store",
    "index_file": "labpath.journal.store",
    "load_all": "labpath.journal.store",
    "load_index": "labpath.journal.store",
    "load_rows": "labpath.journal.store",
    "rewrite": "labpath.journal.store",
    "write": "labpath.journal.store",
    "EDITOR_MARKER": "labpath.journal.template",
    "clean_editor_text": "labpath.journal.template",
    "compose_in_editor": "labpath.journal.template",
    "editor_template": "labpath.journal.template",
}


def __getattr__(name: str):
    import importlib

    if name not in _HOME:
        raise AttributeError(f"module 'labpath.journal' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "DATE_FORMS",
    "EDITOR_MARKER",
    "ENTRY_TYPES",
    "FIELDS",
    "FORMATS",
    "INDEX_VERSION",
    "KNOWN_KEYS",
    "LINKED",
    "WEEKDAYS",
    "AliasRefused",
    "JournalEntry",
    "Query",
    "checked_from_text",
    "clean_editor_text",
    "compose_in_editor",
    "count",
    "created_at",
    "edited",
    "editor_template",
    "entries",
    "entry_files",
    "entry_names",
    "entry_path",
    "export",
    "find",
    "from_text",
    "index_file",
    "load_all",
    "load_index",
    "load_rows",
    "make_query",
    "matches",
    "new_id",
    "parse",
    "parse_when",
    "read_checked",
    "read_entry",
    "render",
    "rewrite",
    "search",
    "select",
    "slugify",
    "tag_counts",
    "title_of",
    "to_json",
    "to_markdown",
    "write",
]
