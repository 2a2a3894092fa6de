"""Checks for the preference lab's models: RewardModel, dpo_step, and two training runs.

The GPTs are built from your gpt2 lab's model.py (tiny: vocab 12, block 16, 2 layers)
and handed to your code through labpath's wrappers (pref_ref.Trunk for hidden states,
pref_ref.LM for logits at every position). The synthetic task: prompt = distinct digits
and ':', chosen = the digits sorted, rejected = the digits sorted in reverse.
"""

import copy
import math

import torch
from pref_ref import (
    EOS,
    LM,
    LN2,
    VOCAB,
    PerPosition,
    Trunk,
    collate,
    dpo,
    implicit_rewards,
    logprobs,
    reference_batch,
    task_pairs,
    uneven_pairs,
)

from labpath.checks import kit

CFG = dict(
    block_size=16,
    vocab_size=VOCAB,
    n_layer=2,
    n_head=2,
    n_embd=32,
    dropout=0.0,
    bias=True,
)
MAX_LEN = 16


def build_gpt(gpt, seed, **overrides):
    torch.manual_seed(seed)
    return gpt.GPT(gpt.GPTConfig(**{**CFG, **overrides}))


def step(pref, policy, reference, batch, beta, opt):
    """Call your dpo_step and read loss, reward_accuracy and margin as floats."""
    out = pref.dpo_step(policy, reference, batch, beta, opt)
    if not isinstance(out, dict):
        kit.fail(f"dpo_step returned {type(out).__name__}, not a dict",
                 hint="return dict(loss=..., reward_accuracy=..., margin=...)")
    missing = [k for k in ("loss", "reward_accuracy", "margin") if k not in out]
    if missing:
        kit.fail(
            f"dpo_step's dict has no {missing}",
            hint="return dict(loss=..., reward_accuracy=..., margin=...)",
        )
    return {k: float(out[k]) for k in ("loss", "reward_accuracy", "margin")}


def expected_step(policy, reference, batch, beta):
    """The batch-mean DPO loss, reward accuracy and margin, and the policy's gradient."""
    policy = copy.deepcopy(policy)
    rows = {}
    for side in ("chosen", "rejected"):
        ids, lab = batch[f"{side}_input_ids"], batch[f"{side}_labels"]
        with torch.no_grad():
            ref = logprobs(reference(ids), lab)
        rows[side] = (logprobs(policy(ids), lab), ref)
    (pc, rc), (pr, rr) = rows["chosen"], rows["rejected"]
    losses, cr, rj = dpo(pc, pr, rc, rr, beta)
    loss = losses.mean()
    policy.zero_grad(set_to_none=True)
    loss.backward()
    grads = [p.grad.detach().clone() for p in policy.parameters()]
    return dict(loss=float(loss.detach()), reward_accuracy=float((cr > rj).double().mean()),
                margin=float((cr - rj).detach().mean())), grads


# --- the reward model ------------------------------------------------------------------


