"""The spec of one check run and how it reaches the check process: LABPATH_* variables."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

TARGET = "LABPATH_TARGET"  # the learner's folder under check
LAB = "LABPATH_LAB"  # the lab's id
SEED = "LABPATH_SEED"  # the run's seed (`labpath check --seed N`)
USES = "LABPATH_USES"  # JSON {lab: folder} of the labs this one builds on
FORBIDDEN = "LABPATH_FORBIDDEN"  # JSON [{"name", "why"}] of the APIs the lab forbids
SELECT = "LABPATH_SELECT"  # comma-separated names of the checks to run (all if unset)
DATA = "LABPATH_DATA"  # `--data`: the file or folder a check reads instead of its own
DEVICE = "LABPATH_DEVICE"  # `--device`: auto, cpu, cuda or mps for checks that train
ARTIFACTS = "LABPATH_ARTIFACTS"  # the folder a check saves its plots in
REPORT = "LABPATH_REPORT"  # the file the plugin writes its signed records to
RUN = "LABPATH_RUN"  # "<labpath pid>-<random>": finds every process of the run
# Set per process, not part of a spec: the pipe holding the signing key, and the pid
# of the labpath whose death ends the check process.
KEY_FD = "LABPATH_KEY_FD"
PARENT = "LABPATH_PARENT"

DEFAULT_SEED = 1337


@dataclass(frozen=True)
class Rule:
    name: str  # a dotted name such as torch.nn.LSTM
    why: str


@dataclass(frozen=True)
class CheckSpec:
    """Everything one check run needs, resolved by the caller; the runner decides nothing.

    checks_dir and time_limit stay with labpath; the rest is what the check process
    is told, through the variables above.
    """

    lab: str
    target: Path | None
    checks_dir: Path | None = None
    time_limit: float | None = None
    seed: int = DEFAULT_SEED
    uses: Mapping[str, Path] = field(default_factory=dict)
    forbidden: tuple[Rule, ...] = ()
    select: tuple[str, ...] = ()
    data: Path | None = None
    device: str | None = None
    artifacts: Path | None = None
    report: Path | None = None
    run: str | None = None


def encode(spec: CheckSpec) -> dict[str, str]:
    """The environment variables that tell a check process its spec."""
    env = {
        LAB: spec.lab,
        SEED: str(spec.seed),
        USES: json.dumps({k: str(v) for k, v in spec.uses.items()}),
        FORBIDDEN: json.dumps([{"name": r.name, "why": r.why} for r in spec.forbidden]),
    }
    optional = {
        TARGET: spec.target,
        SELECT: ",".join(spec.select),
        DATA: spec.data,
        DEVICE: spec.device,
        ARTIFACTS: spec.artifacts,
        REPORT: spec.report,
        RUN: spec.run,
    }
    env.update({k: str(v) for k, v in optional.items() if v})
    return env


def decode(environ: Mapping[str, str] | None = None) -> CheckSpec:
    """The spec this process was started with (defaults where a variable is unset).

    Raises ValueError for a variable labpath would never have written.
    """
    env = os.environ if environ is None else environ

    def path(name: str) -> Path | None:
        return Path(env[name]) if env.get(name) else None

    uses = json.loads(env.get(USES) or "{}")
    rules = json.loads(env.get(FORBIDDEN) or "[]")
    if not isinstance(uses, dict) or not isinstance(rules, list):
        raise ValueError(f"{USES} must hold a JSON object and {FORBIDDEN} a list")
    return CheckSpec(
        lab=env.get(LAB, ""),
        target=path(TARGET),
        seed=int(env.get(SEED) or DEFAULT_SEED),
        uses={str(k): Path(v) for k, v in uses.items()},
        forbidden=tuple(Rule(str(r["name"]), str(r["why"])) for r in rules),
        select=tuple(n for n in env.get(SELECT, "").split(",") if n),
        data=path(DATA),
        device=env.get(DEVICE) or None,
        artifacts=path(ARTIFACTS),
        report=path(REPORT),
        run=env.get(RUN) or None,
    )
