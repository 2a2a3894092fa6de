"""Checks for the preference lab's exact parts: log-probs, the losses, build_pair.

Everything is compared in float64 with labpath's own references (pref_ref.py), on
distinct sizes (B=3, T=7, V=11) so a swapped axis cannot pass. Per-example losses
(eric-mitchell's trainers.py) and a mean (TRL) are both accepted.
"""

import math

import pytest
import torch
from pref_ref import IGNORE, LN2, bt_loss, dpo, logprobs, wrong_shift

from labpath.checks import kit

B, T, V = 3, 7, 11


def gen(offset=0):
    return torch.Generator().manual_seed(kit.seed() + offset)


def fixture_batch(offset=0):
    """Random logits (B, T, V) and labels with prompts of 2, 3, 4 tokens and padding."""
    g = gen(offset)
    logits = 2.0 * torch.randn(B, T, V, generator=g, dtype=torch.float64)
    labels = torch.randint(0, V, (B, T), generator=g)
    for b, n in enumerate((2, 3, 4)):
        labels[b, :n] = IGNORE  # the prompt
    labels[2, 5:] = IGNORE  # row 2 ends in padding
    return logits, labels


def as_scalar_or_rows(x, what, n):
    """Your tensor as float64 (n,) or a 0-dim mean; anything else fails clearly."""
    if not torch.is_tensor(x):
        kit.fail(f"{what} is a {type(x).__name__}, not a tensor")
    if x.dim() == 0 or (x.numel() == 1 and n != 1):
        return x.reshape(()).double()
    if tuple(x.shape) != (n,):
        kit.fail(f"{what}: wrong shape, expected (B,) = ({n},) or a scalar mean, got {tuple(x.shape)}",
                 hint="keep one value per example, as eric-mitchell's preference_loss does")
    return x.double()


def reduce_like(yours, expected):
    """The reference reduced the way you reduce (per example, or the mean)."""
    return expected if yours.dim() else expected.mean()


def call_dpo(pref, pc, pr, rc, rr, **kwargs):
    """Call your dpo_loss and unpack (losses, chosen_rewards, rejected_rewards)."""
    out = pref.dpo_loss(pc, pr, rc, rr, **kwargs)
    if not (isinstance(out, tuple) and len(out) == 3):
        kit.fail(f"dpo_loss returned {type(out).__name__}, not (losses, chosen_rewards, rejected_rewards)",
                 hint="return three tensors, as eric-mitchell's preference_loss does")
    n = pc.numel()
    losses = as_scalar_or_rows(out[0], "dpo_loss's losses", n)
    return losses, out[1], out[2]


def logp_rows(g, n):
    """n summed log-probs of plausible size (between -30 and -5), float64."""
    return -5.0 - 25.0 * torch.rand(n, generator=g, dtype=torch.float64)


def dpo_rows(offset=0, n=6):
    """Row 0 is the worked example (logits 2.0); the others are random."""
    g = gen(offset)
    pc, pr, rc, rr = (logp_rows(g, n) for _ in range(4))
    pc[0], pr[0], rc[0], rr[0] = -10.0, -12.0, -11.0, -11.0
    return pc, pr, rc, rr


# --- sequence log-probs --------------------------------------------------------------


def _logprob_diagnosis(logits, labels):
    def diagnose(yours):
        y = yours.detach().double()
        known = {
            "off by one: the logits at position t predict the token at t+1; compare "
            "logits[:, :-1] with labels[:, 1:]": logprobs(logits, labels, shift=False),
            "the shift goes the wrong way: logits[:, 1:] scored against labels[:, :-1]":
                wrong_shift(logits, labels),
            "your sequence log-prob is a mean; DPO uses the sum over the response tokens":
                logprobs(logits, labels, average=True),
            "positions labelled -100 are scored (as token 0): mask them out of the sum":
                logprobs(logits, labels, mask_pad=False),
            "log_softmax over the batch axis: normalise over the vocabulary (dim=-1)":
                logprobs(logits, labels, dim=0),
            "log_softmax over the time axis: normalise over the vocabulary (dim=-1)":
                logprobs(logits, labels, dim=1),
        }
        for name, value in known.items():
            if y.shape == value.shape and torch.allclose(
                y, value, rtol=1e-9, atol=1e-10
            ):
                return name
        return None

    return diagnose