def test_reward_model_reads_the_last_real_token(pref):
    """r = head(h[last position whose mask is 1]): padding and earlier tokens do not move it, the last token does."""
    Vp, C = VOCAB, 8
    backbone = PerPosition(Vp, C, kit.seed())  # h[t] depends on the token at t alone
    rm = pref.RewardModel(backbone, C).double()
    own = {id(p) for p in backbone.parameters()}
    g = torch.Generator().manual_seed(kit.seed() + 1)
    with torch.no_grad():  # a head initialised at zero would hide everything: randomise it
        for p in rm.parameters():
            if id(p) not in own:
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    lengths = (7, 4, 5)
    idx = torch.randint(0, Vp, (3, 7), generator=g)
    mask = torch.tensor([[1] * n + [0] * (7 - n) for n in lengths])

    def reward(ids):
        r = rm(ids, mask)
        if not torch.is_tensor(r) or tuple(r.shape) != (3,):
            shape = tuple(r.shape) if torch.is_tensor(r) else type(r).__name__
            kit.fail(f"RewardModel returned {shape}, not one reward per row (B,) = (3,)",
                     hint="squeeze the head's (B, 1) output to (B,)")
        return r.detach()

    base = reward(idx)
    padded = idx.clone()
    for b, n in enumerate(lengths):
        padded[b, n:] = (idx[b, n:] + 1 + b) % Vp
    moved = (reward(padded) - base).abs()
    if float(moved.max()) > 1e-12:
        kit.fail("changing padding tokens (mask 0) changed the reward", yours=moved.tolist(),
                 expected=[0.0, 0.0, 0.0], diagnosis="your reward changes when padding changes: read the "
                 "hidden state at the last position whose attention_mask is 1, not the last position",
                 hint="last = attention_mask.sum(1) - 1 (right padding); h[torch.arange(B), last]")
    last = idx.clone()
    for b, n in enumerate(lengths):
        last[b, n - 1] = (idx[b, n - 1] + 3) % Vp
    moved = (reward(last) - base).abs()
    if float(moved.min()) < 1e-9:
        kit.fail("changing the last real token did not change the reward", yours=moved.tolist(),
                 expected="non-zero for every row", diagnosis="the reward is read at another position "
                 "(the first token?): in a causal model only the last one has seen the whole answer",
                 hint="index the hidden states at the last non-padding position of each row")
    early = idx.clone()
    early[:, 0] = (idx[:, 0] + 5) % Vp
    moved = (reward(early) - base).abs()
    if float(moved.max()) > 1e-12:
        kit.fail("with a backbone whose h[t] depends on token t only, changing token 0 changed the reward",
                 yours=moved.tolist(), expected=[0.0, 0.0, 0.0],
                 diagnosis="the reward pools several positions (a mean?); the contract reads one hidden "
                 "state, the last real token's",
                 hint="r = head(h[b, last[b]]) with no pooling")


# Measured with the reference over seeds 0..9 (see README): held-out accuracy 1.000 ...
RM_STEPS, RM_BATCH, RM_LR = 40, 16, 3e-3
RM_MIN_ACCURACY = 0.9


def _rm_batch(triples, dev="cpu"):
    """Chosen and rejected full sequences (prompt + answer + EOS), right-padded, with masks."""
    rows = {}
    for side, k in (("chosen", 1), ("rejected", 2)):
        seqs = [list(t[0]) + list(t[k]) + [EOS] for t in triples]
        T = max(len(s) for s in seqs)
        rows[side] = (torch.tensor([s + [0] * (T - len(s)) for s in seqs], device=dev),
                      torch.tensor([[1] * len(s) + [0] * (T - len(s)) for s in seqs], device=dev))
    return rows


def run_reward_model(pref, gpt, seed):
    """Train your RewardModel on your GPT with your reward_loss; held-out accuracy and losses."""
    dev = kit.device()  # `labpath check --device`; the exact checks stay on the CPU
    g = build_gpt(gpt, seed).to(dev)
    rm = pref.RewardModel(Trunk(g), CFG["n_embd"]).to(dev)
    opt = torch.optim.AdamW(rm.parameters(), lr=RM_LR, weight_decay=0.0)
    train = task_pairs(RM_STEPS * RM_BATCH, seed + 100)
    held = _rm_batch(task_pairs(256, seed + 20_000), dev)
    losses = []
    rm.train()
    for s in range(RM_STEPS):
        rows = _rm_batch(train[s * RM_BATCH : (s + 1) * RM_BATCH], dev)
        loss = pref.reward_loss(rm(*rows["chosen"]), rm(*rows["rejected"]))
        loss = loss.mean()  # a per-example loss is averaged here
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    rm.eval()
    with torch.no_grad():
        acc = float((rm(*held["chosen"]) > rm(*held["rejected"])).double().mean())
    return acc, losses


def test_reward_model_learns_the_preference(pref, gpt):
    """RewardModel on your GPT + reward_loss, 40 AdamW steps: held-out accuracy r(chosen) > r(rejected) >= 0.9."""
    acc, losses = run_reward_model(pref, gpt, kit.seed())
    kit.figure("held-out accuracy", acc, ">=", RM_MIN_ACCURACY)
    if not acc >= RM_MIN_ACCURACY:
        kit.fail(f"held-out accuracy of the reward model after {RM_STEPS} steps (256 pairs; "
                 f"training loss {losses[0]:.3f} -> {losses[-1]:.3f})",
                 yours=round(acc, 3), expected=f">= {RM_MIN_ACCURACY}",
                 hint="the loss must push r(chosen) above r(rejected); read the reward at the last real token")


