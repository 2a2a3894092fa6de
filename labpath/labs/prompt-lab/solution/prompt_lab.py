"""prompt_lab: the deterministic half of a prompt pipeline, the half that must never be wrong.

A language model is a function from text to text. Everything around it is ordinary code:
fill a template, find the JSON in the reply, finish a reply that was cut off at max_tokens,
check it against a schema, and ask again when it is wrong. This file is that code.

The centre piece is complete_json(prefix). A reply cut off mid-stream is a prefix P of some
JSON document D. complete_json(P) returns JSON whose value is a *prefix value* of D's:
everything it contains is really in D, in D's order, and nothing closed in P is lost.
Naive repairs (count the brackets, append the closers) break this in a dozen ways: a
brace inside a string, an escape cut in half, half a key, a dangling comma, a number that
ends in "-" or "e". The way out is to scan P once with the JSON grammar, remember the last
place where cutting is safe, and close what is open there.

References:
- RFC 8259, the JSON grammar (strings, escapes, numbers).
- JSON Schema 2020-12 validation (json-schema.org), as python-jsonschema implements it.
- Python's format-string syntax, for why "{{" is a literal brace.
"""

import json
import re
import string
from dataclasses import dataclass, field

# -----------------------------------------------------------------------------
# templates


def render(template, **variables):
    """Fill {name} placeholders; {{ and }} are literal braces.

    Stricter than str.format on purpose: a missing variable is a KeyError naming it, an
    unused one is a ValueError (a typo in a variable name fails loudly instead of silently
    dropping the input), and only plain names are allowed: {x.__class__}, {x[0]}, {x!r}
    and {x:>10} would let a template reach into the objects it is given.
    """
    out, used = [], set()
    for literal, name, spec, conversion in string.Formatter().parse(template):
        out.append(literal)  # "{{" already comes back from parse() as one "{"
        if name is None:
            continue  # the template ended with literal text
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"placeholder {{{name}}} is not a plain {{name}}")
        if name not in variables:
            raise KeyError(name)
        out.append(str(variables[name]))
        used.add(name)
    unused = sorted(set(variables) - used)
    if unused:
        raise ValueError(f"variables not used by the template: {', '.join(unused)}")
    return "".join(out)


# -----------------------------------------------------------------------------
# finding the JSON in a model's reply


def extract_json(text):
    """The first JSON object or array in text, as it is written there.

    Models wrap JSON in prose and ```json fences; a decoder started at each "{" or "["
    finds the first place where a whole value begins, and raw_decode tells where it ends.
    """
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch == "{" or ch == "[":
            try:
                _, end = decoder.raw_decode(text, i)
            except json.JSONDecodeError:
                continue  # prose such as "{see below}", or a value cut off
            return text[i:end]
    raise ValueError("no JSON object or array found in the text")


# -----------------------------------------------------------------------------
# finishing JSON that was cut off


class IncompleteJSON(ValueError):
    """The prefix holds no complete token of a value yet ("", whitespace, "-", "tr")."""


# the longest prefix of a number token that is a number itself: "-12." -> "-12", "1e-" -> "1"
NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
NUMBER_CHARS = set("+-.0123456789eE")
LITERALS = {"t": "true", "f": "false", "n": "null"}
CLOSER = {"{": "}", "[": "]"}


def _unicode_escape_end(s, j):
    """s[j:] starts with \\u: the index after the escape, or None when s ends inside it.

    A high surrogate (\\ud83d) is only half a character: it is whole once the six
    characters of the low surrogate escape that follows it are there too, so a cut
    between the halves drops both.
    """
    if len(s) < j + 6:
        return None  # "\\u00" is not a character yet
    code = int(s[j + 2 : j + 6], 16)
    j += 6
    if 0xD800 <= code < 0xDC00 and j + 6 > len(s):
        return None  # cut between the two halves of the pair
    return j


def _string_end(s, i):
    """Scan the string that opens at s[i] == '"'.

    Returns (end, whole): end is the index after the closing quote, or None when s ends
    first; whole is the last j where s[:j] ends on a whole character of the string, so
    that s[:whole] + '"' is a prefix of the string.
    """
    j = whole = i + 1
    while j < len(s):
        c = s[j]
        if c == '"':
            return j + 1, j
        if c != "\\":
            j += 1  # a plain character
        elif s[j + 1 : j + 2] == "u":
            j = _unicode_escape_end(s, j)
            if j is None:
                return None, whole
        elif j + 1 < len(s):
            j += 2  # \" \\ \/ \b \f \n \r \t: two characters, one escape
        else:
            return None, whole  # the text ends on a lone backslash
        whole = j
    return None, whole


