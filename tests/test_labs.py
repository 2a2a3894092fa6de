"""Every shipped lab is sound: starter not passing, solution passing, every bug caught."""

import pytest

from labpath import curriculum, devcheck, labs


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.parametrize("lab_id", labs.available())
def test_lab_is_sound(lab_id):
    verdict = devcheck.check_lab(lab_id, curriculum.load())
    problems = [f"{f.item}: {f.detail}" for f in verdict.findings if not f.ok]
    assert verdict.ok, f"{lab_id}: " + "; ".join(problems)


def test_every_shipped_lab_is_in_the_builtin_curriculum():
    findings = devcheck.check_curriculum(curriculum.load())
    assert all(f.ok for f in findings), [f.lab for f in findings if not f.ok]
