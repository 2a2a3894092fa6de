"""Generated JSON documents for the prompt-lab checks (hypothesis strategies)."""

import json

from hypothesis import strategies as st

# Characters that break naive completers: quotes, backslashes, brackets and separators
# inside strings, multi-byte UTF-8, an emoji (a surrogate pair once escaped), controls.
TRICKY = list('"\\/{}[],: \n\t\x01aé€😀')
text = st.text(
    alphabet=st.one_of(st.sampled_from(TRICKY), st.characters(codec="utf-8")),
    max_size=5,
)
numbers = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),  # exponents: 1e-05, -2.5e+300
    st.integers(-(10**6), 10**6).map(lambda n: n / 1000),
)
leaves = st.one_of(st.none(), st.booleans(), numbers, text)
values = st.recursive(
    leaves,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4), st.dictionaries(text, kids, max_size=4)
    ),
    max_leaves=10,
)
# Containers at the top (the shape of a model's structured answer), nested empties included.
documents = st.one_of(
    st.lists(values, max_size=5), st.dictionaries(text, values, max_size=5)
)


# How models and libraries write JSON: json.dumps' default ", " and ": ", compact, indented.
STYLES = {
    "default": {},
    "compact": {"separators": (",", ":")},
    "indented": {"indent": 1},
}


def dumps(value, ascii_only, style="default"):
    return json.dumps(value, ensure_ascii=ascii_only, **STYLES[style])