def test_sequence_logprobs_is_the_masked_shifted_sum(pref):
    """sequence_logprobs(logits, labels) = sum over t of log softmax(logits[t-1])[labels[t]], labels != -100."""
    logits, labels = fixture_batch()
    yours = pref.sequence_logprobs(logits, labels)
    kit.close(yours, logprobs(logits, labels), "sequence log-probs (B,) (prompts of 2, 3, 4 tokens, row 2 padded)",
              rtol=1e-10, atol=1e-10, dims="B", diagnose=_logprob_diagnosis(logits, labels),
              hint="shift inside: labels[:, 1:] against log_softmax(logits[:, :-1], -1); "
              "gather, zero the -100 positions, sum over T")


def test_sequence_logprobs_average_divides_by_the_scored_tokens(pref):
    """average=True gives the sum divided by the number of labels that are not -100, per row."""
    logits, labels = fixture_batch(1)
    yours = pref.sequence_logprobs(logits, labels, average=True)
    expected = logprobs(logits, labels, average=True)

    def diagnose(y):
        if torch.allclose(y.double(), logprobs(logits, labels), rtol=1e-9):
            return "average=True is ignored: you return the sum"
        n_all = torch.full((B,), T - 1.0, dtype=torch.float64)
        if torch.allclose(y.double(), logprobs(logits, labels) / n_all, rtol=1e-9):
            return "you divide by T - 1 (every position), not by the number of scored tokens"
        return None

    kit.close(yours, expected, "sequence log-probs with average=True (B,)", rtol=1e-10, atol=1e-10,
              dims="B", diagnose=diagnose,
              hint="divide the masked sum by mask.sum(-1), the count of labels != ignore_index per row")


def test_sequence_logprobs_uses_the_ignore_index_given(pref):
    """With ignore_index=-1 the positions labelled -1 are the ones left out."""
    logits, labels = fixture_batch(2)
    labels = labels.masked_fill(labels == IGNORE, -1)
    yours = pref.sequence_logprobs(logits, labels, ignore_index=-1)
    expected = logprobs(logits, labels.masked_fill(labels == -1, IGNORE))
    kit.close(yours, expected, "sequence log-probs with ignore_index=-1 (B,)", rtol=1e-10, atol=1e-10,
              dims="B", hint="compare the labels with the ignore_index argument, not a hard-coded -100")


def test_summed_logprobs_decide_which_answer_wins(pref):
    """10 chosen tokens at log p = -1.0 vs 20 rejected at -0.6: summed, DPO prefers chosen (loss < ln 2)."""
    # One prompt token, then the answers; rows padded with -100 to T = 21.
    Tf, Vf = 21, 5
    labels = torch.full((2, Tf), IGNORE)
    labels[0, 1:11] = 2  # chosen: 10 tokens
    labels[1, 1:21] = 3  # rejected: 20 tokens
    logits = torch.zeros(2, Tf, Vf, dtype=torch.float64)
    for row, tok, lp in ((0, 2, -1.0), (1, 3, -0.6)):
        # make log softmax(logits)[tok] = lp exactly: the other Vf-1 tokens share the rest
        rest = math.log((1 - math.exp(lp)) / (Vf - 1))
        logits[row, :, :] = rest
        logits[row, :, tok] = lp
    logps = pref.sequence_logprobs(logits, labels)
    kit.close(logps, torch.tensor([-10.0, -12.0]), "summed log-probs of the two answers",
              rtol=1e-10, atol=1e-10, diagnose=lambda y: "your log-probs are per-token means "
              "(-1.0, -0.6): the rejected answer would win" if torch.allclose(y.double(),
              torch.tensor([-1.0, -0.6], dtype=torch.float64)) else None)
    zero = torch.zeros(1, dtype=torch.float64)
    losses, _, _ = call_dpo(pref, logps[:1], logps[1:], zero, zero, beta=0.1)
    if not float(losses.mean()) < LN2:
        kit.fail("DPO loss on the sum-vs-mean example (summed log-ratio +2.0 prefers chosen)",
                 yours=float(losses.mean()), expected=f"< ln 2 = {LN2:.6f}",
                 hint="score an answer by the sum of its token log-probs, not their mean")


