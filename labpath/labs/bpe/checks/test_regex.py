"""Checks for the optional RegexTokenizer: merges stay inside regex chunks; special tokens.

The exact split pattern is not compared (GPT-4's needs the third-party `regex` module; a
stdlib approximation is fine), only what every GPT-style pattern guarantees: a chunk
never continues after a run of letters or a run of digits, so no learned token does.
"""

import os
import re
import tempfile

from bpe_ref import first_difference, replay_chunks
from bpe_texts import ENGLISH_TEXT, ROUNDTRIP_STRINGS, UNICODE_TEXT

from labpath.checks import kit

try:  # compile the learner's pattern as their code would: `regex` when it is installed
    import regex as _regex
except ImportError:
    _regex = re

# A GPT-2-like split that both `re` and `regex` understand and that differs from GPT-4's
# on numbers (" 12345" stays one chunk, with its space), so the chunks tell them apart.
# "[ ]?" rather than " ?" first: load() strips the pattern line, a leading space with it.
ASCII_PATTERN = r"[ ]?[A-Za-z]+| ?[0-9]+| ?[^A-Za-z0-9\s]+|\s+"


def chunks_of(tok, text):
    """The learner's own chunks of text, as UTF-8 byte lists (their pattern, not ours)."""
    compiled = getattr(tok, "compiled_pattern", None)
    if compiled is None:
        compiled = _regex.compile(tok.pattern)
    return [list(ch.encode("utf-8")) for ch in compiled.findall(text)]


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
            kit.fail(
                f"learned token {idx} = {vocab[idx]!r} crosses a chunk boundary ({where})",
                hint="split the text with the pattern first and count pairs inside each chunk "
                "only (sum the chunks' counts); merge inside each chunk",
            )
    for s in ROUNDTRIP_STRINGS + [ENGLISH_TEXT, UNICODE_TEXT]:
        back = tok.decode(tok.encode(s))
        if back != s:
            kit.fail(
                f"RegexTokenizer: decode(encode(s)) differs from s = {s[:50]!r}; "
                f"{first_difference(back, s)}",
                hint="every character must land in some chunk (the pattern's last "
                "alternatives catch whitespace), and each chunk's ids must decode back to "
                "it: check merge() and the chunk encoding",
            )


def test_regex_train_learns_most_frequent_chunk_pairs(RegexTokenizer):
    """RegexTokenizer().train(English text, 316): 60 merges, ids 256..315, each a most frequent in-chunk pair."""
    tok = RegexTokenizer()
    vocab_size = 256 + 60
    tok.train(ENGLISH_TEXT, vocab_size)
    merges = getattr(tok, "merges", None)
    if not isinstance(merges, dict):
        kit.fail(
            "RegexTokenizer.merges after train()",
            yours=type(merges).__name__,
            expected="a dict {(int, int): int}",
        )
    ids = list(merges.values())
    if ids != list(range(256, vocab_size)):
        diagnosis = None
        if len(ids) <= 1:
            diagnosis = (
                "train() kept at most one merge: build merges across all the steps and "
                "store them on the tokenizer (self.merges = merges) after the loop"
            )
        kit.fail(
            f"RegexTokenizer: merge ids after train(text, {vocab_size})",
            yours=f"{len(ids)} merges {ids[:6]}",
            expected=f"60 merges [256, 257, ...] (up to {vocab_size - 1})",
            hint="vocab_size - 256 merges with ids 256, 257, ..., kept in self.merges",
            diagnosis=diagnosis,
        )
    pairs = {(int(a), int(b)): int(i) for (a, b), i in merges.items()}
    replay_chunks(
        chunks_of(tok, ENGLISH_TEXT),
        pairs,
        f"RegexTokenizer.train(English text, {vocab_size})",
    )


def test_regex_train_counts_every_chunk_occurrence(RegexTokenizer):
    """RegexTokenizer().train on chunks seen once or a few times: every merge is a most frequent in-chunk pair."""
    # "xy" occurs 6 times in two distinct chunks ("xy", " xy"), (97, 97) 5 times in one
    # chunk seen once, every other pair at most 5 times: a pair's count is its
    # occurrences in all chunks, so counting a distinct chunk once more or once less
    # than it occurs picks the wrong pair within the first merges.
    text = "xy xy xy xy xy xy the lazy cat; aaaaaa!\n"
    vocab_size = 256 + 12
    tok = RegexTokenizer()
    tok.train(text, vocab_size)
    merges = getattr(tok, "merges", None)
    if not isinstance(merges, dict) or len(merges) != vocab_size - 256:
        kit.fail(
            f"RegexTokenizer: merges after train({text!r}, {vocab_size})",
            yours=f"{len(merges)} merges" if isinstance(merges, dict) else type(merges).__name__,
            expected=f"a dict of {vocab_size - 256} merges",
        )
    pairs = {(int(a), int(b)): int(i) for (a, b), i in merges.items()}
    replay_chunks(
        chunks_of(tok, text),
        pairs,
        f"RegexTokenizer.train({text!r}, {vocab_size})",
    )


