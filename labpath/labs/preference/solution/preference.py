"""
Learning from preferences: a Bradley-Terry reward model and Direct Preference
Optimization (DPO), on top of the GPT you wrote in the gpt2 lab.

Goal: given pairs (prompt x, chosen answer y_w, rejected answer y_l), make a language
model prefer y_w. Two ways:
- RLHF's first stage: a reward model r(x, y) (the GPT with a scalar head) trained so
  that sigma(r(x, y_w) - r(x, y_l)) is the probability that y_w is preferred
  (Bradley-Terry). RL against that reward would come next.
- DPO skips the reward model and the RL: its loss is the same Bradley-Terry loss with
  the implicit reward r(x, y) = beta * log(pi(y|x) / pi_ref(y|x)), where pi is the
  model being trained and pi_ref a frozen copy of where it started.

The interface follows eric-mitchell/direct-preference-optimization (trainers.py):
sequence log-probs with the shift inside and a masked sum, a per-example loss with
detached rewards, prompt positions labelled -100.

References:
- Rafailov et al. 2023, "Direct Preference Optimization: Your Language Model is
  Secretly a Reward Model", eq. 7 (the loss) and section 5 (the implicit reward).
- Ouyang et al. 2022, "Training language models to follow instructions with human
  feedback" (InstructGPT), section 3.5: the reward model and its pairwise loss.
- Mitchell 2023, "A note on DPO with noisy preferences" (conservative DPO, cDPO).
- Azar et al. 2023, "A General Theoretical Paradigm to Understand Learning from Human
  Preferences" (IPO), eq. 17.
- eric-mitchell/direct-preference-optimization, trainers.py and preference_datasets.py.
"""

import torch
import torch.nn as nn
from torch.nn import functional as F

IGNORE_INDEX = -100  # label of a position that is not scored (prompt, padding)


# -----------------------------------------------------------------------------
# log pi(y | x) of whole responses


def sequence_logprobs(logits, labels, ignore_index=IGNORE_INDEX, average=False):
    """Log-probability of each row's labelled tokens: (B, T, V), (B, T) -> (B,).

    labels are aligned with the input ids (labels[:, t] is the token at position t, or
    ignore_index), so the shift happens here: the logits at position t predict the
    token at t + 1.
    """
    assert logits.shape[:-1] == labels.shape, "logits (B, T, V) and labels (B, T)"
    labels = labels[:, 1:].clone()  # (B, T-1) the tokens being predicted
    logits = logits[:, :-1, :]  # (B, T-1, V) the predictions for them
    mask = labels != ignore_index  # (B, T-1) True on response tokens
    # gather needs a valid index everywhere; masked positions are zeroed below anyway
    labels[~mask] = 0
    logp = logits.log_softmax(dim=-1)  # (B, T-1, V) normalise over the vocabulary
    token_logp = torch.gather(logp, 2, labels.unsqueeze(2)).squeeze(2)  # (B, T-1)
    # DPO scores a response by its *sum*: log pi(y|x) = sum_t log pi(y_t | x, y_<t).
    # The mean would prefer long answers made of likely tokens over short ones.
    total = (token_logp * mask).sum(-1)  # (B,)
    if average:
        return total / mask.sum(-1)
    return total


# -----------------------------------------------------------------------------
# the losses


def reward_loss(r_chosen, r_rejected, margin=None):
    """Bradley-Terry: -log sigma(r_w - r_l [- margin]), averaged over the batch."""
    diff = r_chosen - r_rejected  # (B,)
    if margin is not None:
        diff = diff - margin  # demand a larger gap where the raters were more certain
    # logsigmoid(x) = -softplus(-x): finite for any x, where log(sigmoid(x)) hits -inf
    return -F.logsigmoid(diff).mean()


def dpo_loss(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
             reference_rejected_logps, beta=0.1, label_smoothing=0.0, ipo=False,
             reference_free=False):
    """Per-example DPO (or cDPO, or IPO) losses and the detached implicit rewards.

    All inputs are (B,) summed log-probs. Returns (losses, chosen_rewards,
    rejected_rewards), each (B,).
    """
    pi_logratios = policy_chosen_logps - policy_rejected_logps  # (B,) how much pi prefers y_w
    ref_logratios = reference_chosen_logps - reference_rejected_logps  # (B,) same for pi_ref
    if reference_free:
        # a reference that gives every response the same probability: its ratio is 0
        ref_logratios = torch.zeros_like(pi_logratios)
    h = pi_logratios - ref_logratios  # (B,) r(y_w) - r(y_l), up to the factor beta

    if ipo:
        # IPO regresses h onto 1/(2 beta) instead of pushing it to infinity; beta sits
        # in the target, not inside the square
        losses = (h - 1 / (2 * beta)) ** 2
    else:
        # DPO is -log sigma(beta h). cDPO assumes each label is flipped with probability
        # label_smoothing, so it mixes in the loss of the opposite preference.
        losses = (-F.logsigmoid(beta * h) * (1 - label_smoothing)
                  - F.logsigmoid(-beta * h) * label_smoothing)

    # implicit rewards r(x, y) = beta log(pi / pi_ref), for logging: no gradient
    chosen_rewards = beta * (policy_chosen_logps - reference_chosen_logps).detach()
    rejected_rewards = beta * (policy_rejected_logps - reference_rejected_logps).detach()
    return losses, chosen_rewards, rejected_rewards