def test_given_gpt_wrappers_match_your_gpt(pref, gpt):
    """GPTPolicy(gpt)(idx) equals your GPT's logits at every position; GPTBackbone feeds its lm_head."""
    kit.skip_unless(pref, "GPTPolicy", "GPTPolicy (the starter's wrapper)")
    g = build_gpt(gpt, kit.seed() + 11).double().eval()
    gen = torch.Generator().manual_seed(kit.seed())
    idx = torch.randint(0, VOCAB, (3, 9), generator=gen)
    with torch.no_grad():
        # nanoGPT returns the logits of all positions when it is given targets
        expected, _ = g(idx, torch.zeros_like(idx))
        yours = pref.GPTPolicy(g)(idx)
    kit.close(yours, expected, "GPTPolicy(gpt)(idx) vs your GPT's logits (B, T, V)", rtol=1e-10,
              atol=1e-10, dims="B T V", hint="restore the starter's GPTPolicy and GPTBackbone")
    if kit.has(pref, "GPTBackbone"):
        with torch.no_grad():
            hidden = pref.GPTBackbone(g)(idx)
        kit.close(g.lm_head(hidden), expected, "lm_head(GPTBackbone(gpt)(idx)) vs your GPT's logits",
                  rtol=1e-10, atol=1e-10, dims="B T V")


# --- dpo_step --------------------------------------------------------------------------


def test_dpo_step_matches_the_reference_loss_and_update(pref, gpt):
    """Two SGD steps (float64): loss = batch mean, accuracy and margin of the rewards, update = -lr * gradient."""
    seed = kit.seed()
    g_pol = build_gpt(gpt, seed + 1).double()
    g_ref = copy.deepcopy(g_pol)
    with torch.no_grad():  # a reference different from the policy, so h != 0
        gen = torch.Generator().manual_seed(seed + 2)
        for p in g_ref.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    policy, reference = LM(g_pol), LM(g_ref)
    beta, lr = 0.5, 0.05
    opt = torch.optim.SGD(g_pol.parameters(), lr=lr)
    first = None  # the gradients of step 1
    for k in range(2):  # the second step shows gradients left over from the first
        # 7 pairs (an odd count: no accuracy is its own complement); the rejected rows are
        # longer than the chosen ones in step 1, shorter in step 2, each side padded alone
        triples = uneven_pairs(7, seed + 3 + k, longer=("rejected", "chosen")[k])
        batch = reference_batch(triples, MAX_LEN, shared=False)
        want, grads = expected_step(policy, reference, batch, beta)
        before = [p.detach().clone() for p in g_pol.parameters()]
        got = step(pref, policy, reference, batch, beta, opt)
        for key in ("loss", "reward_accuracy", "margin"):
            diagnosis = None
            if key == "loss" and math.isclose(got[key], 7 * want[key], rel_tol=1e-7):
                diagnosis = "the loss is the batch sum; eric-mitchell's trainer takes losses.mean()"
            kit.close(got[key], want[key], f"dpo_step's {key} on batch {k + 1}", rtol=1e-7, atol=1e-9,
                      diagnose=lambda y, d=diagnosis: d, hint="loss = mean of the per-example DPO losses; accuracy = "
                      "mean(chosen_rewards > rejected_rewards); margin = mean(chosen - rejected rewards)")
        after = list(g_pol.parameters())
        deltas = [(b - p.detach()).reshape(-1) for b, p in zip(before, after)]
        update = torch.cat(deltas) / lr
        grad = torch.cat([x.reshape(-1) for x in grads])
        # Gradient clipping scales the whole gradient by c <= 1: accept any such c.
        c = float(update @ grad / (grad @ grad)) if update.shape == grad.shape else 1.0
        diagnosis = None
        if first is not None and update.shape == grad.shape:
            prev = torch.cat([x.reshape(-1) for x in first])
            if torch.allclose(update, grad + prev, rtol=1e-5, atol=1e-9):
                diagnosis = "the gradient of the previous step is still there: call optimizer.zero_grad()"
        kit.close(update, c * grad, f"SGD update / lr after dpo_step {k + 1} vs the gradient of the mean DPO loss "
                  f"(times {c:.4g}, as clipping would)", rtol=1e-5, atol=1e-9, diagnose=lambda y, d=diagnosis: d,
                  hint="optimizer.zero_grad(); loss.backward(); optimizer.step(), once per call")
        if not 0 < c <= 1 + 1e-6:
            kit.fail(f"the update after dpo_step {k + 1} is {c:.4g} times the gradient of the mean DPO loss",
                     expected="1 (or below 1 when the gradient is clipped)",
                     hint="optimise losses.mean(), not the sum")
        first = grads


