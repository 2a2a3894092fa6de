"""Checks for complete_json: every cut of a JSON document completes to a prefix value.

The property (see the brief): json.loads(complete_json(D[:i])) is a prefix value of D's
value for every cut i, keeps everything already complete in D[:i], and equals the value
for i = len(D). Documents are generated with hypothesis (seeded with the run's seed),
with quotes, backslashes, brackets, emoji and exponents inside; every cut is tried.
"""

import json

import hypothesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prompt_docs import STYLES, documents, dumps, values
from prompt_ref import closing_points, diagnose, judge, same, scanning

from labpath.checks import kit

HINT = (
    "scan the prefix once with the JSON grammar, remember the last place where cutting is "
    "safe (after a complete value, after an opening bracket, after a whole character of a "
    "value string) and close whatever is open there"
)


def options(n):
    return settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def check_cut(complete_json, p, value, keep=None):
    verdict = judge(complete_json, p, value, keep)
    if verdict is None:
        return
    message, yours = verdict
    diagnosis = diagnose(complete_json, p, yours) if yours is not None else None
    kit.fail(message, hint=HINT, diagnosis=diagnosis)


def cuts(text):
    """Every cut 0 < i < len(text), with the last value closed at or before it."""
    points, k, keep = closing_points(text), 0, None
    for i in range(1, len(text)):
        while k < len(points) and points[k][0] <= i:
            keep = points[k][1:]
            k += 1
        yield i, keep


# J4: fixed cases from the brief, each with every correct answer
REGRESSIONS = [
    ('{"n', [{}]),
    ('{"a":', [{}]),
    ('{"a": tr', [{"a": True}, {}]),
    ("[1, n", [[1, None], [1]]),
    ('"ab\\', ["ab"]),
    ('"x\\u00', ["x"]),
    ('"\\ud83d', [""]),
    ('"\\ud800', [""]),  # the first and the last high surrogate
    ('"\\udbff', [""]),
    # U+1F400 is \ud83d\udc00: the low half 0xDC00 is the first low surrogate, not a high one
    ('"\\ud83d\\udc00', ["\U0001f400", ""]),
    ('{"a": "b", "', [{"a": "b"}]),
    ("[1, 2,", [[1, 2]]),
    ('{"a": "x{[', [{"a": "x{["}, {"a": "x{"}, {"a": "x"}, {"a": ""}, {}]),
    ("[-12.5e", [[-12.5], [-12], [-1], []]),
    (
        '{"q": "say \\"hi',
        [
            {"q": 'say "hi'},
            {"q": 'say "h'},
            {"q": 'say "'},
            {"q": "say "},
            {"q": "say"},
            {"q": "sa"},
            {"q": "s"},
            {"q": ""},
            {},
        ],
    ),
    ("[[1, 2], [3", [[[1, 2], [3]], [[1, 2], []], [[1, 2]]]),
    ("{}", [{}]),
    (
        '{"a": [1, {"b": [2',
        [{"a": [1, {"b": [2]}]}, {"a": [1, {"b": []}]}, {"a": [1, {}]}, {"a": [1]}],
    ),
]


def test_completes_the_regression_cases(complete_json):
    """{"n -> {}; {"a": tr -> {"a": true} or {}; "ab\\ -> "ab"; "x\\u00 -> "x"; "-" raises."""
    for prefix, answers in REGRESSIONS:
        try:
            with scanning(f"complete_json({prefix!r})"):
                text = complete_json(prefix)
            got = json.loads(text)
        except NotImplementedError:
            raise
        except Exception as exc:
            kit.fail(
                f"complete_json({prefix!r}) raised {type(exc).__name__}: {exc}",
                hint=HINT,
            )
        if not any(same(got, a) for a in answers):
            kit.fail(
                f"complete_json({prefix!r})",
                yours=text,
                expected=" or ".join(
                    json.dumps(a, ensure_ascii=False) for a in answers
                ),
                hint=HINT,
                diagnosis=diagnose(complete_json, prefix, text),
            )
    for prefix in ("", "   ", "-"):
        try:
            with scanning(f"complete_json({prefix!r})"):
                text = complete_json(prefix)
        except ValueError:
            continue
        except NotImplementedError:
            raise
        except Exception as exc:
            kit.fail(
                f"complete_json({prefix!r}) raised {type(exc).__name__}; expected IncompleteJSON, "
                "a subclass of ValueError",
                hint="class IncompleteJSON(ValueError): ...",
            )
        kit.fail(
            f"complete_json({prefix!r}) holds no JSON token yet",
            yours=text,
            expected="IncompleteJSON (a ValueError) raised",
        )


