"""Checks for the bpe lab: helpers, BasicTokenizer training, encoding, decoding, round trips.

Training is replayed step by step with an independent reference, so any correct
tie-breaking rule passes; exact merges are only required where the data has no ties.
"""

import inspect
import os
import tempfile

from bpe_ref import encode as ref_encode
from bpe_ref import first_difference, pair_counts, replay
from bpe_ref import train as ref_train
from bpe_texts import ROUNDTRIP_STRINGS, UNICODE_TEXT
from hypothesis import given, settings
from hypothesis import strategies as st

from labpath.checks import kit

CODE_POINT_HINT = (
    "tokenize UTF-8 bytes, not code points: ids = list(text.encode('utf-8')), "
    "and decode by joining the vocab's bytes and calling .decode('utf-8', errors='replace')"
)


def trained(BasicTokenizer, text, vocab_size):
    tok = BasicTokenizer()
    try:
        tok.train(text, vocab_size)
    except KeyError as exc:
        kit.fail(
            f"train(text, {vocab_size}) raised KeyError: {exc}",
            hint=CODE_POINT_HINT,
            diagnosis="a pair refers to an id missing from vocab: ids above 255 before "
            "any merge come from ord(c) (code points), not from UTF-8 bytes",
        )
    return tok


def ordered_merges(tok):
    """The learner's merges as a dict, in rank (new id) order."""
    merges = getattr(tok, "merges", None)
    if not isinstance(merges, dict):
        kit.fail(
            "tokenizer.merges after train()",
            yours=type(merges).__name__,
            expected="a dict {(int, int): int}",
        )
    return dict(
        sorted(((tuple(p), int(i)) for p, i in merges.items()), key=lambda kv: kv[1])
    )


def roundtrip(tok, s, what):
    """decode(encode(s)) == s, with a diagnosis for the usual causes."""
    try:
        ids = tok.encode(s)
        back = tok.decode(ids)
    except KeyError as exc:
        kit.fail(
            f"{what}: encode/decode of {s!r} raised KeyError: {exc}",
            hint=CODE_POINT_HINT,
            diagnosis="an id has no entry in vocab: ids >= 256 that are not merges come from "
            "ord(c) (code points), or vocab was not updated for a merge",
        )
    except UnicodeDecodeError as exc:
        kit.fail(f"{what}: decode raised {exc}", hint="decode with errors='replace'")
    if back != s:
        kit.fail(
            f"{what}: decode(encode(s)) differs from s = {s[:60]!r}; {first_difference(back, s)}",
            hint="encode must keep every byte (merge() replaces pairs, never drops or repeats ids); "
            + CODE_POINT_HINT,
        )
    bad = [i for i in ids if not isinstance(i, int)]
    if bad:
        kit.fail(
            f"{what}: encode returned non-integers",
            yours=bad[:5],
            expected="a list of ints",
        )
    return ids


# ---- helpers -----------------------------------------------------------------------


def test_get_stats_counts_consecutive_pairs(helpers):
    """get_stats([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}; [] and [5] give {}."""
    get_stats, _ = helpers
    cases = [
        ([1, 2, 3, 1, 2], {(1, 2): 2, (2, 3): 1, (3, 1): 1}),
        ([7, 7, 7, 7], {(7, 7): 3}),
        ([4, 9], {(4, 9): 1}),
        ([5], {}),
        ([], {}),
    ]
    for ids, expected in cases:
        got = dict(get_stats(list(ids)))
        if got != expected:
            hint = None
            last = (ids[-2], ids[-1]) if len(ids) >= 2 else None
            if last and got.get(last, 0) == expected[last] - 1:
                hint = "the last pair is missing: n ids have n - 1 pairs; zip(ids, ids[1:]) gives all of them"
            kit.fail(f"get_stats({ids})", yours=got, expected=expected, hint=hint)


def test_get_stats_adds_to_given_counts(helpers):
    """get_stats(ids, counts) adds into counts in place (optional second argument)."""
    get_stats, _ = helpers
    if len(inspect.signature(get_stats).parameters) < 2:
        import pytest

        pytest.skip(
            "your get_stats takes no counts argument; skipped (optional in this lab)"
        )
    counts = {(1, 2): 3}
    out = get_stats([1, 2, 2], counts)
    if dict(counts) != {(1, 2): 4, (2, 2): 1}:
        kit.fail(
            "counts after get_stats([1, 2, 2], {(1, 2): 3})",
            yours=dict(counts),
            expected={(1, 2): 4, (2, 2): 1},
            hint="update the dict you were given, in place",
        )
    if out is not None and dict(out) != dict(counts):
        kit.fail(
            "get_stats(ids, counts) return value",
            yours=dict(out),
            expected=dict(counts),
        )