# -----------------------------------------------------------------------------
# data: one preference pair as model inputs


def build_pair(prompt_ids, chosen_ids, rejected_ids, eos_id, max_length):
    """Input ids and labels for both answers; the prompt is never scored.

    The prompt and each answer arrive tokenised separately (tokenising them joined can
    move a token boundary across the seam). Each answer gets one EOS, so the model also
    learns where to stop; labels are the ids with every prompt position set to -100.
    Too long: the answer is cut, keeping its first tokens.
    """
    assert len(prompt_ids) < max_length, "the prompt alone fills max_length"
    batch = {}
    for name, answer in (("chosen", chosen_ids), ("rejected", rejected_ids)):
        answer = list(answer)
        assert eos_id not in answer, "the answer already contains EOS"
        answer = answer + [eos_id]
        ids = list(prompt_ids) + answer
        labels = [IGNORE_INDEX] * len(prompt_ids) + answer
        batch[f"{name}_input_ids"] = ids[:max_length]
        batch[f"{name}_labels"] = labels[:max_length]
    return batch


# -----------------------------------------------------------------------------
# a reward model: the GPT with a scalar head


class RewardModel(nn.Module):
    """r(x, y): a linear head on the hidden state of the last real token.

    backbone(idx) returns hidden states (B, T, n_embd) (the GPT without lm_head).
    In a causal model only the last position has read the whole sequence, so the
    reward is read there; padding after it must not matter.
    """

    def __init__(self, backbone, n_embd):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(n_embd, 1)  # hidden state -> scalar reward

    def forward(self, idx, attention_mask):
        h = self.backbone(idx)  # (B, T, C)
        B, T = attention_mask.shape
        # index of the last 1 in each row: the largest position whose mask is 1
        # (right padding: attention_mask.sum(1) - 1, but this also works padded left)
        pos = torch.arange(T, device=idx.device)  # (T,)
        last = (pos * (attention_mask != 0)).argmax(dim=1)  # (B,)
        h_last = h[torch.arange(B, device=idx.device), last]  # (B, C)
        return self.head(h_last).squeeze(-1)  # (B,)


# -----------------------------------------------------------------------------
# one DPO training step


def disable_dropout(model):
    """Zero every dropout: otherwise pi != pi_ref even before the first update."""
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0


def _pad(x, T, value):
    """Right-pad a (B, t) tensor to (B, T) with value."""
    return F.pad(x, (0, T - x.size(1)), value=value)


def concatenated_logps(model, batch):
    """Summed log-probs of the chosen and the rejected rows, from one forward pass."""
    B = batch["chosen_input_ids"].size(0)
    T = max(batch["chosen_input_ids"].size(1), batch["rejected_input_ids"].size(1))
    # stack [chosen; rejected] on the batch axis: (2B, T); pad ids with 0, labels -100
    ids = torch.cat([_pad(batch["chosen_input_ids"], T, 0),
                     _pad(batch["rejected_input_ids"], T, 0)], dim=0)
    labels = torch.cat([_pad(batch["chosen_labels"], T, IGNORE_INDEX),
                        _pad(batch["rejected_labels"], T, IGNORE_INDEX)], dim=0)
    logps = sequence_logprobs(model(ids), labels)  # (2B,)
    return logps[:B], logps[B:]  # the first B rows are the chosen answers


def dpo_step(policy, reference, batch, beta, optimizer):
    """One optimizer step of DPO on a batch; returns the batch's loss and reward stats.

    policy(ids) and reference(ids) map (B, T) ids to (B, T, V) logits. batch holds
    chosen_input_ids, chosen_labels (B, T_c) and rejected_input_ids, rejected_labels
    (B, T_r), each side right-padded on its own (T_c and T_r may differ).
    """
    policy.train()
    disable_dropout(policy)
    reference.eval()  # the reference is frozen: no dropout, no gradient, no update

    pc, pr = concatenated_logps(policy, batch)  # (B,), (B,)
    with torch.no_grad():  # nothing of pi_ref enters the graph
        rc, rr = concatenated_logps(reference, batch)
    losses, chosen_rewards, rejected_rewards = dpo_loss(pc, pr, rc, rr, beta=beta)
    loss = losses.mean()

    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()

    return dict(
        loss=loss.item(),
        reward_accuracy=(chosen_rewards > rejected_rewards).float().mean().item(),
        margin=(chosen_rewards - rejected_rewards).mean().item(),
    )


# -----------------------------------------------------------------------------
# plumbing: your gpt2 GPT as a backbone (hidden states) and as a policy (all logits)


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
