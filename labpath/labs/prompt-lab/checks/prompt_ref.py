"""Independent references for the prompt-lab checks: the prefix property, the part of a
prefix every correct completion keeps, and completers with one known mistake each (so a
report names a mistake only when your output is exactly what that mistake produces)."""

import json
import re

from labpath.checks import kit

MISSING = object()
NUMBER_TEXT = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?\Z")


# ---- the scanners' time limit -----------------------------------------------------

# complete_json and extract_json scan their text with a loop that must move forward on
# every branch. The reference takes milliseconds for a whole document; past LIMIT a call
# (or, in the property checks, all the cuts of one document) fails at the line the loop
# was on, and every later call fails at once instead of waiting again.
LIMIT = 10.0
SCAN_HINT = (
    "a scanning loop that never ends: every branch must move the index forward "
    "(an escape is two characters, \\uXXXX six)"
)


def scanning(what, key="complete_json"):
    """kit.within for a block that calls the learner's scanner."""
    return kit.within(LIMIT, what, hint=SCAN_HINT, key=key)


# ---- JSON values ---------------------------------------------------------------------


def same(a, b):
    """JSON equality with key order: 1 == 1.0, True != 1, {"a","b"} != {"b","a"}."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b)
    if a is None or b is None:
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return False


def kind(x):
    if isinstance(x, bool):
        return "a boolean"
    if x is None:
        return "null"
    if isinstance(x, (int, float)):
        return "a number"
    return {str: "a string", list: "an array", dict: "an object"}.get(
        type(x), type(x).__name__
    )


def number_prefixes(v):
    """Values of the prefixes of v's JSON text that are numbers themselves."""
    text = json.dumps(v)
    return [
        json.loads(text[:k])
        for k in range(1, len(text) + 1)
        if NUMBER_TEXT.match(text[:k])
    ]


def prefix_problem(r, v, path="$", loose_numbers=False):
    """None when r is a prefix value of v (see the brief), else what is wrong and where."""
    if isinstance(v, dict):
        if not isinstance(r, dict):
            return f"{path} is {kind(r)} where the document has an object"
        keys, want = list(r), list(v)
        for n, key in enumerate(keys):
            if n >= len(want) or key != want[n]:
                nxt = want[n] if n < len(want) else None
                if (
                    nxt is not None
                    and isinstance(key, str)
                    and nxt.startswith(key)
                    and key != nxt
                ):
                    return f"{path} has key {key!r}, only the start of the document's key {nxt!r}"
                return f"{path} has key {key!r} where the document's keys are {want[: n + 1]!r}"
        for n, key in enumerate(keys):
            if n < len(keys) - 1 and not same(r[key], v[key]):
                return f"{path}.{key} is {json.dumps(r[key])[:40]}, the document's (complete) value is {json.dumps(v[key])[:40]}"
        return (
            prefix_problem(
                r[keys[-1]], v[keys[-1]], f"{path}.{keys[-1]}", loose_numbers
            )
            if keys
            else None
        )
    if isinstance(v, list):
        if not isinstance(r, list):
            return f"{path} is {kind(r)} where the document has an array"
        if len(r) > len(v):
            return f"{path} has {len(r)} items, the document only {len(v)}"
        for n in range(len(r) - 1):
            if not same(r[n], v[n]):
                return f"{path}[{n}] is {json.dumps(r[n])[:40]}, the document's (complete) item is {json.dumps(v[n])[:40]}"
        return (
            prefix_problem(r[-1], v[len(r) - 1], f"{path}[{len(r) - 1}]", loose_numbers)
            if r
            else None
        )
    if isinstance(v, str):
        if not isinstance(r, str):
            return f"{path} is {kind(r)} where the document has a string"
        if not v.startswith(r):
            return f"{path} is {r[-30:]!r}, which does not start the document's string {v[:40]!r}"
        return None
    if isinstance(v, bool) or v is None:
        return (
            None
            if same(r, v)
            else f"{path} is {json.dumps(r)[:20]} where the document has {json.dumps(v)}"
        )
    # a number: equal to a number whose text starts v's text
    if isinstance(r, bool) or not isinstance(r, (int, float)):
        return f"{path} is {kind(r)} where the document has a number"
    if loose_numbers or any(r == x for x in number_prefixes(v)):
        return None
    return f"{path} is {r!r}, not a number that {json.dumps(v)} starts with"