def test_regex_train_to_256_learns_nothing(RegexTokenizer):
    """RegexTokenizer().train(English text, 256): no merges, and encode gives the UTF-8 bytes."""
    tok = RegexTokenizer()
    tok.train(ENGLISH_TEXT, 256)
    merges = getattr(tok, "merges", None)
    if merges != {}:
        kit.fail(
            "RegexTokenizer: merges after train(text, 256)",
            yours=merges if not isinstance(merges, dict) else f"{len(merges)} merges",
            expected="{} (vocab_size 256 is the bytes alone: 0 merges)",
            hint="vocab_size - 256 merges; 256 is a valid vocab_size",
        )
    s = "the cat sat on 12345 mats!"
    got = list(tok.encode(s))
    if got != list(s.encode("utf-8")):
        kit.fail(
            f"encode({s!r}) after train(text, 256)",
            yours=got[:12],
            expected=list(s.encode("utf-8"))[:12],
            hint="with no merges, encode returns the UTF-8 bytes unchanged",
        )


def test_regex_save_and_load_keeps_pattern_and_special_tokens(RegexTokenizer):
    """save() then load() into RegexTokenizer() restores a custom pattern and the special tokens."""
    kit.skip_unless(RegexTokenizer, "save", "save()")
    kit.skip_unless(RegexTokenizer, "load", "load()")
    kit.skip_unless(
        RegexTokenizer, "register_special_tokens", "register_special_tokens()"
    )
    s = "In 1999 there were 12345 cats; in 2024 the cat sat on 67890 mats!"
    with tempfile.TemporaryDirectory() as tmp:
        # 1. a pattern of the learner's choosing must come back from the .model file
        tok = RegexTokenizer(ASCII_PATTERN)
        tok.train(ENGLISH_TEXT, 256 + 40)
        tok.save(os.path.join(tmp, "custom"))
        other = RegexTokenizer()  # starts with the default pattern
        other.load(os.path.join(tmp, "custom.model"))
        same_pattern = getattr(other, "pattern", None) == ASCII_PATTERN
        if not same_pattern and list(other.encode(s)) != list(tok.encode(s)):
            kit.fail(
                "RegexTokenizer(pattern) saved and loaded: the split pattern after load()",
                yours=getattr(other, "pattern", None),
                expected=ASCII_PATTERN,
                hint="save() writes the pattern on the line after 'minbpe v1'; load() reads it "
                "back into self.pattern (and recompiles it)",
            )
        if list(other.encode(s)) != list(tok.encode(s)):
            kit.fail(
                "encode(s) by a RegexTokenizer(pattern) after save() and load()",
                yours=list(other.encode(s))[:12],
                expected=list(tok.encode(s))[:12],
                hint="load() must split with the pattern it read: recompile it "
                "(self.compiled_pattern = re.compile(self.pattern))",
            )
        # 2. special tokens must come back and be used by encode(..., allowed_special="all")
        tok = RegexTokenizer()
        tok.train(ENGLISH_TEXT, 256 + 40)
        specials = {"<|endoftext|>": 296, "<|fim|>": 297}
        tok.register_special_tokens(dict(specials))
        tok.save(os.path.join(tmp, "special"))
        other = RegexTokenizer()
        other.load(os.path.join(tmp, "special.model"))
    text = "<|endoftext|>the cat sat<|fim|> on 12345 mats<|endoftext|>"
    want = list(tok.encode(text, allowed_special="all"))
    got = list(other.encode(text, allowed_special="all"))
    if got != want:
        kit.fail(
            "encode(text, allowed_special='all') after save() and load() with 2 special tokens",
            yours=got[:10],
            expected=want[:10],
            hint="save() writes the number of special tokens and a 'token id' line each; "
            "load() reads them back into self.special_tokens",
        )
    if other.decode(got) != text:
        kit.fail(
            "decode after save() and load() with special tokens",
            yours=other.decode(got),
            expected=text,
        )


