"""prompt_lab: the deterministic half of a prompt pipeline, the half that must never be wrong.

Fill a template, find the JSON in a model's reply, finish a reply that was cut off at
max_tokens, check it against a schema, and ask again when it is wrong. The brief
(README.md) states each function's contract; `labpath check prompt-lab` tests them.
"""

import json
from dataclasses import dataclass, field

# -----------------------------------------------------------------------------
# templates


def render(template, **variables):
    """Fill {name} placeholders; {{ and }} are literal braces.

    A missing variable is a KeyError naming it; an unused variable is a ValueError; only
    plain names are allowed ({x.__class__}, {x[0]}, {x!r}, {x:>10} are ValueErrors).
    """
    # TODO: walk string.Formatter().parse(template): it yields (literal, name, spec,
    # conversion) and already turns "{{" into "{". Check each name, then join the pieces.
    raise NotImplementedError


# -----------------------------------------------------------------------------
# finding the JSON in a model's reply


def extract_json(text):
    """The first JSON object or array in text, as it is written there; ValueError if none."""
    # TODO: try json.JSONDecoder().raw_decode(text, i) at each "{" or "[" in order.
    raise NotImplementedError


# -----------------------------------------------------------------------------
# finishing JSON that was cut off


class IncompleteJSON(ValueError):
    """The prefix holds no complete token of a value yet ("", whitespace, "-", "tr")."""


def complete_json(prefix):
    """Close a cut-off JSON text so that its value is a prefix value of the whole one.

    json.loads(complete_json(D[:i])) keeps everything complete in D[:i], adds nothing
    that is not in D, and equals D's value when nothing was cut. See the brief.
    """
    # TODO: scan the prefix once, left to right, with a stack of open containers and what
    # the grammar expects next (a value, a key, ':' or ','). Remember the last safe place
    # to cut and what closes it there: after a complete value or an opening bracket, and
    # after each whole character of a value string. Half a key, a dangling ',' or ':',
    # half an escape (\, \u00, half a surrogate pair) and a number ending in '-', '.' or
    # 'e' are never safe. Raise IncompleteJSON when there is no safe place at all.
    raise NotImplementedError


def parse_partial(prefix):
    """The value of a cut-off JSON text: json.loads(complete_json(prefix))."""
    return json.loads(complete_json(prefix))


# -----------------------------------------------------------------------------
# validating against a JSON Schema (the common subset of 2020-12)


def validate(instance, schema):
    """Every way instance breaks schema, as "json_path: message" strings; [] when valid.

    Keywords: type, enum, const, minimum, maximum, minLength, maxLength, pattern,
    minItems, maxItems, items, required, properties, additionalProperties. You may use
    the jsonschema package instead (error.json_path gives the path).
    """
    # TODO: recurse through the instance with the json_path of each value ($, $.key,
    # $['a b'], $[0]); remember that True is not an integer and 1.0 is.
    raise NotImplementedError


# -----------------------------------------------------------------------------
# a prompt task: render, ask, parse, validate, ask again


@dataclass
class PromptTask:
    name: str
    template: str
    schema: dict
    examples: list = field(default_factory=list)  # valid answers shown to the model
    max_attempts: int = 3

    def run(self, llm, inputs):
        """Ask llm (prompt text -> reply text) until the reply is valid, at most
        max_attempts times; returns {"ok", "value", "errors", "attempts"}."""
        # TODO: render the prompt, call llm, extract_json + json.loads + validate; on
        # failure ask again with the first prompt plus what was wrong.
        raise NotImplementedError
