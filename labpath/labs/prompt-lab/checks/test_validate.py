"""Checks for validate (JSON Schema 2020-12, the common subset) and PromptTask.run."""

import json

from labpath.checks import kit

# (instance, schema, the json_path of every error python-jsonschema 4.26 reports)
CASES = [
    (1, {"type": "integer"}, []),
    (1.0, {"type": "integer"}, []),
    (1.5, {"type": "integer"}, ["$"]),
    (True, {"type": "integer"}, ["$"]),
    (True, {"type": "number"}, ["$"]),
    ("5", {"type": "number"}, ["$"]),
    (None, {"type": ["string", "null"]}, []),
    (False, {"type": "boolean"}, []),
    (0, {"type": "boolean"}, ["$"]),
    (
        {"a": [1, "x"]},
        {
            "type": "object",
            "properties": {"a": {"type": "array", "items": {"type": "integer"}}},
        },
        ["$.a[1]"],
    ),
    ({}, {"type": "object", "required": ["name"]}, ["$"]),
    (
        {"a": {}},
        {"type": "object", "properties": {"a": {"type": "object", "required": ["b"]}}},
        ["$.a"],
    ),
    (
        {"a": 1, "z": 2},
        {"type": "object", "properties": {"a": {}}, "additionalProperties": False},
        ["$"],
    ),
    (
        {"a": 1},
        {"type": "object", "properties": {"a": {}}, "additionalProperties": False},
        [],
    ),
    ("red", {"enum": ["red", "green"]}, []),
    ("blue", {"enum": ["red", "green"]}, ["$"]),
    (True, {"enum": [1, 0]}, ["$"]),
    (1.0, {"enum": [1]}, []),
    ("not-an-email", {"type": "string", "format": "email"}, []),
    (
        {"a b": [0, "x"]},
        {"properties": {"a b": {"items": {"type": "integer"}}}},
        ["$['a b'][1]"],
    ),
    ([1, 2, 3], {"type": "array", "maxItems": 2}, ["$"]),
    ("ab", {"type": "string", "minLength": 3}, ["$"]),
    (-1, {"type": "integer", "minimum": 0}, ["$"]),
    (
        {"tags": ["a", 3, "b", None]},
        {
            "type": "object",
            "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
        },
        ["$.tags[1]", "$.tags[3]"],
    ),
    (
        {"user": {"name": "A", "age": "x", "extra": 1}},
        {
            "type": "object",
            "properties": {
                "user": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "age": {"type": "integer"},
                    },
                    "required": ["name", "age", "email"],
                    "additionalProperties": False,
                }
            },
        },
        ["$.user", "$.user.age"],
    ),
    ([], {"type": "object"}, ["$"]),
    ({"n": 2}, {"properties": {"n": {"const": 3}}}, ["$.n"]),
    ([1, True], {"enum": [[1, 1]]}, ["$"]),
    ([1, 1.0], {"enum": [[1, 1]]}, []),
    ({"a": [1]}, {"const": {"a": [1.0]}}, []),
    ({"a": [True]}, {"const": {"a": [1]}}, ["$"]),
    ({"b": 1, "a": 2}, {"const": {"a": 2, "b": 1}}, []),
    (5, {"maximum": 5}, []),
    (5, {"minimum": 5}, []),
    (6, {"maximum": 5}, ["$"]),
    (
        {"a": 1, "b": "x", "c": 2},
        {"properties": {"a": {}}, "additionalProperties": {"type": "integer"}},
        ["$.b"],
    ),
    (True, {"enum": [True]}, []),
    (False, {"const": False}, []),
    ("abc", {"minLength": 3}, []),
    ("abcd", {"maxLength": 3}, ["$"]),
    ("abc", {"maxLength": 3}, []),
    ([1], {"type": "array", "minItems": 2}, ["$"]),
    ([1, 2], {"minItems": 2}, []),
    ([1, 2], {"maxItems": 2}, []),
    ("abc", {"pattern": "^b"}, ["$"]),
    ("abc", {"pattern": "b"}, []),
]

# Keyed by repr(instance): True, 1 and 1.0 are equal as dict keys.
WHY = {
    (
        "True",
        "integer",
    ): "True is not an integer: in Python bool is a subclass of int, in JSON it is its own type",
    (
        "True",
        "number",
    ): "True is not a number: in Python bool is a subclass of int, in JSON it is its own type",
    (
        "1.0",
        "integer",
    ): "1.0 is an integer in JSON Schema 2020-12 (a number with no fractional part)",
    (
        "'not-an-email'",
        "string",
    ): '"format" is an annotation: jsonschema only checks it when given a FormatChecker',
}


def _paths(errors):
    if not isinstance(errors, list) or not all(isinstance(e, str) for e in errors):
        kit.fail(
            "validate(...) must return a list of 'json_path: message' strings",
            yours=repr(errors)[:80],
        )
    return sorted({e.split(": ", 1)[0] for e in errors})


def test_validate_reports_the_paths_jsonschema_reports(validate):
    """46 (instance, schema) pairs: 1.0 vs integer, True vs number, $.a[1], required, enum..."""
    for instance, schema, expected in CASES:
        try:
            got = _paths(validate(instance, schema))
        except NotImplementedError:
            raise
        except Exception as exc:
            if isinstance(exc, AssertionError):
                raise
            kit.fail(
                f"validate({json.dumps(instance)}, {json.dumps(schema)}) raised {type(exc).__name__}: {exc}"
            )
        if got != sorted(expected):
            why = WHY.get((repr(instance), schema.get("type")))
            kit.fail(
                f"error paths of validate({json.dumps(instance)}, {json.dumps(schema)})",
                yours=got,
                expected=sorted(expected),
                diagnosis=why,
                hint="paths as jsonschema's error.json_path: $ for the root, $.key, $['a b'], [i] for items; "
                "a missing required property is reported on the object itself",
            )


