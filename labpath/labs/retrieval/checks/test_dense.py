"""Checks for the dense side: masked mean pooling, cosine scores, embeddings from your GPT.

Pooling and cosine run on random float64 tensors of distinct sizes (B 4, T 7, H 5;
Q 3, N 6). The GPT checks build your Phase 1 GPT (gpt2 lab) with tiny distinct sizes and
compare your hidden states with what its own lm_head turns into the logits.
"""

import torch
from retrieval_ref import cosine, mean_pool, need

from labpath.checks import kit


def _gen(offset=0):
    return torch.Generator().manual_seed(kit.seed() + offset)


def _pool_inputs():
    B, T, H = 4, 7, 5
    x = torch.randn(B, T, H, generator=_gen(), dtype=torch.float64)
    mask = torch.zeros(B, T, dtype=torch.long)
    mask[0, :] = 1  # full length 7
    mask[1, :4] = 1  # 4 real tokens then padding
    mask[2, :1] = 1  # a single token
    # row 3: all padding (an empty text)
    x = torch.where(mask[..., None].bool(), x, torch.full_like(x, 1e6))  # padding must not leak
    return x, mask


def test_mean_pool_averages_only_the_real_tokens(rt):
    """mean_pool(x (4, 7, 5), mask) = sum(mask * x) / sum(mask) per row; padded values (1e6) never leak."""
    (mean_pool_,) = need(rt, "mean_pool")
    x, mask = _pool_inputs()
    yours = mean_pool_(x.clone(), mask.clone())
    expected = mean_pool(x, mask)

    def diagnose(y):
        y = torch.as_tensor(y, dtype=torch.float64)
        if torch.allclose(y[:3], (x * mask[..., None]).sum(1)[:3] / 7):
            return "you divide by T = 7, not by the number of real tokens: padding dilutes short texts"
        if torch.isnan(y[3]).any():
            return "NaN for the all-padding row: clamp the token count at 1e-9 before dividing"
        if float(y[:3].abs().max()) > 1e4:
            return "padded positions leak into the mean: multiply by the mask before summing"
        return None

    kit.close(yours[:3] if torch.is_tensor(yours) and yours.shape[:1] == (4,) else yours,
              expected[:3], "mean_pool of the rows with 7, 4 and 1 real tokens", rtol=1e-12,
              atol=1e-12, dims="B H", diagnose=diagnose,
              hint="(x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1e-9)")
    kit.close(yours[3], expected[3], "mean_pool of a row with no real token (all-zero mask)",
              rtol=0, atol=1e-12, dims="H", diagnose=lambda y: diagnose(yours),
              hint="sentence-transformers clamps the count at 1e-9, so an empty text gives zeros")


def test_mean_pool_accepts_left_padding_and_bool_masks(rt):
    """Any mask works, not only right padding: left-padded rows and a bool mask give the same means."""
    (mean_pool_,) = need(rt, "mean_pool")
    x, _ = _pool_inputs()
    mask = torch.tensor([[0, 0, 1, 1, 1, 1, 1], [1, 0, 1, 0, 1, 0, 1],
                         [0, 0, 0, 0, 0, 0, 1], [1, 1, 1, 1, 1, 1, 1]])
    x = torch.where(mask[..., None].bool(), x.clamp(-5, 5), torch.full_like(x, 1e6))
    for m in (mask, mask.bool()):
        kit.close(mean_pool_(x.clone(), m.clone()), mean_pool(x, mask),
                  f"mean_pool with a {m.dtype} mask of left-padded and gapped rows", rtol=1e-12,
                  atol=1e-12, dims="B H",
                  hint="use the mask itself, cast to x's dtype; never assume the real tokens come first")