def test_pair_logprob_scores_only_the_response(pref):
    """build_pair then sequence_logprobs: the prompt never counts, the answer and its EOS do."""
    prompt, chosen, rejected, eos = [3, 1, 4, 1], [5, 9, 2], [6, 5], 10
    pair = pref.build_pair(prompt, chosen, rejected, eos, 12)
    g = gen(3)
    for side, answer in (("chosen", chosen), ("rejected", rejected)):
        ids = torch.tensor([list(map(int, pair[f"{side}_input_ids"]))])
        labels = torch.tensor([list(map(int, pair[f"{side}_labels"]))])
        logits = torch.randn(1, ids.size(1), 11, generator=g, dtype=torch.float64)
        yours = pref.sequence_logprobs(logits, labels)
        full = list(prompt) + list(answer) + [eos]
        lsm = logits[0].log_softmax(-1)
        expected = sum(lsm[t - 1, full[t]] for t in range(len(prompt), len(full)))
        with_prompt = sum(lsm[t - 1, full[t]] for t in range(1, len(full)))
        kit.close(yours, expected.reshape(1), f"log pi({side} answer | prompt) through build_pair",
                  rtol=1e-10, atol=1e-10,
                  diagnose=lambda y, w=with_prompt: "the prompt's tokens are scored: build_pair must label them -100 "
                  "(the DPO loss cannot show this: the prompt cancels between chosen and rejected)"
                  if math.isclose(float(y), float(w), rel_tol=1e-9) else None,
                  hint="labels = [-100] * len(prompt) + answer + [eos]")


# --- the Bradley-Terry reward loss ---------------------------------------------------


def _reward(pref, rc, rr, margin=None):
    out = (
        pref.reward_loss(rc, rr)
        if margin is None
        else pref.reward_loss(rc, rr, margin=margin)
    )
    return as_scalar_or_rows(out, "reward_loss", rc.numel()).mean()


def test_reward_loss_matches_bradley_terry(pref):
    """reward_loss = mean of -log sigma(r_chosen - r_rejected [- margin]): 0.313262 for 1.5 vs 0.5."""
    one = lambda v: torch.tensor([v], dtype=torch.float64)
    swapped = "your loss prefers the rejected answer: -log sigma(r_chosen - r_rejected), not the reverse"
    kit.close(_reward(pref, one(1.5), one(0.5)), 0.313262, "reward_loss(1.5, 0.5)", rtol=0, atol=1e-6,
              diagnose=lambda y: swapped if math.isclose(float(y), 1.313262, abs_tol=1e-6) else None,
              hint="-F.logsigmoid(r_chosen - r_rejected).mean()")
    kit.close(_reward(pref, one(1.5), one(0.5), one(0.5)), 0.474077, "reward_loss(1.5, 0.5, margin=0.5)",
              rtol=0, atol=1e-6,
              diagnose=lambda y: "the margin is added; it is subtracted: -log sigma(r_c - r_r - margin)"
              if math.isclose(float(y), float(bt_loss(one(1.5), one(0.5), -0.5)), abs_tol=1e-6) else None,
              hint="subtract the margin from the reward gap")
    g = gen(4)
    rc, rr, m = (torch.randn(7, generator=g, dtype=torch.float64) * 2 for _ in range(3))
    kit.close(_reward(pref, rc, rr), bt_loss(rc, rr), "reward_loss on 7 random pairs (mean)",
              rtol=1e-12, atol=1e-12,
              diagnose=lambda y: swapped if math.isclose(float(y), float(bt_loss(rr, rc)), rel_tol=1e-9)
              else None)
    kit.close(_reward(pref, rc, rr, m), bt_loss(rc, rr, m), "reward_loss with random margins (mean)",
              rtol=1e-12, atol=1e-12)


# --- the DPO loss --------------------------------------------------------------------


