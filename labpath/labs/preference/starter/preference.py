"""
Lab - preference: a Bradley-Terry reward model and DPO on your own GPT.

Teach a language model which of two answers people prefer: first a reward model (your
GPT with a scalar head, trained with the Bradley-Terry loss), then Direct Preference
Optimization, which trains the policy itself with no reward model and no RL. The
interface follows eric-mitchell/direct-preference-optimization (trainers.py).
Read README.md in this folder first; check your work with `labpath check preference`.

Every gap below is marked TODO and raises NotImplementedError until you fill it in.
The two classes at the bottom (GPTBackbone, GPTPolicy) are given: they wrap your gpt2
lab's GPT so that it returns hidden states, or logits at every position.
"""

import torch
import torch.nn as nn
from torch.nn import functional as F  # noqa: F401  (F.logsigmoid, F.pad)

IGNORE_INDEX = -100  # label of a position that is not scored (prompt, padding)


def sequence_logprobs(logits, labels, ignore_index=IGNORE_INDEX, average=False):
    """Log-probability of each row's labelled tokens: (B, T, V), (B, T) -> (B,).

    labels are aligned with the input ids; positions equal to ignore_index are not
    scored. average=True divides each row's sum by its number of scored tokens.
    """
    # TODO: the logits at position t predict the token at t + 1: shift inside
    # (labels[:, 1:] against logits[:, :-1]), take log_softmax over the vocabulary,
    # gather each label's log-prob, zero the ignored positions, sum over T.
    raise NotImplementedError("sequence_logprobs")


def reward_loss(r_chosen, r_rejected, margin=None):
    """Bradley-Terry: mean of -log sigma(r_chosen - r_rejected [- margin])."""
    # TODO: a numerically safe log-sigmoid; subtract the margin when one is given.
    raise NotImplementedError("reward_loss")


def dpo_loss(
    policy_chosen_logps,
    policy_rejected_logps,
    reference_chosen_logps,
    reference_rejected_logps,
    beta=0.1,
    label_smoothing=0.0,
    ipo=False,
    reference_free=False,
):
    """Per-example DPO (or cDPO, or IPO) losses and the detached implicit rewards.

    All inputs are (B,) summed log-probs. Returns (losses, chosen_rewards,
    rejected_rewards), each (B,).
    """
    # TODO: h = (pi_chosen - pi_rejected) - (ref_chosen - ref_rejected) (the reference
    # term is 0 when reference_free). DPO: -log sigma(beta h); cDPO mixes in
    # label_smoothing * -log sigma(-beta h); IPO: (h - 1 / (2 beta))^2.
    # Rewards: beta * (policy - reference) log-probs, detached.
    raise NotImplementedError("dpo_loss")


def build_pair(prompt_ids, chosen_ids, rejected_ids, eos_id, max_length):
    """Input ids and labels for both answers of one preference pair.

    Returns a dict with chosen_input_ids, chosen_labels, rejected_input_ids,
    rejected_labels (lists of ints).
    """
    # TODO: ids = prompt + answer + [eos_id]; labels = the same with every prompt
    # position -100; cut both to max_length, keeping the answer's first tokens.
    raise NotImplementedError("build_pair")


class RewardModel(nn.Module):
    """r(x, y): a linear head on the hidden state of the last real token.

    backbone(idx) returns hidden states (B, T, n_embd); forward returns (B,).
    """

    def __init__(self, backbone, n_embd):
        super().__init__()
        # TODO: keep the backbone and add a Linear(n_embd, 1) head.
        raise NotImplementedError("RewardModel.__init__")

    def forward(self, idx, attention_mask):
        # TODO: run the backbone, pick each row's hidden state at the last position
        # whose attention_mask is 1, apply the head, squeeze to (B,).
        raise NotImplementedError("RewardModel.forward")


def dpo_step(policy, reference, batch, beta, optimizer):
    """One optimizer step of DPO; returns dict(loss, reward_accuracy, margin).

    policy(ids) and reference(ids) map (B, T) ids to (B, T, V) logits. batch holds
    chosen_input_ids, chosen_labels (B, T_c) and rejected_input_ids, rejected_labels
    (B, T_r), each side right-padded on its own (T_c and T_r may differ).
    """
    # TODO: dropout off in both models; the summed log-probs of the chosen and the
    # rejected rows under the policy, and under the reference inside torch.no_grad();
    # loss = the mean of dpo_loss's losses; zero_grad, backward, step; return the
    # loss, the fraction of pairs whose chosen reward is larger, and the mean margin.
    raise NotImplementedError("dpo_step")


# -----------------------------------------------------------------------------
# given: your gpt2 GPT as a backbone (hidden states) and as a policy (all logits)


class GPTBackbone(nn.Module):
    """The gpt2 lab's GPT up to ln_f: ids (B, T) -> hidden states (B, T, n_embd)."""

    def __init__(self, gpt):
        super().__init__()
        self.gpt = gpt

    def forward(self, idx):
        tr = self.gpt.transformer
        pos = torch.arange(idx.size(1), device=idx.device)  # (T,)
        x = tr.drop(tr.wte(idx) + tr.wpe(pos))  # (B, T, C)
        for block in tr.h:
            x = block(x)
        return tr.ln_f(x)  # (B, T, C)


class GPTPolicy(nn.Module):
    """The GPT with logits at every position: ids (B, T) -> (B, T, V).

    nanoGPT's forward(idx) returns only the last position; DPO needs them all.
    """

    def __init__(self, gpt):
        super().__init__()
        self.gpt = gpt
        self.backbone = GPTBackbone(gpt)

    def forward(self, idx):
        return self.gpt.lm_head(self.backbone(idx))  # (B, T, V)