def test_merge_replaces_non_overlapping_pairs(helpers):
    """merge([1, 2, 3, 1, 2], (1, 2), 4) == [4, 3, 4]; [97, 97, 97] with (97, 97) -> [256, 97]."""
    _, merge = helpers
    cases = [
        ([1, 2, 3, 1, 2], (1, 2), 4, [4, 3, 4]),
        ([97, 97, 97], (97, 97), 256, [256, 97]),
        ([97, 97, 97, 97], (97, 97), 256, [256, 256]),
        ([5, 1, 2], (1, 2), 300, [5, 300]),
        ([1, 2, 1], (2, 2), 9, [1, 2, 1]),
        ([1], (1, 2), 4, [1]),
        ([], (1, 2), 4, []),
    ]
    for ids, pair, idx, expected in cases:
        got = list(merge(list(ids), pair, idx))
        if got != expected:
            hint = "scan left to right; after replacing a pair, skip both of its ids (i += 2)"
            kit.fail(
                f"merge({ids}, {pair}, {idx})", yours=got, expected=expected, hint=hint
            )


# ---- training ----------------------------------------------------------------------


def test_wikipedia_example(BasicTokenizer):
    """train("aaabdaaabac", 259): three valid merges and encode(...) == [258, 100, 258, 97, 99]."""
    text = "aaabdaaabac"
    tok = trained(BasicTokenizer, text, 256 + 3)
    merges = ordered_merges(tok)
    if list(merges.values()) != [256, 257, 258]:
        kit.fail(
            "new ids of the merges",
            yours=list(merges.values()),
            expected=[256, 257, 258],
            hint="vocab_size counts the 256 bytes: vocab_size - 256 merges, ids 256, 257, ...",
        )
    # step 2 is a tie between (256, 97) and (97, 98): any most-frequent pair is accepted
    replay(text, merges, 'train("aaabdaaabac", 259)')
    expected = ref_encode(text, merges)  # [258, 100, 258, 97, 99] with minbpe's tie-break
    got = roundtrip(tok, text, 'train("aaabdaaabac", 259)')
    if got != expected:
        kit.fail(
            'encode("aaabdaaabac") after train(..., 259)', yours=got, expected=expected
        )


def test_train_learns_the_reference_merges(BasicTokenizer):
    """On the names file (no ties in the first 24 steps) your first merges equal the reference's."""
    text = kit.data_path("names.txt").read_text(encoding="utf-8", errors="replace")
    vocab_size = 256 + 24
    tok = trained(BasicTokenizer, text, vocab_size)
    merges = ordered_merges(tok)
    expected, tied = ref_train(text, vocab_size)
    exact = tied[0] if tied else len(expected)  # steps before the first tie are unique
    ours, theirs = list(merges.items())[:exact], list(expected.items())[:exact]
    first = pair_counts(list(text.encode("utf-8")))
    for step, (got, want) in enumerate(zip(ours, theirs, strict=False)):
        if got != want:
            diagnosis = None
            if got[1] != want[1]:
                diagnosis = "the new id is wrong: merge i gets id 256 + i"
            elif step == 0 and got[0] == max(first):
                diagnosis = "you chose the largest pair, max(stats), not the most frequent: max(stats, key=stats.get)"
            kit.fail(
                f"merge {step + 1} on the names file",
                yours=got,
                expected=want,
                hint="count all consecutive pairs, merge the most frequent one everywhere, repeat",
                diagnosis=diagnosis,
            )
    if len(ours) < len(theirs):
        kit.fail("number of merges", yours=len(merges), expected=vocab_size - 256)
    replay(text, merges, "train(names, 280)")