def _dpo_diagnosis(pc, pr, rc, rr, beta, eps=0.0, ipo=False):
    def diagnose(yours):
        y = yours.detach().double()
        h = (pc - pr) - (rc - rr)
        nls = lambda x: -torch.nn.functional.logsigmoid(x)
        known = {}
        if eps and not ipo:  # swapping the cDPO weights is the same loss as flipping h
            swapped = dpo(pc, pr, rc, rr, beta, 1 - eps)[0]
            known["the label-smoothing weights are swapped (the same loss as flipping the sign "
                  "of h): (1 - eps) belongs to -log sigma(beta h)"] = swapped
        known |= {
            "your loss prefers the rejected response (a sign error in the log-ratios)":
                dpo(pr, pc, rr, rc, beta, eps, ipo)[0],
            "the reference log-ratio is added; subtract it: h = (pi_c - pi_r) - (ref_c - ref_r)":
                dpo(pc, pr, rr, rc, beta, eps, ipo)[0],
            "beta is applied outside the log-sigmoid: -log sigma(beta * h), not beta * -log sigma(h)":
                beta * nls(h),
            "beta is missing: -log sigma(beta * h)": nls(h),
            "label_smoothing is ignored: cDPO adds eps * -log sigma(-beta h)":
                dpo(pc, pr, rc, rr, beta, 0.0)[0],
            "beta is inside the IPO square: eric-mitchell's IPO is (h - 1/(2 beta))^2":
                (beta * h - 0.5) ** 2,
            "IPO with 1/beta instead of 1/(2 beta)": (h - 1 / beta) ** 2,
            "ipo=True is ignored: you return the DPO loss": dpo(pc, pr, rc, rr, beta, eps)[0],
        }
        for name, value in known.items():
            value = value if y.dim() else value.mean()
            if y.shape == value.shape and torch.allclose(
                y, value, rtol=1e-9, atol=1e-12
            ):
                return name
        return None

    return diagnose


def _check_dpo(pref, beta, eps=0.0, ipo=False, offset=0, what="DPO losses"):
    pc, pr, rc, rr = dpo_rows(offset)
    kwargs = dict(beta=beta)
    if eps:
        kwargs["label_smoothing"] = eps
    if ipo:
        kwargs["ipo"] = True
    losses, _, _ = call_dpo(pref, pc, pr, rc, rr, **kwargs)
    expected = dpo(pc, pr, rc, rr, beta, eps, ipo)[0]
    kit.close(losses, reduce_like(losses, expected), f"{what} with beta={beta} (row 0: pi 10/-12, ref -11/-11)",
              rtol=1e-12, atol=1e-12, dims="B", diagnose=_dpo_diagnosis(pc, pr, rc, rr, beta, eps, ipo),
              hint="h = (pi_c - pi_r) - (ref_c - ref_r); DPO -logsigmoid(beta h); "
              "cDPO (1-eps)(-logsigmoid(beta h)) + eps(-logsigmoid(-beta h)); IPO (h - 1/(2 beta))^2")
    return losses


@pytest.mark.parametrize("beta", [0.1, 0.5])
def test_dpo_loss_matches_the_reference(pref, beta):
    """-log sigma(beta h), h = (pi_c - pi_r) - (ref_c - ref_r): 0.598139 for h = 2, beta 0.1; rewards +-0.1."""
    losses = _check_dpo(pref, beta)
    if beta == 0.1 and losses.dim():
        kit.close(
            losses[0], 0.598139, "DPO loss of the worked example", rtol=0, atol=1e-6
        )
    pc, pr, rc, rr = dpo_rows()
    _, cr, rj = call_dpo(pref, pc, pr, rc, rr, beta=beta)
    for name, yours, expected in (
        ("chosen", cr, beta * (pc - rc)),
        ("rejected", rj, beta * (pr - rr)),
    ):
        kit.close(yours, expected, f"{name}_rewards = beta * (policy - reference) log-probs", rtol=1e-12,
                  atol=1e-12, dims="B",
                  diagnose=lambda y, e=expected: "the rewards lack the factor beta"
                  if torch.allclose(y.detach().double(), e / beta) else None)
        if yours.requires_grad:
            _note("dpo_loss returns rewards that carry a gradient: harmless for the loss, but "
                  "eric-mitchell's preference_loss detaches them (they are only logged)")