def complete_json(prefix):
    """Close a cut-off JSON text so that its value is a prefix value of the whole one.

    One left-to-right scan with the JSON grammar. `cut` is the last place where the text
    could stop, `tail` what must be appended there: closing quote, the rest of a literal,
    then a closer for every open container. Complete values, an open container, and whole
    characters of a value string are safe places; half a key, a dangling "," or ":", half
    an escape and a number ending in "-", "." or "e" are not.
    """
    stack = []  # the open containers, "{" or "[", outermost first
    expect = "value"  # value | first_item | first_key | key | colon | after
    cut, tail = None, ""
    i, n = 0, len(prefix)

    def closers():
        return "".join(CLOSER[c] for c in reversed(stack))

    while i < n:
        c = prefix[i]
        if c in " \t\n\r":
            i += 1
            continue
        if expect == "colon":
            if c != ":":
                raise ValueError(f"expected ':' at index {i}")
            i += 1
            expect = "value"
            continue
        if c in "}]" and stack and expect in ("after", "first_item", "first_key"):
            if c != CLOSER[stack[-1]]:
                raise ValueError(f"unexpected {c!r} at index {i}")
            stack.pop()
            i += 1
            expect = "after"
            cut, tail = i, closers()  # a closed container is a complete value
            continue
        if expect == "after":
            if c != "," or not stack:
                raise ValueError(f"unexpected {c!r} at index {i}")
            i += 1  # never a safe place: "[1," must become "[1]", not "[1,]"
            expect = "key" if stack[-1] == "{" else "value"
            continue
        if expect in ("first_key", "key"):
            if c != '"':
                raise ValueError(f"expected a key at index {i}")
            end, _ = _string_end(prefix, i)  # no safe place inside a key: half a key is no key
            if end is None:
                break
            i = end
            expect = "colon"
            continue

        # a value starts at i
        if c in "{[":
            stack.append(c)
            i += 1
            expect = "first_key" if c == "{" else "first_item"
            cut, tail = i, closers()  # "{" alone completes to "{}"
            continue
        if c == '"':
            end, whole = _string_end(prefix, i)
            if end is None:  # cut inside the string: keep its whole characters ("" at least)
                cut, tail = whole, '"' + closers()
                break
            i = end
        elif c in LITERALS:
            word = LITERALS[c]
            got = prefix[i : i + len(word)]
            if not word.startswith(got):
                raise ValueError(f"unexpected {got!r} at index {i}")
            i += len(got)
            if len(got) < len(word):  # "tr" can only become "true"
                cut, tail = i, word[len(got) :] + closers()
                break
        elif c in NUMBER_CHARS:
            j = i
            while j < n and prefix[j] in NUMBER_CHARS:
                j += 1
            m = NUMBER.match(prefix, i, j)
            if j == n:  # the number may go on: keep its longest prefix that is a number
                if m is not None:
                    cut, tail = m.end(), closers()
                break
            if m is None or m.end() != j:
                raise ValueError(f"bad number {prefix[i:j]!r} at index {i}")
            i = j
        else:
            raise ValueError(f"unexpected {c!r} at index {i}")
        expect = "after"
        cut, tail = i, closers()

    if cut is None:
        raise IncompleteJSON(f"no complete JSON token yet in {prefix[:20]!r}")
    return prefix[:cut] + tail


def parse_partial(prefix):
    """The value of a cut-off JSON text: json.loads(complete_json(prefix))."""
    return json.loads(complete_json(prefix))


# -----------------------------------------------------------------------------
# validating against a JSON Schema (the common subset of 2020-12)


def _is_type(x, t):
    if t == "null":
        return x is None
    if t == "boolean":
        return isinstance(x, bool)
    if t == "integer":  # 1.0 is an integer in 2020-12; True is not (bool is an int in Python)
        if isinstance(x, bool):
            return False
        return isinstance(x, int) or (isinstance(x, float) and x.is_integer())
    if t == "number":
        return isinstance(x, (int, float)) and not isinstance(x, bool)
    if t == "string":
        return isinstance(x, str)
    if t == "array":
        return isinstance(x, list)
    if t == "object":
        return isinstance(x, dict)
    raise ValueError(f"unknown type {t!r} in the schema")


