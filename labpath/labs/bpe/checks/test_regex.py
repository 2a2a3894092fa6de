"""Checks for the optional RegexTokenizer: merges stay inside regex chunks; special tokens.

The exact split pattern is not compared (GPT-4's needs the third-party `regex` module; a
stdlib approximation is fine), only what every GPT-style pattern guarantees: a chunk
never continues after a run of letters or a run of digits, so no learned token does.
"""

from bpe_ref import first_difference
from bpe_texts import ENGLISH_TEXT, ROUNDTRIP_STRINGS, UNICODE_TEXT

from labpath.checks import kit


def crossing(token: bytes):
    """The first place a token continues past the end of a letter or digit run, else None."""
    s = token.decode("utf-8", errors="replace")
    for a, b in zip(s, s[1:], strict=False):
        if a.isascii() and a.isalpha() and not b.isalpha():
            return f"letter {a!r} followed by {b!r}"
        if a.isascii() and a.isdigit() and not b.isdigit():
            return f"digit {a!r} followed by {b!r}"
    return None


def test_regex_tokens_stay_inside_chunks(RegexTokenizer):
    """RegexTokenizer().train(English text, 316): no token spans a word end ('e ', 't.', '9 ')."""
    tok = RegexTokenizer()
    tok.train(ENGLISH_TEXT, 256 + 60)
    vocab = tok.vocab
    for idx in sorted(tok.merges.values()):
        where = crossing(vocab[idx])
        if where:
            kit.fail(f"learned token {idx} = {vocab[idx]!r} crosses a chunk boundary ({where})",
                     hint="split the text with the pattern first and count pairs inside each chunk "
                          "only (sum the chunks' counts); merge inside each chunk")
    for s in ROUNDTRIP_STRINGS + [ENGLISH_TEXT, UNICODE_TEXT]:
        back = tok.decode(tok.encode(s))
        if back != s:
            kit.fail(f"RegexTokenizer: decode(encode(s)) differs from s = {s[:50]!r}; "
                     f"{first_difference(back, s)}",
                     hint="every character must land in some chunk (the pattern's last "
                          "alternatives catch whitespace), and each chunk's ids must decode back to "
                          "it: check merge() and the chunk encoding")


def test_regex_special_tokens(RegexTokenizer):
    """register_special_tokens({'<|endoftext|>': 316}): encode(..., allowed_special='all') emits 316."""
    kit.skip_unless(RegexTokenizer, "register_special_tokens", "register_special_tokens()")
    tok = RegexTokenizer()
    tok.train(ENGLISH_TEXT, 256 + 60)
    eot = 256 + 60
    tok.register_special_tokens({"<|endoftext|>": eot})
    text = "<|endoftext|>the cat sat<|endoftext|> on the mat"
    ids = list(tok.encode(text, allowed_special="all"))
    if ids.count(eot) != 2 or ids[0] != eot:
        kit.fail(f"encode({text!r}, allowed_special='all')", yours=ids[:12],
                 expected=f"starts with {eot}, contains it twice",
                 hint="split the text around the special tokens first, emit their ids, encode the rest")
    if tok.decode(ids) != text:
        kit.fail("decode of ids with special tokens", yours=tok.decode(ids), expected=text)
    ordinary = list(tok.encode(text, allowed_special="none"))
    if eot in ordinary or tok.decode(ordinary) != text:
        kit.fail(f"encode({text!r}, allowed_special='none')", yours=ordinary[:12],
                 expected="the special token encoded as ordinary text",
                 hint="with allowed_special='none' the text '<|endoftext|>' is just characters")