def lone_surrogate(x, path="$"):
    """The path of a string holding half a surrogate pair (not encodable as UTF-8)."""
    if isinstance(x, str):
        try:
            x.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    items = (
        x.items()
        if isinstance(x, dict)
        else enumerate(x)
        if isinstance(x, list)
        else ()
    )
    for k, v in items:
        for found in (
            lone_surrogate(k, path) if isinstance(k, str) else None,
            lone_surrogate(v, f"{path}.{k}" if isinstance(k, str) else f"{path}[{k}]"),
        ):
            if found:
                return found
    return None


def strict_loads(text):
    """json.loads without NaN/Infinity (not JSON)."""

    def no_constant(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=no_constant)


# ---- tokens of a prefix ---------------------------------------------------------------

# Each token: (kind, start, end, complete, keep) with kind one of { } [ ] , : s n l and
# keep the end of its longest prefix that is a whole value part (for an open atom).


def _string_token(p, i, mistake):
    j, keep = i + 1, i + 1
    while j < len(p):
        c = p[j]
        if c == '"':
            return j + 1, True, j + 1
        if c == "\\" and mistake != "escape-skips-one":
            if j + 1 >= len(p):
                return (
                    len(p),
                    False,
                    (len(p) if mistake == "lone-backslash-kept" else keep),
                )
            if p[j + 1] == "u":
                if j + 6 > len(p):
                    return (
                        len(p),
                        False,
                        (len(p) if mistake == "partial-unicode-kept" else keep),
                    )
                code = int(p[j + 2 : j + 6], 16)
                j += 6
                if 0xD800 <= code < 0xDC00 and mistake != "half-surrogate-kept":
                    if j + 6 > len(p):
                        return len(p), False, keep
                    if p[j : j + 2] == "\\u":
                        j += 6
            else:
                j += 2
        else:
            j += 1
        keep = j
    return len(p), False, keep


def tokens(p, mistake=None):
    out, i = [], 0
    while i < len(p):
        c = p[i]
        if c in " \t\r\n":
            i += 1
        elif c in "{}[],:":
            out.append((c, i, i + 1, True, i + 1))
            i += 1
        elif c == '"':
            end, complete, keep = _string_token(p, i, mistake)
            out.append(("s", i, end, complete, keep))
            i = end
        elif c in "tfn":
            word = {"t": "true", "f": "false", "n": "null"}[c]
            got = p[i : i + len(word)]
            if not word.startswith(got):
                raise ValueError(f"not JSON at {i}")
            out.append(("l", i, i + len(got), got == word, i + len(got)))
            i += len(got)
        elif c in "-0123456789":
            j = i
            while j < len(p) and p[j] in "+-.0123456789eE":
                j += 1
            text = p[i:j]
            if j < len(p):
                if not NUMBER_TEXT.match(text):
                    raise ValueError(f"bad number at {i}")
                out.append(("n", i, j, True, j))
            else:
                keep = i
                if mistake == "number-fragment-kept":
                    keep = j
                else:
                    for k in range(len(text), 0, -1):
                        if NUMBER_TEXT.match(text[:k]):
                            keep = i + k
                            break
                out.append(("n", i, j, False, keep))
            i = j
        else:
            raise ValueError(f"not JSON at {i}")
    return out


def complete_with(p, mistake=None):
    """A correct completion of prefix p (mistake=None), or the one a known mistake gives.

    Walks the tokens with a stack and remembers the last safe cut and what closes it.
    """
    if mistake == "braces-in-strings-counted":
        return _naive(p)
    stack, expect = [], "value"
    cut, tail = None, ""
    for kind_, start, end, complete, keep in tokens(p, mistake):
        close = "".join("}" if c == "{" else "]" for c in reversed(stack))
        if kind_ in "{[":
            stack.append(kind_)
            expect = "key" if kind_ == "{" else "value"
            cut, tail = end, ("}" if kind_ == "{" else "]") + close
        elif kind_ in "}]":
            stack.pop()
            expect = "after"
            cut, tail = end, "".join("}" if c == "{" else "]" for c in reversed(stack))
        elif kind_ == ",":
            expect = "key" if stack and stack[-1] == "{" else "value"
            if mistake == "dangling-comma-kept":
                cut, tail = end, close
        elif kind_ == ":":
            expect = "value"
        elif kind_ == "s" and expect == "key":
            if not complete:
                if mistake == "half-key-kept":
                    cut, tail = end, '": null' + close
                break
            expect = "colon"
        elif complete:
            expect = "after"
            cut, tail = end, close
        else:  # the open atom at the end of p
            if kind_ == "s":
                cut, tail = keep, '"' + close
            elif kind_ == "l":
                word = {"t": "true", "f": "false", "n": "null"}[p[start]]
                cut, tail = end, word[end - start :] + close
                if mistake == "literal-as-string":
                    return p[:start] + json.dumps(p[start:end]) + close
            elif keep > start:
                cut, tail = keep, close
            break
    if cut is None:
        return None
    return p[:cut] + tail