def _same(a, b):
    """JSON equality: 1 == 1.0, but True != 1 and [True] != [1]."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _child(path, key):
    """jsonschema's json_path: $.name for plain names, $['a b'] otherwise, [i] for items."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else f"{path}[{key!r}]"


def _check(x, schema, path, errors):
    if schema is True:
        return
    if schema is False:
        errors.append(f"{path}: no value is allowed here")
        return
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(x, t) for t in types):
            errors.append(f"{path}: {x!r} is not of type {' or '.join(types)}")
    if "enum" in schema and not any(_same(x, v) for v in schema["enum"]):
        errors.append(f"{path}: {x!r} is not one of {schema['enum']!r}")
    if "const" in schema and not _same(x, schema["const"]):
        errors.append(f"{path}: {x!r} is not {schema['const']!r}")
    # "format" (email, date, ...) is an annotation: 2020-12 does not assert it by default
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        if "minimum" in schema and x < schema["minimum"]:
            errors.append(f"{path}: {x!r} is less than the minimum {schema['minimum']!r}")
        if "maximum" in schema and x > schema["maximum"]:
            errors.append(f"{path}: {x!r} is more than the maximum {schema['maximum']!r}")
    if isinstance(x, str):
        if "minLength" in schema and len(x) < schema["minLength"]:
            errors.append(f"{path}: {x!r} is shorter than {schema['minLength']}")
        if "maxLength" in schema and len(x) > schema["maxLength"]:
            errors.append(f"{path}: {x!r} is longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], x):
            errors.append(f"{path}: {x!r} does not match {schema['pattern']!r}")
    if isinstance(x, list):
        if "minItems" in schema and len(x) < schema["minItems"]:
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(x) > schema["maxItems"]:
            errors.append(f"{path}: more than {schema['maxItems']} items")
        if "items" in schema:
            for k, item in enumerate(x):
                _check(item, schema["items"], _child(path, k), errors)
    if isinstance(x, dict):
        for key in schema.get("required", []):
            if key not in x:  # reported on the object, as jsonschema does
                errors.append(f"{path}: {key!r} is a required property")
        props = schema.get("properties", {})
        for key, value in x.items():
            if key in props:
                _check(value, props[key], _child(path, key), errors)
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: additional property {key!r} is not allowed")
            elif isinstance(schema.get("additionalProperties"), dict):
                _check(value, schema["additionalProperties"], _child(path, key), errors)


def validate(instance, schema):
    """Every way instance breaks schema, as "json_path: message" strings; [] when valid."""
    errors = []
    _check(instance, schema, "$", errors)
    return errors


# -----------------------------------------------------------------------------
# a prompt task: render, ask, parse, validate, ask again


@dataclass
class PromptTask:
    name: str
    template: str
    schema: dict
    examples: list = field(default_factory=list)  # valid answers shown to the model
    max_attempts: int = 3

    def prompt(self, inputs):
        text = render(self.template, **inputs)
        if self.examples:
            shots = "\n".join(json.dumps(e, ensure_ascii=False) for e in self.examples)
            text += "\n\nExamples of valid answers:\n" + shots
        return text

    def run(self, llm, inputs):
        """Ask llm (a function from prompt text to reply text) until the reply is valid.

        Returns {"ok", "value", "errors", "attempts"}; errors are those of the last reply.
        A retry repeats the prompt with what was wrong, so the model can correct itself.
        """
        first = self.prompt(inputs)
        prompt, errors = first, []
        for attempt in range(1, self.max_attempts + 1):
            reply = llm(prompt)
            try:
                value = json.loads(extract_json(reply))
            except ValueError as exc:  # no JSON, or JSON cut off at max_tokens
                errors = [f"$: the reply holds no complete JSON value ({exc})"]
            else:
                errors = validate(value, self.schema)
                if not errors:
                    return {"ok": True, "value": value, "errors": [], "attempts": attempt}
            feedback = "\n".join(f"- {e}" for e in errors)
            prompt = f"{first}\n\nYour last answer was rejected:\n{feedback}\nReply with JSON only."
        return {"ok": False, "value": None, "errors": errors, "attempts": self.max_attempts}
