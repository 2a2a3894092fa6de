"""
A byte-level Byte Pair Encoding tokenizer, with minbpe's interface.

An accepted variant: count ties go to the lexicographically greatest pair.

Text becomes UTF-8 bytes (ids 0..255); training repeatedly finds the most frequent pair
of neighbouring ids and mints a new id for it (256, 257, ...). Encoding replays those
merges on new text, earliest-learned first; decoding looks every id up as bytes.

References:
- Let's build the GPT Tokenizer (https://www.youtube.com/watch?v=zduSFxRajkE)
- karpathy/minbpe's interface (https://github.com/karpathy/minbpe)
- Sennrich et al. 2016, subword units with BPE (https://arxiv.org/abs/1508.07909)
"""

try:  # the `regex` package knows Unicode classes (\p{L} letters, \p{N} numbers)
    import regex as re

    HAVE_REGEX = True
except ImportError:  # stdlib fallback: same idea, approximated classes (see below)
    import re

    HAVE_REGEX = False


def get_stats(ids, counts=None):
    """Count consecutive pairs: [1, 2, 3, 1, 2] -> {(1, 2): 2, (2, 3): 1, (3, 1): 1}.

    With counts given, add to it in place (RegexTokenizer sums over chunks this way).
    """
    counts = {} if counts is None else counts
    # zip against the list shifted by one: n ids have n - 1 pairs, the last one included
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids, pair, idx):
    """Replace every occurrence of pair in ids by idx, left to right, never overlapping.

    merge([97, 97, 97], (97, 97), 256) -> [256, 97]: once two ids are merged they are
    consumed, so the second 97 cannot also pair with the third.
    """
    newids = []
    i = 0
    while i < len(ids):
        if i < len(ids) - 1 and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            newids.append(idx)
            i += 2  # skip both halves of the pair
        else:
            newids.append(ids[i])
            i += 1
    return newids


class PairCounts:
    """Counts of neighbouring pairs over sequences, kept up to date as pairs merge.

    Counting every pair again after each merge costs the whole text per merge; here a
    merge touches only the places where its pair occurs. The sequences are stored as
    one doubly linked list of nodes (a sequence's end links to nothing, so no pair spans
    two), each node holding an id and the weight of its sequence (how often that chunk
    occurs). For each pair we keep its total count and the set of nodes where it starts.
    Training with this gives exactly the merges of recounting with get_stats and max.
    """

    def __init__(self, sequences):
        # sequences: [(ids, weight)], in the order they appear in the text
        self.val, self.weight, self.prev, self.next = [], [], [], []
        self.counts = {}  # (a, b) -> sum of weights over its occurrences
        self.where = {}  # (a, b) -> {node where it starts}
        for ids, w in sequences:
            start = len(self.val)
            for k, x in enumerate(ids):
                self.val.append(x)
                self.weight.append(w)
                self.prev.append(start + k - 1 if k > 0 else -1)
                self.next.append(start + k + 1 if k < len(ids) - 1 else -1)
            for node in range(start, start + len(ids) - 1):
                self._add(node)

    def _add(self, node):
        pair = (self.val[node], self.val[self.next[node]])
        self.counts[pair] = self.counts.get(pair, 0) + self.weight[node]
        self.where.setdefault(pair, set()).add(node)

    def _remove(self, node):
        pair = (self.val[node], self.val[self.next[node]])
        self.counts[pair] -= self.weight[node]
        self.where[pair].discard(node)
        if not self.where[pair]:  # gone everywhere: forget it, as get_stats would
            del self.counts[pair], self.where[pair]

    def most_frequent(self):
        """The pair with the highest count (None when no pair is left).

        On a tie, the lexicographically greatest pair, as max(stats, key=lambda p:
        (stats[p], p)) gives: the other common rule (minbpe keeps the first seen).
        """
        if not self.counts:
            return None
        best = max(self.counts.values())
        tied = [p for p, c in self.counts.items() if c == best]
        return max(tied)  # ties go to the lexicographically greatest pair

    def merge(self, pair, idx):
        """Replace each occurrence of pair by idx, left to right, never overlapping
        (as merge() does); return the pair's count before the merge."""
        count = self.counts[pair]
        a, b = pair
        for node in sorted(self.where[pair]):
            nxt = self.next[node]
            # an earlier replacement may have consumed this one ([97, 97, 97])
            if self.val[node] != a or nxt == -1 or self.val[nxt] != b:
                continue
            before, after = self.prev[node], self.next[nxt]
            # the pairs around the two nodes change: take them out, merge, put back
            if before != -1:
                self._remove(before)
            self._remove(node)
            if after != -1:
                self._remove(nxt)
            self.val[node] = idx  # node becomes the merged token; nxt leaves the list
            self.val[nxt] = None
            self.next[node] = after
            if after != -1:
                self.prev[after] = node
                self._add(node)
            if before != -1:
                self._add(before)
        return count