def _naive(p):
    """Close every {/[ not yet closed, counting brackets inside strings too."""
    depth = []
    for c in p:
        if c in "{[":
            depth.append("}" if c == "{" else "]")
        elif c in "}]" and depth:
            depth.pop()
    quote = '"' if p.count('"') % 2 else ""
    return p + quote + "".join(reversed(depth))


MISTAKES = {
    "braces-in-strings-counted": "a '{' or '[' inside a string was counted as structure: track whether the scan is inside a string before counting brackets",
    "escape-skips-one": 'an escaped quote \\" was taken as the end of the string: after a backslash, skip the next character too',
    "lone-backslash-kept": "incomplete escape kept: the text ends on a lone backslash inside a string; drop it",
    "partial-unicode-kept": "an incomplete \\uXXXX escape was kept; drop it until all four hex digits are there",
    "half-surrogate-kept": "lone surrogate: half of a \\ud83d\\ude00 pair was kept; json.loads accepts it, but it cannot be encoded as UTF-8: drop the first half until the second arrives",
    "half-key-kept": "half a key was kept with a made-up value: a key that is cut off is not a key of the document; drop the member",
    "dangling-comma-kept": "a dangling ',' was kept before the closing brackets: cut back to the last complete value",
    "number-fragment-kept": "a number cut after '-', '.', 'e' or 'e-' was kept verbatim: keep its longest prefix that is a number, or drop it",
    "literal-as-string": "a cut-off true/false/null became a string: complete the literal (tr -> true) or drop it",
}


def _agree(theirs, yours):
    if theirs is None or yours is None:
        return theirs is yours
    if theirs.strip() == yours.strip():
        return True
    try:
        return same(json.loads(theirs), json.loads(yours))
    except ValueError:
        return False


# Prefixes that tell the catalogued mistakes apart (each is wrong under some of them).
PROBES = [
    '["a{',
    '{"k": "[x',
    '["a\\",',
    '["ab\\',
    '["x\\u00',
    '["x\\u',
    '["\\ud83d',
    '["a\\ud83d\\ud',
    '{"na',
    '{"a": 1, "b',
    "[1, ",
    '{"a": 1,',
    "[-",
    "[1.",
    "[2e",
    "[3e-",
    "[tr",
    '{"a": fals',
    "[nu",
    '{"a": [1, {"b": 2}, "c',
    "[[1, 2], [3",
]


def diagnose(fn, prefix, yours):
    """The catalogued mistakes that explain your completion `yours` of `prefix`.

    A mistake is named only when it produces exactly your output there and also on every
    probe prefix where it differs from a correct completion; None when none does.
    """
    cache = {}

    def learner(p):
        if p not in cache:
            try:
                out = fn(p)
                cache[p] = out if isinstance(out, str) else None
            except Exception:
                cache[p] = None
        return cache[p]

    fits = []
    for mistake, sentence in MISTAKES.items():
        try:
            if not _agree(complete_with(prefix, mistake), yours):
                continue
        except (ValueError, IndexError, KeyError):
            continue
        seen, ok = 0, True
        for probe in PROBES:
            try:
                theirs = complete_with(probe, mistake)
            except (ValueError, IndexError, KeyError):
                continue
            if _agree(theirs, complete_with(probe)):
                continue
            seen += 1
            if not _agree(theirs, learner(probe)):
                ok = False
                break
        if ok and seen:
            fits.append(sentence)
    return "; ".join(fits) or None