def test_merges_and_vocab_are_consistent(BasicTokenizer):
    """After train(text, 300): 44 merges with ids 256..299 in order, vocab[idx] == vocab[a] + vocab[b]."""
    vocab_size = 300
    tok = trained(BasicTokenizer, UNICODE_TEXT, vocab_size)
    merges = ordered_merges(tok)
    raw = list(tok.merges.values())
    if raw != list(range(256, vocab_size)):
        kit.fail(
            "the merge ids in insertion order",
            yours=raw[:8],
            expected=list(range(256, 264)),
            hint="vocab_size - 256 merges with ids 256, 257, ..., inserted into merges in that order",
        )
    vocab = getattr(tok, "vocab", None)
    if not isinstance(vocab, dict) or len(vocab) != vocab_size:
        kit.fail(
            "len(tokenizer.vocab) after train(text, 300)",
            yours=len(vocab) if isinstance(vocab, dict) else type(vocab).__name__,
            expected=vocab_size,
        )
    for b in range(256):
        if vocab.get(b) != bytes([b]):
            kit.fail(f"vocab[{b}]", yours=vocab.get(b), expected=bytes([b]))
    for (a, b), idx in merges.items():
        if vocab.get(idx) != vocab.get(a, b"") + vocab.get(b, b""):
            kit.fail(
                f"vocab[{idx}] for the merge ({a}, {b})",
                yours=vocab.get(idx),
                expected=vocab.get(a, b"") + vocab.get(b, b""),
                hint="a merged token's bytes are its two halves' bytes: vocab[a] + vocab[b]",
            )
    replay(UNICODE_TEXT, merges, "train(multilingual text, 300)")


# Information, not a requirement: recounting every pair after each merge is correct
# BPE, but the reference (counts updated only where a merge changes them) is faster.
SPEED_VOCAB = 512
SPEED_RATIO = 5


@kit.after("test_train_learns_the_reference_merges")
def test_training_time_on_the_names_file(BasicTokenizer):
    """train(names, 512) timed against the reference solution (reported, never failed)."""
    text = kit.data_path("names.txt").read_text(encoding="utf-8", errors="replace")
    reference = kit.reference_module("bpe").BasicTokenizer
    kit.budget(
        f"train(names, {SPEED_VOCAB})",
        learner=lambda: BasicTokenizer().train(text, SPEED_VOCAB),
        reference=lambda: reference().train(text, SPEED_VOCAB),
        max_ratio=SPEED_RATIO,
        # memory traced on a short run of the same text (tracing slows recounting 10x)
        memory=(
            lambda: BasicTokenizer().train(text, 256 + 8),
            lambda: reference().train(text, 256 + 8),
        ),
    )


# ---- encoding and decoding ---------------------------------------------------------


def test_encode_applies_merges_by_rank(BasicTokenizer):
    """With merges {(98, 99): 256, (97, 98): 257}, encode("abcab") == [97, 256, 257]."""
    tok = trained(BasicTokenizer, "xy", 256)  # no merges yet; then set them by hand
    tok.merges = {(98, 99): 256, (97, 98): 257}
    tok.vocab = {i: bytes([i]) for i in range(256)}
    tok.vocab.update({256: b"bc", 257: b"ab"})
    got = list(tok.encode("abcab"))
    expected = [97, 256, 257]
    if got != expected:
        diagnosis = None
        if got == [257, 99, 257]:
            diagnosis = "you merged the most frequent pair in the input; encode merges by rank (earliest learned first)"
        kit.fail(
            'encode("abcab") with merges {(98, 99): 256, (97, 98): 257}',
            yours=got,
            expected=expected,
            diagnosis=diagnosis,
            hint="at each step merge the pair with the lowest id in merges, not the most frequent",
        )
    # short texts: two bytes are already one pair, three bytes two pairs
    for text, expected in (("bc", [256]), ("abc", [97, 256])):
        got = list(tok.encode(text))
        if got != expected:
            kit.fail(
                f"encode({text!r}) with merges {{(98, 99): 256, (97, 98): 257}}",
                yours=got,
                expected=expected,
                hint="keep merging while at least 2 ids are left (while len(ids) >= 2)",
            )


def test_untrained_tokenizer_encodes_raw_bytes(BasicTokenizer):
    """BasicTokenizer() before train(): encode gives the UTF-8 bytes, decode knows all 256 of them."""
    tok = BasicTokenizer()
    s = "naïve 😉"
    got = list(tok.encode(s))
    if got != list(s.encode("utf-8")):
        kit.fail(
            f"BasicTokenizer().encode({s!r}) without training",
            yours=got,
            expected=list(s.encode("utf-8")),
            hint="with no merges, encode returns the UTF-8 bytes unchanged",
        )
    ids = list(range(256))
    expected = bytes(ids).decode("utf-8", errors="replace")
    try:
        back = tok.decode(ids)
    except KeyError as exc:
        kit.fail(
            f"BasicTokenizer().decode(list(range(256))) without training raised KeyError: {exc}",
            hint="a new tokenizer's vocab holds all 256 single bytes: "
            "{idx: bytes([idx]) for idx in range(256)}",
        )
    if back != expected:
        kit.fail(
            "BasicTokenizer().decode(list(range(256))) without training",
            yours=back[:40],
            expected=expected[:40],
            hint="a new tokenizer's vocab holds all 256 single bytes: "
            "{idx: bytes([idx]) for idx in range(256)}",
        )


