"""The journal: one Markdown file per entry, YAML front matter, committed one by one.

entry: the model and the file format; store: paths, writes, the index; query: selecting
entries; export: JSON and Markdown; template: what the editor shows. The edit and star
workflows are use cases, in labpath.app.journal_edit.
"""

from labpath.dates import DATE_FORMS, WEEKDAYS, parse_when
from labpath.journal.entry import (
    ENTRY_TYPES,
    FIELDS,
    KNOWN_KEYS,
    AliasRefused,
    JournalEntry,
    checked_from_text,
    created_at,
    edited,
    from_text,
    new_id,
    parse,
    read_checked,
    read_entry,
    render,
    slugify,
    title_of,
)
from labpath.journal.export import FORMATS, export, to_json, to_markdown
from labpath.journal.query import (
    Query,
    find,
    make_query,
    matches,
    search,
    select,
    tag_counts,
)
from labpath.journal.store import (
    INDEX_VERSION,
    LINKED,
    count,
    entries,
    entry_files,
    entry_path,
    index_file,
    load_all,
    load_rows,
    rewrite,
    write,
)
from labpath.journal.template import (
    EDITOR_MARKER,
    clean_editor_text,
    compose_in_editor,
    editor_template,
)

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
    "entry_path",
    "export",
    "find",
    "from_text",
    "index_file",
    "load_all",
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