def test_reference_model_gets_no_gradient(pref, gpt):
    """After dpo_step the reference's parameters have no gradient and are bit-identical; the policy moved."""
    seed = kit.seed()
    g_pol = build_gpt(gpt, seed + 4)
    g_ref = copy.deepcopy(g_pol)  # requires_grad stays True, as a careless copy would leave it
    policy, reference = LM(g_pol), LM(g_ref)
    before_ref = {n: p.detach().clone() for n, p in g_ref.named_parameters()}
    before_pol = [p.detach().clone() for p in g_pol.parameters()]
    opt = torch.optim.AdamW(g_pol.parameters(), lr=1e-3)
    for k in range(2):
        step(
            pref,
            policy,
            reference,
            reference_batch(task_pairs(8, seed + 5 + k), MAX_LEN),
            0.1,
            opt,
        )
    with_grad = [
        n
        for n, p in g_ref.named_parameters()
        if p.grad is not None and bool(p.grad.abs().sum() > 0)
    ]
    if with_grad:
        kit.fail(f"the reference model's parameters received gradients: {with_grad[:3]}",
                 diagnosis="reference tensors received gradients: run the reference under torch.no_grad()",
                 hint="with torch.no_grad(): reference_logps = ... (pi_ref is a constant of the loss)")
    changed = [
        n
        for n, p in g_ref.named_parameters()
        if not torch.equal(p.detach(), before_ref[n])
    ]
    if changed:
        kit.fail(f"the reference model's weights changed: {changed[:3]}",
                 hint="only the policy is optimised; the reference stays where the policy started")
    if all(torch.equal(b, p.detach()) for b, p in zip(before_pol, g_pol.parameters())):
        kit.fail("dpo_step did not change the policy's weights",
                 hint="call loss.backward() and optimizer.step() inside dpo_step")


def _first_loss(pref, gpt, seed, dropout):
    """dpo_step's first loss and margin for a float64 GPT and its copy as the reference."""
    g_pol = build_gpt(gpt, seed + 6, dropout=dropout).double()
    g_ref = copy.deepcopy(g_pol)
    g_pol.train(), g_ref.train()  # as they come out of the constructor
    opt = torch.optim.SGD(g_pol.parameters(), lr=1e-3)
    torch.manual_seed(seed + 7)
    batch = reference_batch(task_pairs(8, seed + 8), MAX_LEN)
    return step(pref, LM(g_pol), LM(g_ref), batch, 0.1, opt)


def test_dpo_step_starts_at_ln2_with_dropout_in_the_model(pref, gpt):
    """A policy built with dropout 0.1 and its copy as reference: the first step's loss is ln 2."""
    seed = kit.seed()
    got = _first_loss(pref, gpt, seed, 0.1)

    def diagnose(y):
        # the fingerprint of dropout: the same step without dropout does start at ln 2
        plain = _first_loss(pref, gpt, seed, 0.0)["loss"]
        if math.isclose(plain, LN2, abs_tol=1e-9):
            return "loss at step 0 is not ln 2: dropout is active in the policy or the reference"
        return None

    kit.close(got["loss"], LN2, "dpo_step's loss at step 0 (policy == reference, dropout 0.1 in the config)",
              rtol=0, atol=1e-9, diagnose=diagnose,
              hint="disable dropout: set every nn.Dropout's p to 0 (TRL's disable_dropout), and put the "
              "reference in eval mode")
    what = "dpo_step's margin at step 0 (policy == reference)"
    kit.close(got["margin"], 0.0, what, rtol=0, atol=1e-9)
    # every reward is exactly 0: a tie is not a preference, so the accuracy is 0
    kit.close(got["reward_accuracy"], 0.0, "dpo_step's reward_accuracy at step 0 (all rewards 0)",
              rtol=0, atol=0, hint="count a pair only when chosen_rewards > rejected_rewards, strictly")


# Measured with the reference over seeds 0..9 (see README).
DPO_STEPS, DPO_BATCH, DPO_LR, DPO_BETA = 40, 16, 3e-3, 0.1
DPO_MIN_ACCURACY = 0.9
DPO_MAX_LOSS = 0.35