def test_cosine_scores_every_query_against_every_document(rt):
    """cosine_scores(q (3, 4), d (6, 4)) -> (3, 6) cosines, whatever the vectors' norms."""
    (cosine_scores,) = need(rt, "cosine_scores")
    g = _gen(1)
    q = (torch.randn(3, 4, generator=g, dtype=torch.float64)
         * torch.tensor([[0.1], [3.0], [40.0]], dtype=torch.float64))
    d = (torch.randn(6, 4, generator=g, dtype=torch.float64)
         * torch.linspace(0.2, 9, 6, dtype=torch.float64)[:, None])
    expected = cosine(q, d)
    yours = cosine_scores(q.clone(), d.clone())

    def diagnose(y):
        y = torch.as_tensor(y, dtype=torch.float64)
        if y.shape == (6, 3):
            return "your result is (N, Q): queries are rows"
        if torch.allclose(y, q @ d.T):
            return "a raw dot product: divide by both norms"
        if torch.allclose(y, (q / q.norm(dim=1, keepdim=True)) @ d.T):
            return "only the queries are normalised; the documents' norms still count"
        return None

    kit.close(yours, expected, "cosine_scores(q, d)", rtol=1e-10, atol=1e-12, dims="Q N",
              diagnose=diagnose, hint="normalise the rows of both, then q @ d.T")
    # A zero vector (mean_pool of an all-padding row) is at cosine 0 from everything.
    q0, d0 = q.clone(), d.clone()
    q0[1], d0[4] = 0.0, 0.0
    expected = cosine(q, d)
    expected[1, :], expected[:, 4] = 0.0, 0.0
    kit.close(cosine_scores(q0.clone(), d0.clone()), expected,
              "cosine_scores(q, d) with query 1 and document 4 all zeros", rtol=1e-10,
              atol=1e-12, dims="Q N", hint="divide by the norm clamped away from zero "
              "(norm.clamp(min=1e-12), as F.normalize does): a zero vector scores 0, not nan")


TINY = dict(
    block_size=16, vocab_size=23, n_layer=2, n_head=2, n_embd=12, dropout=0.0, bias=True
)


def _model(gpt):
    torch.manual_seed(kit.seed())
    model = gpt.GPT(gpt.GPTConfig(**TINY)).double().eval()
    with torch.no_grad():  # weights of order one, so every layer matters
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=_gen(2), dtype=torch.float64) * 0.5
                    + (1.0 if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") else 0.0))
    return model


def test_gpt_hidden_states_are_what_lm_head_reads(rt, gpt):
    """gpt_hidden_states(model, idx (3, 9)) -> (3, 9, 12), and lm_head of them gives the model's own logits."""
    (hidden,) = need(rt, "gpt_hidden_states")
    model = _model(gpt)
    idx = torch.randint(0, 23, (3, 9), generator=_gen(3))
    with torch.no_grad():
        h = hidden(model, idx)
        if tuple(h.shape) != (3, 9, 12):
            kit.fail("gpt_hidden_states(model, idx (B, T) = (3, 9)) shape", yours=tuple(h.shape),
                     expected="(B, T, C) = (3, 9, 12)")
        logits, _ = model(idx, torch.zeros_like(idx))
        kit.close(model.lm_head(h.double()), logits, "lm_head(your hidden states) vs the model's logits",
                  rtol=1e-9, atol=1e-9, dims="B T V",
                  hint="run wte + wpe, every block, then ln_f: everything forward does before lm_head")


def test_gpt_embedder_mean_pools_each_text(rt, gpt):
    """GPTEmbedder(model, encode)(texts) = mean of each text's hidden states alone; batching and padding change nothing."""
    (hidden, GPTEmbedder) = need(rt, "gpt_hidden_states", "GPTEmbedder")
    model = _model(gpt)
    stoi = {c: i for i, c in enumerate("abcdefghijklmnopqrstuvw")}

    def encode(s):
        return [stoi[c] for c in s]

    texts = ["cab", "deadbeef", "w", "fglhmijkc", "abcdefghijklmnop"]  # lengths 3, 8, 1, 9, 16
    embed = GPTEmbedder(model, encode)
    yours = torch.as_tensor(embed(texts)).double()
    with torch.no_grad():
        expected = torch.stack(
            [
                hidden(model, torch.tensor([encode(t)])).double()[0].mean(0)
                for t in texts
            ]
        )
    # Your embedder may return float32: compare at float32's precision.
    tol = 1e-5 if torch.as_tensor(embed(texts[:1])).dtype == torch.float32 else 1e-9
    kit.close(yours, expected, "embeddings of 5 texts (lengths 3, 8, 1, 9, 16) vs each text's mean hidden state",
              rtol=tol, atol=tol, dims="N C",
              diagnose=lambda y: "padding leaks into the mean: pool with the attention mask"
              if torch.allclose(torch.as_tensor(y, dtype=torch.float64)[4], expected[4], rtol=tol, atol=tol)
              else None,
              hint="pad on the right with any id, mask = 1 for real tokens, mean_pool(hidden, mask)")
