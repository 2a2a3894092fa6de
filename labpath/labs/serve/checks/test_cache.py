"""Checks for the KV cache and generate against the learner's own GPT forward (float64).

The model is a seeded tiny GPT built from the learner's model.py (vocab 67, block 32,
2 layers, 3 heads, n_embd 24); batches have B = 2 and prompts T = 5, so no two sizes
the cache holds are equal.
"""

import torch
from serve_ref import full_logits, greedy

from labpath.checks import kit

B, T0 = 2, 5


def prompt(model, B, T, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(model.config.vocab_size, (B, T), generator=g)


def cache_mistake(serve, model, idx):
    """Name a known cache mistake from the shapes the learner's cache holds."""
    cache = serve.KVCache(model.config.n_layer)
    try:  # two chunks of 3: appended on the wrong axis, they still fit together
        with torch.no_grad():
            serve.forward(model, idx[:, :3], cache, pos=0)
            serve.forward(model, idx[:, 3:6], cache, pos=3)
    except Exception:
        pass
    try:
        shape = tuple(cache.k[0].shape)
    except Exception:
        return None
    nh, hs = model.config.n_head, model.config.n_embd // model.config.n_head
    if shape == (idx.size(0) * 2, nh, 3, hs):
        return "the cache grows along the batch axis (dim 0): append keys on dim 2 (time)"
    return None


def cached_forward(serve, model, idx, cache, pos, what):
    """The learner's forward with a cache; a torch error becomes a failure that names it."""
    try:
        with torch.no_grad():
            return serve.forward(model, idx, cache, pos=pos)
    except RuntimeError as e:
        kit.fail(f"{what} raised RuntimeError: {e}",
                 diagnosis=cache_mistake(serve, model, torch.cat([idx] * 6, 1)),
                 hint="keys and values are (B, n_head, T, hs): the cache grows on dim 2")


def step_mistake(yours_steps, full, pos):
    """Which positions diverge tells the mistake apart."""
    bad = [t for t, (y, e) in enumerate(zip(yours_steps, full)) if (y - e).abs().max() > 1e-8]
    if bad and bad[0] >= pos:
        return (f"the prompt's logits match but they diverge from position {bad[0]}, the "
                "first token after the cache was filled: check that the new token's "
                "position is the cache length (not 0) and that it may attend to every "
                "cached key")
    return None


def test_forward_without_a_cache_equals_your_gpt(serve, model64):
    """forward(model, idx) gives the (B, T, V) logits of your GPT's own forward."""
    idx = prompt(model64, B, 7, kit.seed())
    with torch.no_grad():
        yours = serve.forward(model64, idx)
    kit.close(yours, full_logits(model64, idx), "forward(model, idx) without a cache",
              rtol=1e-10, atol=1e-10, dims="B T V",
              hint="the same modules as GPT.forward: wte + wpe, each block's ln_1, "
              "attention, ln_2, mlp, then ln_f and lm_head; return all T positions")


def test_cached_logits_equal_the_full_forward(serve, model64):
    """Prefill 5 tokens, then feed one token at a time: every step equals the full forward."""
    idx = prompt(model64, B, 12, kit.seed() + 1)
    full = full_logits(model64, idx)  # (B, 12, V)
    cache = serve.KVCache(model64.config.n_layer)
    steps = list(cached_forward(serve, model64, idx[:, :T0], cache, 0, "prefill").unbind(1))
    for t in range(T0, idx.size(1)):
        out = cached_forward(serve, model64, idx[:, t : t + 1], cache, t,
                             f"forward of one new token at position {t}")
        if tuple(out.shape) != (B, 1, model64.config.vocab_size):
            kit.fail("forward with a cache on one new token: wrong logits shape",
                     yours=tuple(out.shape), expected=(B, 1, model64.config.vocab_size),
                     diagnosis=cache_mistake(serve, model64, idx))
        steps.append(out[:, 0])
    yours = torch.stack(steps, 1)
    kit.close(yours, full, "logits of cached decoding (prefill 5, then one token at a time) "
              "vs the full forward", rtol=1e-9, atol=1e-9, dims="B T V",
              diagnose=lambda _: cache_mistake(serve, model64, idx)
              or step_mistake(steps, full.unbind(1), T0),
              hint="position ids continue at pos; the new query sees every cached key")


def test_cached_chunks_equal_the_full_forward(serve, model64):
    """Chunks of 4, 3 and 2 tokens through one cache: each query sees the past and its chunk's past."""
    idx = prompt(model64, B, 9, kit.seed() + 2)
    full = full_logits(model64, idx)
    cache = serve.KVCache(model64.config.n_layer)
    with torch.no_grad():
        parts = [serve.forward(model64, idx[:, a:b], cache, pos=a)
                 for a, b in ((0, 4), (4, 7), (7, 9))]
    kit.close(torch.cat(parts, 1), full, "logits of 3 cached chunks (4 + 3 + 2 tokens) vs "
              "the full forward", rtol=1e-9, atol=1e-9, dims="B T V",
              hint="query i of a chunk of T at position pos may see keys 0 .. pos + i: "
              "a (T, L) mask, tril(diagonal=L - T)")


def test_cache_holds_keys_of_shape_B_nh_T_hs(serve, model64):
    """After 5 + 1 tokens each layer caches keys and values of shape (B, n_head, 6, head size)."""
    idx = prompt(model64, B, 6, kit.seed() + 3)
    cache = serve.KVCache(model64.config.n_layer)
    cached_forward(serve, model64, idx[:, :T0], cache, 0, "prefill of 5 tokens")
    cached_forward(serve, model64, idx[:, T0:], cache, T0, "forward of a 6th token")
    nh = model64.config.n_head
    hs = model64.config.n_embd // nh
    want = (B, nh, T0 + 1, hs)
    for layer in range(model64.config.n_layer):
        for name in ("k", "v"):
            got = tuple(getattr(cache, name)[layer].shape)
            if got != want:
                kit.fail(f"cache.{name}[{layer}] has the wrong shape; (B, n_head, T, hs)",
                         yours=got, expected=want,
                         diagnosis=cache_mistake(serve, model64, idx))
    if len(cache) != T0 + 1:
        kit.fail("len(cache) is not the number of cached positions", yours=len(cache),
                 expected=T0 + 1)


def test_cached_generation_equals_uncached(serve, model64):
    """Greedy generate with and without the cache gives the same tokens; a second call too."""
    for T in (1, 4, 8):
        ids = prompt(model64, 1, T, kit.seed() + 10 + T)[0].tolist()
        expected, _ = greedy(model64, ids, 12)
        plain = list(serve.generate(model64, ids, 12, 0, use_cache=False))
        first = list(serve.generate(model64, ids, 12, 0, use_cache=True))
        second = list(serve.generate(model64, ids, 12, 0, use_cache=True))
        for what, got in (("use_cache=False", plain), ("use_cache=True", first),
                          ("use_cache=True, called a second time", second)):
            if [int(t) for t in got] != expected:
                kit.fail(f"greedy generate({T}-token prompt, 12 tokens, {what}) differs "
                         "from greedy decoding with your GPT's forward", yours=got,
                         expected=expected,
                         diagnosis="the second call reuses the first call's cache: each "
                         "call must start with an empty one" if got is second
                         and first == expected else None)


def test_generation_past_block_size_crops_the_context(serve, model64):
    """40 tokens after a 5-token prompt (block 32): each prediction sees the last 32 tokens."""
    ids = prompt(model64, 1, T0, kit.seed() + 20)[0].tolist()
    expected, _ = greedy(model64, ids, 40)
    try:
        got = [int(t) for t in serve.generate(model64, ids, 40, 0)]
    except (AssertionError, IndexError, RuntimeError) as e:
        kit.fail(f"generate past block_size (5 + 40 > 32 tokens) raised "
                 f"{type(e).__name__}: {e}",
                 hint="when the context is longer than block_size, predict from its last "
                 "block_size tokens; the cached positions no longer fit, so start over")
    if got != expected:
        first = next(i for i, (a, b) in enumerate(zip(got + [-1] * 40, expected)) if a != b)
        kit.fail("greedy generate past block_size differs from nanoGPT's crop "
                 f"(first difference at new token {first}; token {first + T0} of the text)",
                 yours=got[max(0, first - 2):first + 3],
                 expected=expected[max(0, first - 2):first + 3],
                 hint="each prediction uses exactly the last block_size tokens")


def test_generate_honours_max_new_tokens_and_stop_ids(serve, model64):
    """generate yields max_new_tokens ids, or stops before a stop id (which it does not yield)."""
    ids = prompt(model64, 1, T0, kit.seed() + 30)[0].tolist()
    expected, _ = greedy(model64, ids, 10)
    got = [int(t) for t in serve.generate(model64, ids, 7, 0)]
    if got != expected[:7]:
        kit.fail("generate(max_new_tokens=7) at temperature 0", yours=got,
                 expected=expected[:7])
    stop = expected[3]
    cut = expected.index(stop)
    got = [int(t) for t in serve.generate(model64, ids, 10, 0, stop_ids=(stop,))]
    if got != expected[:cut]:
        kit.fail(f"generate(stop_ids=({stop},)) must end before the stop id", yours=got,
                 expected=expected[:cut])


def test_generate_with_a_seeded_generator_repeats(serve, model64):
    """Sampling at T=1.2 with generators seeded alike gives the same tokens; other seeds differ."""
    ids = prompt(model64, 1, T0, kit.seed() + 40)[0].tolist()
    runs = []
    for s in (7, 7, 8):
        g = torch.Generator().manual_seed(s)
        runs.append([int(t) for t in serve.generate(model64, ids, 20, 1.2, generator=g)])
    if runs[0] != runs[1]:
        kit.fail("generate with two generators seeded 7 drew different tokens",
                 yours=runs[1], expected=runs[0],
                 hint="every draw must come from the generator passed in")
    if runs[0] == runs[2]:
        kit.fail("generate with seeds 7 and 8 drew the same 20 tokens: the generator is "
                 "not used", yours=runs[2])


TTFT_PROMPT = 31  # one short of block_size 32: the whole prompt is prefilled at once
TTFT_RATIO = 3  # information: reported when slower, never failed


@kit.after("test_cached_generation_equals_uncached")
def test_time_to_first_token(serve, model32):
    """Time to the first token of generate on a 31-token prompt, against the reference solution (reported)."""
    reference = kit.reference_module("serve")
    ids = prompt(model32, 1, TTFT_PROMPT, kit.seed() + 99)[0].tolist()

    def first_token(module):
        return lambda: next(iter(module.generate(model32, ids, 4, 0)))

    kit.budget(f"time to first token ({TTFT_PROMPT}-token prompt)", learner=first_token(serve),
               reference=first_token(reference), max_ratio=TTFT_RATIO)