def test_encode_matches_reference_encoder(BasicTokenizer):
    """With your own merges, encode(s) equals the reference encoder's ids for mixed-script strings."""
    tok = trained(BasicTokenizer, UNICODE_TEXT, 300)
    merges = ordered_merges(tok)
    for s in ROUNDTRIP_STRINGS + [
        UNICODE_TEXT[:400],
        "the dog naps; 안녕히 가세요 👩‍💻",
    ]:
        got = list(tok.encode(s))
        expected = ref_encode(s, merges)
        if got != expected:
            kit.fail(
                f"encode({s[:60]!r}) with your trained merges: {first_difference(got, expected)}",
                hint="keep merging (lowest rank first) until no pair of the current ids is in merges",
            )


def test_decode_replaces_invalid_utf8(BasicTokenizer):
    """decode([0xE2]) == '\\ufffd': a partial UTF-8 character becomes U+FFFD, no exception."""
    tok = trained(BasicTokenizer, "hello hello", 258)
    for ids in ([0xE2], [104, 0xE2, 0x82], [0xF0, 0x9F, 0x98], [0x80, 105]):
        expected = bytes(ids).decode("utf-8", errors="replace")
        try:
            got = tok.decode(ids)
        except UnicodeDecodeError as exc:
            kit.fail(
                f"decode({ids}) raised UnicodeDecodeError ({exc})",
                expected=expected,
                hint="a token sequence can stop mid-character: .decode('utf-8', errors='replace')",
            )
        if got != expected:
            kit.fail(
                f"decode({ids})",
                yours=got,
                expected=expected,
                hint="join the vocab bytes, then .decode('utf-8', errors='replace')",
            )


def test_roundtrip_known_strings(BasicTokenizer):
    """decode(encode(s)) == s for '', '?', Korean, emoji, controls; with 0 and with 44 merges."""
    for vocab_size in (256, 300):
        tok = trained(BasicTokenizer, UNICODE_TEXT, vocab_size)
        for s in ROUNDTRIP_STRINGS + [UNICODE_TEXT]:
            roundtrip(tok, s, f"tokenizer trained with vocab_size={vocab_size}")


_PROPERTY_TOKENIZER = {}


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(s=st.text(max_size=40))
def test_roundtrip_any_unicode_string(BasicTokenizer, s):
    """decode(encode(s)) == s for 150 generated Unicode strings (hypothesis, derandomized)."""
    if "tok" not in _PROPERTY_TOKENIZER:
        _PROPERTY_TOKENIZER["tok"] = trained(BasicTokenizer, UNICODE_TEXT, 300)
    roundtrip(_PROPERTY_TOKENIZER["tok"], s, "tokenizer trained with vocab_size=300")


def test_save_and_load_roundtrip(BasicTokenizer):
    """save(prefix) then load(prefix + '.model') restores the merges (optional feature)."""
    kit.skip_unless(BasicTokenizer, "save", "save()")
    kit.skip_unless(BasicTokenizer, "load", "load()")
    tok = trained(BasicTokenizer, UNICODE_TEXT, 290)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "tok")
        tok.save(prefix)
        other = BasicTokenizer()
        other.load(prefix + ".model")
    if ordered_merges(other) != ordered_merges(tok):
        kit.fail(
            "merges after save() and load()",
            yours=list(ordered_merges(other).items())[:4],
            expected=list(ordered_merges(tok).items())[:4],
            hint="write the merges in rank order; load gives them ids 256, 257, ... in file order",
        )
    s = "the dog naps; 안녕히 가세요 👩‍💻"
    if (
        list(other.encode(s)) != list(tok.encode(s))
        or other.decode(other.encode(s)) != s
    ):
        kit.fail(
            "encode/decode of a loaded tokenizer differ from the original",
            yours=list(other.encode(s))[:12],
            expected=list(tok.encode(s))[:12],
        )