@hypothesis.seed(kit.seed())
@options(300)
@given(doc=documents, ascii_only=st.booleans(), style=st.sampled_from(sorted(STYLES)))
def test_every_cut_is_a_prefix_value(complete_json, doc, ascii_only, style):
    """300 generated documents, every code-point cut, with and without ensure_ascii,
    written with default, compact and indented separators."""
    text = dumps(doc, ascii_only, style)
    with scanning(f"complete_json on the cuts of {text[:60]!r}"):
        for i, keep in cuts(text):
            check_cut(complete_json, text[:i], doc, keep)


@hypothesis.seed(kit.seed())
@options(120)
@given(doc=documents)
def test_byte_cuts_are_prefix_values(complete_json, doc):
    """Cuts of the UTF-8 bytes, decoded with errors="ignore" (a stream cut mid-character)."""
    text = dumps(doc, False)
    data, keeps = text.encode("utf-8"), dict(cuts(text))
    seen = set()
    with scanning(f"complete_json on the byte cuts of {text[:60]!r}"):
        for i in range(1, len(data)):
            p = data[:i].decode("utf-8", errors="ignore")
            if p and p not in seen and len(p) < len(text):
                seen.add(p)  # p is text[:len(p)]: a cut mid-character drops that character
                check_cut(complete_json, p, doc, keeps[len(p)])


@hypothesis.seed(kit.seed())
@options(150)
@given(doc=values, ascii_only=st.booleans())
def test_complete_documents_are_unchanged(complete_json, doc, ascii_only):
    """complete_json(D) has exactly D's value (key order and numbers kept), scalars too."""
    text = dumps(doc, ascii_only)
    try:
        with scanning(f"complete_json({text[:60]!r})"):
            got = json.loads(complete_json(text))
    except NotImplementedError:
        raise
    except Exception as exc:
        kit.fail(
            f"complete_json on the complete document {text[:60]!r} raised {type(exc).__name__}: {exc}"
        )
    if not same(got, doc):
        kit.fail(
            f"complete_json changed the complete document {text[:60]!r}",
            yours=json.dumps(got, ensure_ascii=False)[:80],
            expected=text[:80],
            hint="a complete document must come back with the same value, keys in the same order",
        )


@hypothesis.seed(kit.seed())
@options(100)
@given(doc=documents)
def test_completion_is_idempotent_and_grows(complete_json, doc):
    """complete_json(complete_json(P)) == complete_json(P); a longer cut never loses what a
    shorter one returned (open numbers and literals may change as they complete)."""
    from prompt_ref import prefix_problem

    text = dumps(doc, False)
    before = None
    with scanning(f"complete_json on the cuts of {text[:60]!r}"):
        for i in range(1, len(text) + 1):
            try:
                once = complete_json(text[:i])
            except ValueError:
                continue
            again = complete_json(once)
            if not same(json.loads(again), json.loads(once)):
                kit.fail(
                    f"complete_json is not idempotent on {once!r}",
                    yours=again,
                    expected=once,
                )
            now = json.loads(once)
            if before is not None:
                problem = prefix_problem(before[1], now, loose_numbers=True)
                if problem:
                    kit.fail(
                        f"complete_json({before[0]!r}) = {json.dumps(before[1])} but the longer "
                        f"complete_json({text[:i]!r}) = {once}: the longer cut lost something ({problem})",
                        hint=HINT,
                    )
            before = (text[:i], now)