def test_cdpo_label_smoothing(pref):
    """label_smoothing=0.1: (1 - 0.1) * -log sigma(beta h) + 0.1 * -log sigma(-beta h), 0.618139 for h = 2."""
    losses = _check_dpo(
        pref, 0.1, eps=0.1, offset=5, what="cDPO losses (label_smoothing=0.1)"
    )
    if losses.dim():
        kit.close(
            losses[0], 0.618139, "cDPO loss of the worked example", rtol=0, atol=1e-6
        )


def test_ipo_loss_is_the_squared_distance_to_one_over_two_beta(pref):
    """ipo=True: (h - 1/(2 beta))^2 on summed log-probs, 9.0 for h = 2, beta 0.1."""
    losses = _check_dpo(pref, 0.1, ipo=True, offset=6, what="IPO losses")
    if losses.dim():
        kit.close(losses[0], 9.0, "IPO loss of the worked example", rtol=0, atol=1e-9)


def test_reference_free_ignores_the_reference(pref):
    """reference_free=True: h = pi_c - pi_r, whatever the reference log-probs are."""
    pc, pr, rc, rr = dpo_rows(7)
    losses, _, _ = call_dpo(pref, pc, pr, rc, rr, beta=0.1, reference_free=True)
    expected = dpo(pc, pr, rc, rr, 0.1, reference_free=True)[0]
    kit.close(losses, reduce_like(losses, expected), "DPO losses with reference_free=True", rtol=1e-12,
              atol=1e-12, dims="B", hint="with reference_free the reference log-ratio is 0")


def test_defaults_are_beta_0_1_and_plain_dpo(pref):
    """dpo_loss(pc, pr, rc, rr) with no options is DPO with beta 0.1 (or beta is required, as in
    eric-mitchell's preference_loss); sequence_logprobs sums, ignoring -100."""
    pc, pr, rc, rr = dpo_rows(11)
    try:
        losses, cr, _ = call_dpo(pref, pc, pr, rc, rr)
    except TypeError as exc:
        if "beta" not in str(exc):
            raise
        # beta without a default is eric-mitchell's signature: the other options still default
        losses, cr, _ = call_dpo(pref, pc, pr, rc, rr, beta=0.1)
    expected, rewards, _ = dpo(pc, pr, rc, rr, 0.1)
    kit.close(losses, reduce_like(losses, expected), "dpo_loss(pc, pr, rc, rr) with the defaults",
              rtol=1e-12, atol=1e-12, dims="B",
              hint="defaults: beta=0.1, label_smoothing=0.0, ipo=False, reference_free=False")
    what = "chosen_rewards with the default beta 0.1"
    kit.close(cr, rewards, what, rtol=1e-12, atol=1e-12)
    logits, labels = fixture_batch(12)
    kit.close(pref.sequence_logprobs(logits, labels), logprobs(logits, labels),
              "sequence_logprobs(logits, labels) with the defaults", rtol=1e-10, atol=1e-10,
              hint="defaults: ignore_index=-100, average=False")


def test_policy_equal_to_reference_gives_ln2(pref):
    """When the policy's log-probs equal the reference's, every loss is ln 2 and every reward 0."""
    g = gen(8)
    pc, pr = logp_rows(g, 4), logp_rows(g, 4)
    for beta in (0.1, 0.3):
        losses, cr, rj = call_dpo(pref, pc, pr, pc.clone(), pr.clone(), beta=beta)
        kit.close(losses, torch.full(losses.shape, LN2, dtype=torch.float64),
                  f"DPO losses with policy == reference (beta={beta})", rtol=1e-12, atol=1e-12,
                  hint="h = 0 when the two models agree, and -log sigma(0) = ln 2")
        for name, r in (("chosen", cr), ("rejected", rj)):
            kit.close(
                r,
                torch.zeros(4),
                f"{name}_rewards with policy == reference",
                rtol=0,
                atol=1e-12,
            )


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_gradient_at_init_is_minus_beta_over_two(pref, eps):
    """At h = 0, d loss / d policy_chosen_logps = -beta (1 - 2 eps) / 2 per example: not zero."""
    g = gen(9)
    beta, n = 0.1, 4
    pc = logp_rows(g, n).requires_grad_(True)
    pr = logp_rows(g, n).requires_grad_(True)
    losses, _, _ = call_dpo(pref, pc, pr, pc.detach().clone(), pr.detach().clone(), beta=beta,
                            label_smoothing=eps)
    losses.sum().backward()
    scale = 1.0 if losses.dim() else 1.0 / n  # a mean spreads the gradient over the batch
    want = -beta * (1 - 2 * eps) / 2 * scale
    for name, x, sign in (
        ("policy_chosen_logps", pc, 1),
        ("policy_rejected_logps", pr, -1),
    ):
        if x.grad is None:
            kit.fail(f"no gradient reached {name}",
                     hint="compute the loss from the inputs with differentiable torch operations")
        kit.close(x.grad, torch.full((n,), sign * want, dtype=torch.float64),
                  f"d loss / d {name} at policy == reference (beta=0.1, label_smoothing={eps})",
                  rtol=1e-12, atol=1e-12, dims="B")


