"""Checks for render (templates) and extract_json (finding the JSON in a model's reply)."""

import json

import pytest

from labpath.checks import kit

BRACES_HINT = "escape literal braces as {{ and }}: string.Formatter().parse(template) hands them back as single braces"


def test_render_fills_names_and_keeps_literal_braces(render):
    """render('Return {{"a": {n}}}', n=1) == 'Return {"a": 1}'; values are inserted with str()."""
    cases = [
        (('Return {{"a": {n}}}',), {"n": 1}, 'Return {"a": 1}'),
        (("{greeting}, {name}!",), {"greeting": "Hi", "name": "Ada"}, "Hi, Ada!"),
        (("{{}} {x} {{x}}",), {"x": 2.5}, "{} 2.5 {x}"),
        (("no placeholders",), {}, "no placeholders"),
        (("{a}{a}",), {"a": "z"}, "zz"),
        (("Schema: {schema}",), {"schema": '{"type": "object"}'}, 'Schema: {"type": "object"}'),
        (("{v}",), {"v": "{w}"}, "{w}"),  # a value is inserted as it is, never rendered again
    ]
    for args, variables, expected in cases:
        try:
            got = render(*args, **variables)
        except NotImplementedError:
            raise
        except Exception as exc:
            kit.fail(
                f"render({args[0]!r}, **{variables}) raised {type(exc).__name__}: {exc}",
                hint=BRACES_HINT,
            )
        if got != expected:
            kit.fail(
                f"render({args[0]!r}, **{variables})",
                yours=got,
                expected=expected,
                hint=BRACES_HINT,
            )


def _raises(render, template, variables, kind):
    try:
        got = render(template, **variables)
    except NotImplementedError:
        raise
    except kind as exc:
        return exc
    except Exception as exc:
        kit.fail(
            f"render({template!r}, **{variables}) raised {type(exc).__name__}: {exc}",
            expected=f"{kind.__name__} raised",
        )
    kit.fail(
        f"render({template!r}, **{variables}) returned a text",
        yours=got,
        expected=f"{kind.__name__} raised",
    )


def test_render_refuses_missing_and_unused_variables(render):
    """A missing variable is a KeyError naming it; an unused one is a ValueError."""
    exc = _raises(render, "Hello {name}, you are {age}", {"name": "Ada"}, KeyError)
    if "age" not in str(exc):
        kit.fail(
            "the KeyError for a missing variable",
            yours=str(exc),
            expected="one naming 'age'",
        )
    _raises(render, "Hello {name}", {"name": "Ada", "nmae": "typo"}, ValueError)


@pytest.mark.parametrize(
    "template", ["{x.__class__}", "{x[0]}", "{x!r}", "{x:>10}", "{}", "{0}"]
)
def test_render_allows_only_plain_names(render, template):
    """{x.__class__}, {x[0]}, {x!r}, {x:>10}, {} and {0} are refused with a ValueError."""
    variables = {"x": "abc"} if "x" in template else {}
    _raises(render, template, variables, ValueError)


# J7: replies as models write them, and the JSON value each one holds first
REPLIES = [
    ('{"a": 1}', {"a": 1}),
    ('```json\n{"name": "Ada", "age": 36}\n```', {"name": "Ada", "age": 36}),
    ("Sure! Here is the JSON:\n```json\n[1, 2, 3]\n```\nLet me know.", [1, 2, 3]),
    ('```\n{"plain": "fence"}\n```', {"plain": "fence"}),
    (
        'The answer is {"x": {"y": [true, null]}} as requested.',
        {"x": {"y": [True, None]}},
    ),
    ('First {"one": 1} then {"two": 2}', {"one": 1}),
    ('```json\n{"a": 1}\n```\n```json\n{"b": 2}\n```', {"a": 1}),
    ('Use {curly} braces in prose, then: {"ok": true}', {"ok": True}),
    ('[{"id": 1}, {"id": 2}]', [{"id": 1}, {"id": 2}]),
    ('  \n\t{"ws": "around"}  \n', {"ws": "around"}),
    ('{"s": "a } inside a string { "}', {"s": "a } inside a string { "}),
    ('{"quote": "he said \\"no\\""} trailing', {"quote": 'he said "no"'}),
    ("Result: [] (empty)", []),
    ("Result: {} (empty)", {}),
    ('{"emoji": "😀", "accent": "é"}', {"emoji": "😀", "accent": "é"}),
    ('{"nested": [[1, [2, [3]]]]}', {"nested": [[1, [2, [3]]]]}),
    ('Here [not json] and here ["json"]', ["json"]),
    ('{"num": -1.5e3, "int": 0}', {"num": -1.5e3, "int": 0}),
    ('prefix text ```json\n{"k": "v"}``` suffix', {"k": "v"}),
    (
        '{"a": [1, 2], "b": {"c": "d"}}\n\nExplanation: {this is not JSON}',
        {"a": [1, 2], "b": {"c": "d"}},
    ),
]


def test_extract_json_finds_the_first_value(extract_json):
    """20 replies: fenced, unfenced, with prose before and after, two blocks (the first wins)."""
    from prompt_ref import same

    for reply, expected in REPLIES:
        try:
            text = extract_json(reply)
            got = json.loads(text)
        except NotImplementedError:
            raise
        except Exception as exc:
            kit.fail(
                f"extract_json({reply!r}) raised {type(exc).__name__}: {exc}",
                hint="try json.JSONDecoder().raw_decode(text, i) at each '{' or '['; the first that decodes wins",
            )
        if not same(got, expected):
            kit.fail(
                f"extract_json({reply!r})",
                yours=text,
                expected=json.dumps(expected, ensure_ascii=False),
                hint="the first place where a whole JSON object or array begins wins; prose like {curly} is skipped",
            )


def test_extract_json_refuses_text_without_json(extract_json):
    """A reply with no JSON object or array raises ValueError (never returns prose)."""
    for reply in ["no json here", "{not json}", '{"cut": "off', ""]:
        try:
            got = extract_json(reply)
        except NotImplementedError:
            raise
        except ValueError:
            continue
        except Exception as exc:
            kit.fail(
                f"extract_json({reply!r}) raised {type(exc).__name__}",
                expected="ValueError",
            )
        kit.fail(
            f"extract_json({reply!r}) returned a value",
            yours=got,
            expected="ValueError raised",
        )
