"""Reference machinery for the bpe checks: pair counts, merges, training with tie records.

An independent byte-level BPE (the algorithm of minbpe's BasicTokenizer) used to replay
and judge a learner's merges; it never needs the learner's helpers.
"""

from labpath.checks import kit


def pair_counts(ids):
    """{(a, b): count} over consecutive pairs, in first-occurrence order."""
    counts = {}
    for a, b in zip(ids, ids[1:], strict=False):
        counts[(a, b)] = counts.get((a, b), 0) + 1
    return counts


def replace_pair(ids, pair, idx):
    """Replace non-overlapping occurrences of pair, scanning left to right."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(idx)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def train(text, vocab_size):
    """Reference training: (merges in order, steps whose best count was tied)."""
    ids = list(text.encode("utf-8"))
    merges, tied = {}, []
    for i in range(vocab_size - 256):
        stats = pair_counts(ids)
        if not stats:
            break
        best = max(stats.values())
        pair = next(p for p, c in stats.items() if c == best)  # first occurrence wins
        if sum(1 for c in stats.values() if c == best) > 1:
            tied.append(i)
        ids = replace_pair(ids, pair, 256 + i)
        merges[pair] = 256 + i
    return merges, tied


def encode(text, merges):
    """Apply merges by rank (lowest new id first) until none applies."""
    ids = list(text.encode("utf-8"))
    while len(ids) >= 2:
        stats = pair_counts(ids)
        pair = min(stats, key=lambda p: merges.get(p, float("inf")))
        if pair not in merges:
            break
        ids = replace_pair(ids, pair, merges[pair])
    return ids


def first_difference(yours, expected, width=6):
    """'at index i: yours [...], expected [...]' around the first position that differs."""
    n = next(
        (i for i, (a, b) in enumerate(zip(yours, expected, strict=False)) if a != b),
        min(len(yours), len(expected)),
    )
    lo = max(0, n - 2)
    return (
        f"first difference at index {n} (lengths {len(yours)} vs {len(expected)}): "
        f"yours {yours[lo : n + width]!r}, expected {expected[lo : n + width]!r}"
    )


def vocab_of(merges):
    vocab = {i: bytes([i]) for i in range(256)}
    for (a, b), idx in sorted(merges.items(), key=lambda kv: kv[1]):
        vocab[idx] = vocab[a] + vocab[b]
    return vocab


def replay(text, merges, what):
    """Fail unless each learned merge was a most frequent pair at its step (any tie-break)."""
    return replay_chunks([list(text.encode("utf-8"))], merges, what)[0]


def replay_chunks(chunks, merges, what):
    """replay() over separately counted chunks: pair counts are summed over the chunks and
    no pair spans two of them (RegexTokenizer's training)."""
    vocab = vocab_of(merges)
    ties = {"steps": 0, "first seen": 0, "largest pair": 0}
    for step, (pair, idx) in enumerate(sorted(merges.items(), key=lambda kv: kv[1])):
        stats = {}
        for ids in chunks:
            for p, c in pair_counts(ids).items():
                stats[p] = stats.get(p, 0) + c
        best = max(stats.values()) if stats else 0
        got = stats.get(pair, 0)
        tied = [p for p, c in stats.items() if c == best]
        if got == best and len(tied) > 1:
            # which rule broke this tie: the first pair seen (minbpe's max) or the
            # largest pair (max over the tied pairs), both correct BPE
            ties["steps"] += 1
            ties["first seen"] += pair == tied[0]
            ties["largest pair"] += pair == max(tied)
        if got != best:
            top = max(stats, key=stats.get) if stats else None
            diagnosis = None
            across = len(chunks) > 1 and pair_counts(
                [i for ids in chunks for i in ids]
            ).get(pair, 0)
            if stats and pair == max(stats):
                diagnosis = "you chose the largest pair (max(stats)), not the most frequent: max(stats, key=stats.get)"
            elif got == 0 and across:
                diagnosis = (
                    "that pair only occurs across a chunk boundary: count pairs inside each "
                    "chunk and sum the counts, never over the joined byte stream"
                )
            elif got == 0:
                diagnosis = (
                    "that pair does not occur in the ids at that step: check merge() "
                    "(left to right, no overlaps) and that training starts from UTF-8 bytes"
                )
            shown = vocab.get(top[0], b"?") + vocab.get(top[1], b"?") if top else b""
            kit.fail(
                f"{what}: merge {step + 1} ({pair} -> {idx}) occurs {got} times at that step, "
                f"but {top} ({shown!r}) occurs {best} times",
                hint="each step merges a most frequent pair of the current ids",
                diagnosis=diagnosis,
            )
        chunks = [replace_pair(ids, pair, idx) for ids in chunks]
    _note_tie_break(what, ties)
    return chunks


def _note_tie_break(what, ties):
    """Say (on a pass) when the learner breaks count ties unlike the reference."""
    n = ties["steps"]
    if ties["first seen"] == n:
        return  # the reference's rule, or no tie at all
    how = (
        "the lexicographically greatest pair"
        if ties["largest pair"] == n
        else "a rule of your own"
    )
    kit.note(
        f"{what}: your training breaks count ties with {how} ({n} tied steps), "
        "where the reference takes the pair seen first; accepted, since every merge "
        "is a most frequent pair (your ids differ from minbpe's after the first tie)"
    )