def test_raising_the_chosen_logprob_lowers_the_loss(pref):
    """Sign: nudging policy_chosen_logps up lowers each loss; nudging policy_rejected_logps up raises it."""
    pc, pr, rc, rr = dpo_rows(10)
    base, _, _ = call_dpo(pref, pc, pr, rc, rr, beta=0.1)
    up_c, _, _ = call_dpo(pref, pc + 0.5, pr, rc, rr, beta=0.1)
    up_r, _, _ = call_dpo(pref, pc, pr + 0.5, rc, rr, beta=0.1)
    if not bool((up_c < base).all()):
        kit.fail("raising the policy's log-prob of the chosen answer did not lower the loss",
                 yours=up_c.tolist(), expected=f"below {base.tolist()}",
                 diagnosis="your loss prefers the rejected answer",
                 hint="-logsigmoid(beta * h) falls as h = log-ratio of chosen over rejected grows")
    if not bool((up_r > base).all()):
        kit.fail("raising the policy's log-prob of the rejected answer did not raise the loss",
                 yours=up_r.tolist(), expected=f"above {base.tolist()}",
                 diagnosis="your loss prefers the rejected answer")


def test_large_margins_stay_finite(pref):
    """beta * h = -800 (float64): DPO, cDPO and reward_loss stay finite (log sigma, not log of sigma)."""
    big = torch.tensor([8000.0, -8000.0], dtype=torch.float64)
    zero = torch.zeros(2, dtype=torch.float64)
    hint = "use F.logsigmoid(x); torch.log(torch.sigmoid(x)) is log(0) = -inf once sigmoid underflows"
    for eps in (0.0, 0.1):
        pc = big.clone().requires_grad_(True)
        losses, _, _ = call_dpo(
            pref, pc, zero, zero, zero, beta=0.1, label_smoothing=eps
        )
        expected = dpo(big, zero, zero, zero, 0.1, eps)[0]
        if not bool(torch.isfinite(losses).all()):
            kit.fail(f"DPO loss for beta * h = +-800 (label_smoothing={eps}) is not finite",
                     yours=losses.tolist(), expected=reduce_like(losses, expected).tolist(),
                     diagnosis="non-finite loss for a large margin", hint=hint)
        kit.close(losses, reduce_like(losses, expected), f"DPO losses for beta * h = +-800 (label_smoothing={eps})",
                  rtol=1e-12, atol=1e-9, hint=hint)
        losses.sum().backward()
        if pc.grad is None or not bool(torch.isfinite(pc.grad).all()):
            kit.fail("the gradient of the DPO loss at beta * h = +-800 is not finite",
                     yours=None if pc.grad is None else pc.grad.tolist(), hint=hint)
    r = _reward(
        pref,
        torch.tensor([-400.0, 400.0], dtype=torch.float64),
        torch.tensor([400.0, -400.0], dtype=torch.float64),
    )
    if not math.isfinite(float(r)):
        kit.fail("reward_loss for a reward gap of -800 is not finite", yours=float(r), expected=400.0,
                 diagnosis="non-finite loss for a large margin", hint=hint)
    kit.close(
        r, 400.0, "reward_loss for gaps -800 and +800 (mean)", rtol=1e-12, atol=1e-9
    )