class StubLLM:
    """A model that answers with the given replies in turn and records every prompt."""

    def __init__(self, *replies):
        self.replies, self.prompts = list(replies), []

    def __call__(self, prompt):
        self.prompts.append(prompt)
        return self.replies[min(len(self.prompts), len(self.replies)) - 1]


SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
}


def _task(PromptTask, **kw):
    try:
        return PromptTask(
            name="city",
            template="Name the largest city of {country} as JSON.",
            schema=SCHEMA,
            **kw,
        )
    except TypeError as exc:
        kit.fail(
            f"PromptTask(name=, template=, schema=, max_attempts=) raised TypeError: {exc}",
            hint="a dataclass with name, template, schema, examples=[] and max_attempts=3",
        )


def _run(task, llm, inputs):
    result = task.run(llm, inputs)
    if not isinstance(result, dict) or not {"ok", "value", "errors", "attempts"} <= set(result):
        kit.fail(
            "PromptTask.run(...) must return a dict with ok, value, errors and attempts",
            yours=repr(result)[:80],
        )
    return result


def test_prompt_task_retries_a_truncated_reply(PromptTask):
    """A reply cut off at max_tokens, then a valid one: 2 attempts, the valid value, ok."""
    llm = StubLLM(
        'Sure: {"city": "Tok', '```json\n{"city": "Tokyo", "population": 37400068}\n```'
    )
    result = _run(_task(PromptTask, max_attempts=3), llm, {"country": "Japan"})
    if result["ok"] is not True or result["value"] != {
        "city": "Tokyo",
        "population": 37400068,
    }:
        kit.fail(
            "run() with a truncated reply first, then a valid one",
            yours=result,
            expected={
                "ok": True,
                "value": {"city": "Tokyo", "population": 37400068},
                "attempts": 2,
            },
        )
    if result["attempts"] != 2 or len(llm.prompts) != 2:
        kit.fail(
            "attempts after one invalid and one valid reply",
            yours=(result["attempts"], len(llm.prompts)),
            expected="(2, 2): stop at the first valid reply",
        )
    if llm.prompts[0] != "Name the largest city of Japan as JSON.":
        kit.fail(
            "the first prompt",
            yours=llm.prompts[0],
            expected="Name the largest city of Japan as JSON.",
            hint="the first prompt is render(template, **inputs), with examples appended only when given",
        )
    if (
        not llm.prompts[1].startswith(llm.prompts[0])
        or llm.prompts[1] == llm.prompts[0]
    ):
        kit.fail(
            "the retry prompt",
            yours=llm.prompts[1][:120],
            expected="the first prompt followed by what was wrong with the last reply",
        )


def test_prompt_task_stops_after_max_attempts(PromptTask):
    """A model that never answers validly is asked exactly max_attempts times; errors are kept."""
    for attempts in (1, 2, 4):
        llm = StubLLM('{"city": "Paris"}')  # valid JSON, but "population" is missing
        result = _run(
            _task(PromptTask, max_attempts=attempts), llm, {"country": "France"}
        )
        if (
            len(llm.prompts) != attempts
            or result["attempts"] != attempts
            or result["ok"] is not False
        ):
            kit.fail(
                f"run() with max_attempts={attempts} and a model that is always wrong",
                yours={
                    "calls": len(llm.prompts),
                    "attempts": result["attempts"],
                    "ok": result["ok"],
                },
                expected={"calls": attempts, "attempts": attempts, "ok": False},
            )
        if not result["errors"] or not any("population" in e for e in result["errors"]):
            kit.fail(
                "errors of the last reply",
                yours=result["errors"],
                expected="the schema errors of the last reply (\"'population' is a required property\")",
            )


def test_prompt_task_defaults(PromptTask):
    """PromptTask(name, template, schema) asks at most 3 times by default."""
    llm = StubLLM("no JSON at all")
    result = _run(_task(PromptTask), llm, {"country": "Peru"})
    if len(llm.prompts) != 3 or result["ok"] is not False:
        kit.fail(
            "calls with the default max_attempts", yours=len(llm.prompts), expected=3
        )


def test_prompt_task_shows_its_examples(PromptTask):
    """With examples, the first prompt is the rendered template followed by each example as JSON."""
    examples = [
        {"city": "Rome", "population": 2873000},
        {"city": "Lima", "population": 9751000},
    ]
    llm = StubLLM('{"city": "Paris", "population": 2103000}')
    _run(_task(PromptTask, examples=examples), llm, {"country": "France"})
    prompt, start = llm.prompts[0], "Name the largest city of France as JSON."
    if not prompt.startswith(start):
        kit.fail(
            "the first prompt with examples",
            yours=prompt[:80],
            expected=f"{start} followed by the examples",
        )
    found, decoder, i = [], json.JSONDecoder(), len(start)
    while i < len(prompt):
        if prompt[i] in "{[":
            try:
                value, end = decoder.raw_decode(prompt, i)
                found.append(value)
                i = end
                continue
            except ValueError:
                pass
        i += 1
    missing = [e for e in examples if e not in found]
    if missing:
        kit.fail(
            "the examples in the first prompt",
            yours=found,
            expected=examples,
            hint="append each example as JSON (json.dumps) after the rendered template",
        )
