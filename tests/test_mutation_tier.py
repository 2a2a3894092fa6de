"""The mutation tier: every lab's checks kill at least 95% of a fixed sample of its mutants."""

import os

import pytest

from labpath import labs, mutate

pytestmark = pytest.mark.torch  # every lab's checks, most of them torch's

# Sized for CI (2 cores, the whole tier in about 6-8 minutes): 16 mutants per lab,
# two at a time, each stopping at its first failing check. A slower or busier machine
# can raise the per-lab budget with LABPATH_MUTATION_BUDGET (seconds).
SEED, SAMPLE, JOBS, FLOOR = 2026, 16, 2, 95.0
BUDGET = float(os.environ.get("LABPATH_MUTATION_BUDGET", "150"))
# gpt-train's checks train under a two-process torchrun: a surviving mutant costs a minute.
LONGER = {"gpt-train": 2.0}


@pytest.mark.slow
@pytest.mark.parametrize("lab_id", labs.available())
def test_checks_kill_sampled_mutants(lab_id):
    budget = BUDGET * LONGER.get(lab_id, 1.0)
    report = mutate.mutate_lab(
        lab_id, sample=SAMPLE, seed=SEED, budget=budget, jobs=JOBS
    )
    unrun = report.count(mutate.NOT_RUN)
    assert unrun == 0, (
        f"{lab_id}: {unrun} of {report.sample} mutants not run within {budget:g}s "
        f"({report.seconds:.0f}s used): the floor is unproven"
    )
    survivors = "\n".join(f"{r.mutant.key}\n{r.diff}" for r in report.survivors)
    assert report.score >= FLOOR, (
        f"{lab_id}: {report.detected}/{report.scored} mutants caught "
        f"({report.score:.1f}%, floor {FLOOR:g}%); survivors:\n{survivors}"
    )
    assert not report.unused_equivalents, report.unused_equivalents