def _note(text):
    """A remark shown with the check's artifacts, not a failure."""
    try:
        path = kit.artifact_path(
            "test_dpo_loss_matches_the_reference", "preference-notes.txt"
        )
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")
    except OSError:
        pass


# --- build_pair ----------------------------------------------------------------------


def _pair(pref, prompt, chosen, rejected, eos, max_length):
    out = pref.build_pair(prompt, chosen, rejected, eos, max_length)
    keys = (
        "chosen_input_ids",
        "chosen_labels",
        "rejected_input_ids",
        "rejected_labels",
    )
    missing = [k for k in keys if k not in out]
    if missing:
        kit.fail(
            f"build_pair's result has no {missing}",
            hint="return a dict with " + ", ".join(keys),
        )
    return {k: [int(v) for v in out[k]] for k in keys}


def test_build_pair_masks_the_prompt_and_appends_eos_once(pref):
    """ids = prompt + answer + [eos]; labels the same with every prompt position -100."""
    prompt, chosen, rejected, eos = [7, 3, 8, 2, 9], [1, 4, 1], [5, 9, 2, 6, 5], 0
    out = _pair(pref, prompt, chosen, rejected, eos, 32)
    for side, answer in (("chosen", chosen), ("rejected", rejected)):
        ids, labels = out[f"{side}_input_ids"], out[f"{side}_labels"]
        want_ids = prompt + answer + [eos]
        want_labels = [IGNORE] * len(prompt) + answer + [eos]
        if ids[: len(prompt)] != prompt:
            kit.fail(
                f"{side}_input_ids do not start with the prompt",
                yours=ids,
                expected=want_ids,
            )
        if ids != want_ids:
            n = ids.count(eos)
            kit.fail(f"{side}_input_ids", yours=ids, expected=want_ids,
                     diagnosis=f"EOS appears {n} times; append it once, after the answer" if n != 1 else None,
                     hint="prompt + answer + [eos_id], the two tokenised separately")
        if labels != want_labels:
            diagnosis = None
            if labels == want_ids:
                diagnosis = (
                    "labels at prompt positions must be -100: the prompt is not masked"
                )
            elif labels[: len(prompt)] == [IGNORE] * len(prompt):
                diagnosis = "the prompt is masked but the answer's labels differ (EOS included?)"
            kit.fail(f"{side}_labels", yours=labels, expected=want_labels, diagnosis=diagnosis,
                     hint="labels = [-100] * len(prompt) + answer + [eos_id], aligned with the ids "
                     "(sequence_logprobs shifts)")


def test_build_pair_truncates_the_answer_keeping_its_start(pref):
    """Longer than max_length: the prompt stays whole and the answer keeps its first tokens."""
    prompt, chosen, rejected, eos, L = [4, 4, 2], [1, 2, 3, 5, 6, 7, 8], [9, 8], 0, 7
    out = _pair(pref, prompt, chosen, rejected, eos, L)
    ids, labels = out["chosen_input_ids"], out["chosen_labels"]
    if len(ids) != L or len(labels) != L:
        kit.fail(f"length of the truncated chosen ids/labels (max_length={L})",
                 yours=(len(ids), len(labels)), expected=(L, L))
    head = chosen[: L - len(prompt)]
    accepted = (prompt + head, prompt + head[:-1] + [eos])  # EOS cut off, or kept last
    if ids not in accepted:
        kit.fail("truncated chosen_input_ids", yours=ids, expected=accepted[0],
                 diagnosis="the start of the answer was cut: keep the prompt and the answer's first "
                 "tokens" if ids[: len(prompt)] != prompt or ids[len(prompt)] != chosen[0] else None,
                 hint="cut the joined sequence to its first max_length tokens")
    want = [IGNORE] * len(prompt) + ids[len(prompt) :]
    if labels != want:
        kit.fail("truncated chosen_labels", yours=labels, expected=want)
    short = out["rejected_input_ids"]
    if short != prompt + rejected + [eos]:
        kit.fail("rejected_input_ids that fit in max_length must not be cut", yours=short,
                 expected=prompt + rejected + [eos])