def run_dpo(pref, gpt, seed):
    """DPO with your build_pair and dpo_step; held-out accuracy and losses along the way."""
    dev = kit.device()
    g = build_gpt(gpt, seed + 9).to(dev)
    policy, reference = LM(g), LM(copy.deepcopy(g))
    reference.requires_grad_(False)
    opt = torch.optim.AdamW(g.parameters(), lr=DPO_LR, weight_decay=0.0)
    train = task_pairs(DPO_STEPS * DPO_BATCH, seed + 200)
    held = reference_batch(task_pairs(256, seed + 30_000), MAX_LEN)
    held = {k: v.to(dev) for k, v in held.items()}
    steps, accs, held_losses, train_losses = [], [], [], []

    def evaluate(s):
        cr, rj = implicit_rewards(policy, reference, held, DPO_BETA)
        # ties (an untrained policy) count one half, so chance is 0.5
        accs.append(float(((cr > rj).double() + 0.5 * (cr == rj).double()).mean()))
        held_losses.append(
            float(dpo(cr / DPO_BETA, rj / DPO_BETA, 0 * cr, 0 * rj, DPO_BETA)[0].mean())
        )
        steps.append(s)

    for s in range(DPO_STEPS):
        if s < 10 or s % 5 == 0:  # densely at first: the ranking is learned early
            evaluate(s)
        triples = train[s * DPO_BATCH : (s + 1) * DPO_BATCH]
        pairs = [pref.build_pair(p, c, r, EOS, MAX_LEN) for p, c, r in triples]
        batch = {k: v.to(dev) for k, v in collate(pairs).items()}
        train_losses.append(step(pref, policy, reference, batch, DPO_BETA, opt)["loss"])
    evaluate(DPO_STEPS)
    return steps, accs, held_losses, train_losses


def test_dpo_training_raises_held_out_reward_accuracy(pref, gpt):
    """DPO on your GPT (build_pair + dpo_step, 40 AdamW steps, beta 0.1): held-out accuracy >= 0.9, loss < 0.35."""
    steps, accs, held_losses, train_losses = run_dpo(pref, gpt, kit.seed())
    _plot(steps, accs, held_losses, train_losses)
    if not math.isclose(train_losses[0], LN2, abs_tol=1e-5):
        kit.fail("dpo_step's loss at step 0 (policy == reference)", yours=train_losses[0], expected=LN2,
                 hint="policy and reference start equal, so h = 0 and every loss is ln 2")
    kit.figure("held-out reward accuracy", accs[-1], ">=", DPO_MIN_ACCURACY)
    kit.figure("held-out DPO loss", held_losses[-1], "<", DPO_MAX_LOSS)
    if not accs[-1] >= DPO_MIN_ACCURACY:
        kit.fail(f"held-out reward accuracy after {DPO_STEPS} DPO steps (256 pairs)", yours=round(accs[-1], 3),
                 expected=f">= {DPO_MIN_ACCURACY}",
                 diagnosis="below chance: the policy learned to prefer the rejected answers (chosen and "
                 "rejected rows split back in the wrong order?)" if accs[-1] < 0.5 else None,
                 hint="the first B rows of the concatenated batch are the chosen answers")
    if not held_losses[-1] < DPO_MAX_LOSS:
        kit.fail(f"held-out DPO loss after {DPO_STEPS} steps", yours=round(held_losses[-1], 4),
                 expected=f"< {DPO_MAX_LOSS} (ln 2 = {LN2:.4f} at the start)")


def _plot(steps, accs, held_losses, train_losses):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    a1.plot(steps, accs, marker="o")
    a1.axhline(0.5, color="gray", ls="--", lw=1, label="chance")
    a1.set(xlabel="DPO step", ylabel="held-out reward accuracy", ylim=(0, 1.05),
           title="implicit reward: chosen > rejected")
    a1.legend()
    a2.plot(range(len(train_losses)), train_losses, lw=1, label="train (batch)")
    a2.plot(steps, held_losses, marker="o", label="held-out")
    a2.axhline(LN2, color="gray", ls="--", lw=1, label="ln 2")
    a2.set(xlabel="DPO step", ylabel="DPO loss", title="loss")
    a2.legend()
    fig.tight_layout()
    fig.savefig(
        kit.artifact_path(
            "test_dpo_training_raises_held_out_reward_accuracy", "preference-dpo.png"
        )
    )
    plt.close(fig)