class Tokenizer:
    """What every tokenizer shares: merges, the vocab derived from them, save/load."""

    def __init__(self):
        self.merges = {}  # (int, int) -> int; insertion order is the merge rank
        self.pattern = ""  # the regex split pattern ("" for none)
        self.special_tokens = {}  # str -> int, e.g. {"<|endoftext|>": 100257}
        self.vocab = self._build_vocab()  # int -> bytes

    def _build_vocab(self):
        # the 256 single bytes, then each merged token is the concatenation of its pair;
        # merges are visited in rank order, so both halves already exist
        vocab = {idx: bytes([idx]) for idx in range(256)}
        for (p0, p1), idx in self.merges.items():
            vocab[idx] = vocab[p0] + vocab[p1]
        for special, idx in self.special_tokens.items():
            vocab[idx] = special.encode("utf-8")
        return vocab

    def decode(self, ids):
        """ids -> str. A token can end in the middle of a multi-byte character, so an
        arbitrary id sequence need not be valid UTF-8: replace broken bytes with U+FFFD."""
        text_bytes = b"".join(self.vocab[idx] for idx in ids)
        return text_bytes.decode("utf-8", errors="replace")

    def _encode_bytes(self, text_bytes):
        """Apply the learned merges to raw bytes, lowest rank (earliest learned) first."""
        ids = list(text_bytes)
        while len(ids) >= 2:
            stats = get_stats(ids)
            # the pair that was merged earliest in training; unknown pairs rank infinite.
            # Frequency in *this* text is irrelevant: training order defines the tokens.
            pair = min(stats, key=lambda p: self.merges.get(p, float("inf")))
            if pair not in self.merges:
                break  # no pair left that training ever merged
            ids = merge(ids, pair, self.merges[pair])
        return ids

    def save(self, file_prefix):
        """Write file_prefix.model (what load() reads) and file_prefix.vocab (for people).

        .model: a version line, the pattern, the number of special tokens, one
        "token id" line each, then one "id1 id2" line per merge in rank order.
        """
        with open(file_prefix + ".model", "w", encoding="utf-8") as f:
            f.write("minbpe v1\n")
            f.write(f"{self.pattern}\n")
            f.write(f"{len(self.special_tokens)}\n")
            for special, idx in self.special_tokens.items():
                f.write(f"{special} {idx}\n")
            for p0, p1 in self.merges:
                f.write(f"{p0} {p1}\n")
        with open(file_prefix + ".vocab", "w", encoding="utf-8") as f:
            for idx, token in self.vocab.items():
                f.write(f"[{token.decode('utf-8', errors='replace')!r}] {idx}\n")

    def load(self, model_file):
        """Read a .model file written by save(); merges get ids 256, 257, ... in order."""
        assert model_file.endswith(".model")
        merges, special_tokens = {}, {}
        with open(model_file, encoding="utf-8") as f:
            assert f.readline().strip() == "minbpe v1"
            self.pattern = f.readline().strip()
            for _ in range(int(f.readline())):
                special, idx = f.readline().strip().split()
                special_tokens[special] = int(idx)
            for idx, line in enumerate(f, start=256):
                p0, p1 = map(int, line.split())
                merges[(p0, p1)] = idx
        self.merges = merges
        self.special_tokens = special_tokens
        self.vocab = self._build_vocab()
        if hasattr(self, "compiled_pattern") and self.pattern:
            self.compiled_pattern = re.compile(self.pattern)


class BasicTokenizer(Tokenizer):
    """BPE on the raw byte stream: merges may cross word and space boundaries."""

    def train(self, text, vocab_size, verbose=False):
        assert vocab_size >= 256
        num_merges = vocab_size - 256
        ids = list(text.encode("utf-8"))  # bytes, not code points: 256 base symbols
        pairs = PairCounts([(ids, 1)])  # the whole text is one sequence, seen once
        merges = {}
        vocab = {idx: bytes([idx]) for idx in range(256)}
        for i in range(num_merges):
            pair = pairs.most_frequent()
            if pair is None:
                break  # the text is down to one token
            idx = 256 + i  # the next unused id
            count = pairs.merge(pair, idx)
            merges[pair] = idx
            vocab[idx] = vocab[pair[0]] + vocab[pair[1]]  # a merged token's bytes: both halves
            if verbose:
                print(f"merge {i + 1}/{num_merges}: {pair} -> {idx} {vocab[idx]!r} ({count}x)")
        self.merges = merges  # encode() needs the ranks
        self.vocab = vocab  # decode() needs the bytes

    def encode(self, text):
        return self._encode_bytes(text.encode("utf-8"))