def test_regex_special_tokens(RegexTokenizer):
    """register_special_tokens({'<|endoftext|>': 316}): encode(..., allowed_special='all') emits 316."""
    kit.skip_unless(
        RegexTokenizer, "register_special_tokens", "register_special_tokens()"
    )
    tok = RegexTokenizer()
    tok.train(ENGLISH_TEXT, 256 + 60)
    eot = 256 + 60
    tok.register_special_tokens({"<|endoftext|>": eot})
    text = "<|endoftext|>the cat sat<|endoftext|> on the mat"
    ids = list(tok.encode(text, allowed_special="all"))
    if ids.count(eot) != 2 or ids[0] != eot:
        kit.fail(
            f"encode({text!r}, allowed_special='all')",
            yours=ids[:12],
            expected=f"starts with {eot}, contains it twice",
            hint="split the text around the special tokens first, emit their ids, encode the rest",
        )
    if tok.decode(ids) != text:
        kit.fail(
            "decode of ids with special tokens", yours=tok.decode(ids), expected=text
        )
    ordinary = list(tok.encode(text, allowed_special="none"))
    if eot in ordinary or tok.decode(ordinary) != text:
        kit.fail(
            f"encode({text!r}, allowed_special='none')",
            yours=ordinary[:12],
            expected="the special token encoded as ordinary text",
            hint="with allowed_special='none' the text '<|endoftext|>' is just characters",
        )


def test_regex_special_tokens_allowed_set_and_default(RegexTokenizer):
    """encode(text) refuses a special token by default ("none_raise"); a set allows only its members."""
    kit.skip_unless(
        RegexTokenizer, "register_special_tokens", "register_special_tokens()"
    )
    tok = RegexTokenizer()
    tok.train(ENGLISH_TEXT, 256 + 30)
    tok.register_special_tokens({"<|endoftext|>": 286, "<|pad|>": 287})
    text = "the cat<|endoftext|> sat<|pad|>"
    try:
        ids = tok.encode(text)  # the default, allowed_special="none_raise"
    except Exception:  # ValueError, or minbpe's AssertionError: either refuses
        pass
    else:
        kit.fail(
            f"encode({text!r}) with the default allowed_special='none_raise'",
            yours=list(ids)[:12],
            expected="an exception: the text contains a registered special token",
            hint="'none_raise' (the default) raises when any registered special token occurs",
        )
    plain = "the cat sat on the mat"
    if list(tok.encode(plain)) != list(tok.encode(plain, allowed_special="none")):
        kit.fail(
            f"encode({plain!r}) without special tokens in the text",
            yours=list(tok.encode(plain))[:12],
            expected=list(tok.encode(plain, allowed_special="none"))[:12],
            hint="with no special token in the text, the default encodes it as ordinary text",
        )
    ids = list(tok.encode(text, allowed_special={"<|endoftext|>"}))
    if ids.count(286) != 1 or 287 in ids or tok.decode(ids) != text:
        kit.fail(
            f"encode({text!r}, allowed_special={{'<|endoftext|>'}})",
            yours=ids[:14],
            expected="286 once, 287 never: '<|pad|>' is not in the set, so it stays text",
            hint="a set allows exactly its members: {k: v for k, v in special_tokens.items() "
            "if k in allowed_special}",
        )


def test_regex_longest_special_token_wins(RegexTokenizer):
    """With '<|endoftext|>' and '<|endoftext|><|endoftext|>' registered, the longer one matches first."""
    kit.skip_unless(
        RegexTokenizer, "register_special_tokens", "register_special_tokens()"
    )
    tok = RegexTokenizer()
    tok.train(ENGLISH_TEXT, 256 + 40)
    eot, double = 296, 297
    # registered shorter first: a split regex built in this order lets the shorter win
    tok.register_special_tokens({"<|endoftext|>": eot, "<|endoftext|><|endoftext|>": double})
    text = "the cat<|endoftext|><|endoftext|> sat<|endoftext|> on the mat"
    ids = list(tok.encode(text, allowed_special="all"))

    def plain(s):
        return list(tok.encode(s, allowed_special="none"))

    expected = plain("the cat") + [double] + plain(" sat") + [eot] + plain(" on the mat")
    shorter = plain("the cat") + [eot, eot] + plain(" sat") + [eot] + plain(" on the mat")
    if ids != expected:
        kit.fail(
            f"encode({text!r}, allowed_special='all') with two overlapping special tokens",
            yours=ids,
            expected=expected,
            hint="try the longest special token first: sort them by length, longest "
            "first, before joining them into the split pattern",
            diagnosis="the shorter special token won: a regex alternation takes the first "
            "alternative that matches, so list the longer '<|endoftext|><|endoftext|>' first"
            if ids == shorter
            else None,
        )