def judge(fn, p, v, keep=None):
    """None when fn(p) is a correct completion of prefix p of a document with value v,
    else (what is wrong, your text). keep: the (path, value) of the last value closed in
    p (from closing_points), else it is worked out from p."""
    try:
        t = fn(p)
    except NotImplementedError:
        raise
    except Exception as exc:
        if isinstance(exc, ValueError) and may_raise(p):
            return None
        return f"complete_json({p!r}) raised {type(exc).__name__}: {exc}", None
    if not isinstance(t, str):
        return (
            f"complete_json({p!r}) returned {type(t).__name__}, expected JSON text (a str)",
            None,
        )
    try:
        r = strict_loads(t)
    except ValueError as exc:
        return f"complete_json({p!r}) = {t!r} is not valid JSON ({exc})", t
    try:
        json.dumps(r, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return (
            f"complete_json({p!r}) = {t!r}: the string at {lone_surrogate(r)} holds half a "
            "surrogate pair, which cannot be encoded as UTF-8"
        ), t
    problem = prefix_problem(r, v)
    if problem:
        return (
            f"complete_json({p!r}) = {t!r} is not a prefix of the document: {problem}",
            t,
        )
    if keep is None:
        low = closed_part(p)
        lost = low is not MISSING and prefix_problem(low, r) is not None
        expected = json.dumps(low) if lost else ""
    else:
        path, value = keep
        lost = not (_has(r, path) and same(_at(r, path), value))
        expected = f"{_show(path)} = {json.dumps(value, ensure_ascii=False)[:60]}"
    if lost:
        return (
            f"complete_json({p!r}) = {t!r} drops a value that is complete in the prefix: "
            f"every correct completion holds {expected}"
        ), t
    return None


def _has(x, path):
    for k in path:
        if isinstance(k, int):
            if not isinstance(x, list) or k >= len(x):
                return False
        elif not isinstance(x, dict) or k not in x:
            return False
        x = x[k]
    return True


def _at(x, path):
    for k in path:
        x = x[k]
    return x


def _show(path):
    return "$" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path)


def closing_points(text):
    """For a complete JSON text: (end, path, value) of every value, in order of its end."""
    out, decoder, pos = [], json.JSONDecoder(), [0]

    def ws():
        while pos[0] < len(text) and text[pos[0]] in " \t\r\n":
            pos[0] += 1

    def value(path):
        ws()
        c = text[pos[0]]
        if c in "{[":
            pos[0] += 1
            result = {} if c == "{" else []
            ws()
            while text[pos[0]] not in "}]":
                if c == "{":
                    key, pos[0] = decoder.raw_decode(text, pos[0])
                    ws()
                    pos[0] += 1  # the ':'
                    result[key] = value(path + (key,))
                else:
                    result.append(value(path + (len(result),)))
                ws()
                if text[pos[0]] == ",":
                    pos[0] += 1
                    ws()
            pos[0] += 1
        else:
            result, pos[0] = decoder.raw_decode(text, pos[0])
        out.append((pos[0], path, result))
        return result

    value(())
    return out


# ---- what every correct completion keeps ----------------------------------------------


def closed_part(p):
    """The value of everything closed in p: open atoms dropped, open containers kept only
    when they hold something closed. MISSING when nothing is (a top-level container is
    never dropped: "{" keeps {})."""
    toks = tokens(p)
    pos = 0

    def value():
        nonlocal pos
        if pos >= len(toks):
            return MISSING, False
        kind_, start, end, complete, _ = toks[pos]
        pos += 1
        if kind_ in "snl":
            if not complete:
                return MISSING, False
            return json.loads(p[start:end]), True
        if kind_ == "[":
            items = []
            while pos < len(toks):
                if toks[pos][0] == "]":
                    pos += 1
                    return items, True
                if toks[pos][0] == ",":
                    pos += 1
                item, done = value()
                if item is not MISSING:
                    items.append(item)
                if not done:
                    return (items if items else MISSING), False
            return (items if items else MISSING), False
        members = {}
        while pos < len(toks):
            if toks[pos][0] == "}":
                pos += 1
                return members, True
            if toks[pos][0] == ",":
                pos += 1
            if pos >= len(toks) or not toks[pos][3]:
                break  # no key, or half a key
            key = json.loads(p[toks[pos][1] : toks[pos][2]])
            pos += 2  # the key and its ':'
            item, done = value()
            if item is not MISSING:
                members[key] = item
            if not done:
                break
        return (members if members else MISSING), False

    stripped = p.lstrip()
    got, _ = value()
    if got is MISSING and stripped[:1] in ("{", "["):
        return {} if stripped[0] == "{" else []
    return got


def may_raise(p):
    """Whether p holds no complete token of a value, so IncompleteJSON is allowed."""
    s = p.strip()
    return s in ("", "-") or any(
        w.startswith(s) and s != w for w in ("true", "false", "null")
    )