# GPT-4's split pattern (tiktoken's cl100k_base): contractions, words with one leading
# non-letter (usually the space), numbers of up to 3 digits, punctuation runs, newlines,
# whitespace. Merges never cross a chunk, so " dog", " dog." and "dog!" share " dog".
GPT4_SPLIT_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
    r"""|\s*[\r\n]|\s+(?!\S)|\s+"""
)
# The stdlib `re` has no \p{...}: letters become [^\W\d_] (word chars that are not digits
# or underscore) and numbers \d. Close to GPT-4's pattern, not identical on rare scripts.
GPT4_SPLIT_PATTERN_STDLIB = (
    r"""'(?i:[sdmt]|ll|ve|re)|(?:[^\r\n\w]|_)?+[^\W\d_]+|\d{1,3}| ?(?:[^\s\w]|_)++[\r\n]*"""
    r"""|\s*[\r\n]|\s+(?!\S)|\s+"""
)


class RegexTokenizer(Tokenizer):
    """Split text into chunks with a regex first; BPE runs inside each chunk."""

    def __init__(self, pattern=None):
        super().__init__()
        default = GPT4_SPLIT_PATTERN if HAVE_REGEX else GPT4_SPLIT_PATTERN_STDLIB
        self.pattern = default if pattern is None else pattern
        self.compiled_pattern = re.compile(self.pattern)
        self.inverse_special_tokens = {}

    def train(self, text, vocab_size, verbose=False):
        assert vocab_size >= 256
        num_merges = vocab_size - 256
        chunks = [list(ch.encode("utf-8")) for ch in self.compiled_pattern.findall(text)]
        # Count each distinct chunk once ("the" may occur 10,000 times): a merge then
        # updates one entry per distinct chunk, weighted by how often it occurs.
        # dict keeps first-occurrence order, which the tie-break below relies on.
        freq = {}
        for chunk in chunks:
            freq[tuple(chunk)] = freq.get(tuple(chunk), 0) + 1
        chunk_pairs = PairCounts(list(freq.items()))  # no pair spans two chunks
        merges = {}
        vocab = {idx: bytes([idx]) for idx in range(256)}
        for i in range(num_merges):
            pair = chunk_pairs.most_frequent()  # summed over all chunks
            if pair is None:
                break
            idx = len(vocab)  # 256 + i
            count = chunk_pairs.merge(pair, idx)
            merges[pair] = idx
            a, b = pair
            vocab[idx] = vocab[a] + vocab[b]
            if verbose:
                print(f"merge {i + 1}/{num_merges}: {pair} -> {idx} {vocab[idx]!r} ({count}x)")
        self.merges = merges
        self.vocab = vocab

    def register_special_tokens(self, special_tokens):
        """special_tokens: {str: int}, e.g. {"<|endoftext|>": 100257}."""
        self.special_tokens = special_tokens
        self.inverse_special_tokens = {v: k for k, v in special_tokens.items()}
        self.vocab.update({idx: s.encode("utf-8") for s, idx in special_tokens.items()})

    def decode(self, ids):
        parts = []
        for idx in ids:
            if idx in self.inverse_special_tokens:
                parts.append(self.inverse_special_tokens[idx].encode("utf-8"))
            elif idx in self.vocab:
                parts.append(self.vocab[idx])
            else:
                raise ValueError(f"invalid token id: {idx}")
        return b"".join(parts).decode("utf-8", errors="replace")

    def encode_ordinary(self, text):
        """Encode ignoring special tokens: chunk, then BPE each chunk on its own."""
        ids = []
        for chunk in self.compiled_pattern.findall(text):
            ids.extend(self._encode_bytes(chunk.encode("utf-8")))
        return ids

    def encode(self, text, allowed_special="none_raise"):
        """allowed_special: "all", "none", "none_raise" (fail if one occurs) or a set."""
        if allowed_special == "all":
            special = self.special_tokens
        elif allowed_special == "none":
            special = {}
        elif allowed_special == "none_raise":
            special = {}
            if any(token in text for token in self.special_tokens):
                raise ValueError("text contains a special token; pass allowed_special")
        elif isinstance(allowed_special, set):
            special = {k: v for k, v in self.special_tokens.items() if k in allowed_special}
        else:
            raise ValueError(f"allowed_special={allowed_special!r} not understood")
        if not special:
            return self.encode_ordinary(text)
        # split around the special tokens (the capture group keeps them), encode the rest
        # Longest first: a regex alternation takes the first alternative that matches,
        # so "<|endoftext|>" listed before "<|endoftext|><|endoftext|>" would always win.
        longest_first = sorted(special, key=len, reverse=True)
        split = "(" + "|".join(re.escape(k) for k in longest_first) + ")"
        ids = []
        for part in re.split(split, text):
            if part in special:
                ids.append(special[part])
            else:
                ids.extend(self.encode_ordinary(part))
        return ids
