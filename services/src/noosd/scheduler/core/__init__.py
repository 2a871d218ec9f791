"""The policy core of org.noos.Scheduler1: language models scheduled like CPU cores.

Pure and deterministic: no D-Bus, no model runtime, no threads, no clock.
Every event carries the time it happened at and returns what to do as values,
so a simulated clock and fake costs test all of it. The backend layer (which
runs llama.cpp or talks to an OpenAI-compatible server) reports events and
carries out decisions in order; the D-Bus facade turns calls into `submit`,
`cancel` and `job`, and errors into `org.noos.Error.*`.

Layout, from the outside in:

- `machine`: the state machine; its docstring lists the events and queries.
- `decisions`: Load, Evict, Start, Resume, Preempt, Cancel, Reject, PageOut, Drop.
- `jobs`: requests, priority classes, states, timings, ownership.
- `catalog`: the models, read and checked from `/etc/noos/models.d/*.toml`.
- `policy`: the run queue (classes, fair share by virtual time per user) and
  the choice of jobs to preempt.
- `capacity`: slots per model and the CPU-thread budget.
- `residency`: which models are in memory; loads and evictions by cost.
- `kvcache`: saved KV states, paged to disk under a RAM budget, and the prefix
  index that finds one to start a prompt from.
- `prediction`: the next model asked for, by hour of day and by the one before.
- `throughput`: recent work per second, and the retry hint of a Busy.
- `config`: the budgets and tunables.

- `accelerators`: the rules that say whether models run on a PCI display
  device (the VRAM budget, llama.cpp's GPU layers).

Outside the core: `live.hardware` finds the devices with pyudev and follows
their hotplug; `storage.kvstore` keeps the saved states' bytes.
"""

from noosd.scheduler.core.catalog import Catalog, ModelSpec, load_catalog, parse_models
from noosd.scheduler.core.config import SchedulerConfig
from noosd.scheduler.core.decisions import (
    Cancel,
    Decision,
    Drop,
    Evict,
    Load,
    PageOut,
    Preempt,
    Reject,
    Resume,
    Start,
    StateLocation,
)
from noosd.scheduler.core.jobs import JobId, JobInfo, JobRequest, JobState, Priority, Sampling
from noosd.scheduler.core.kvcache import PrefixHit, SavedState, prefix_blocks
from noosd.scheduler.core.machine import Scheduler, SchedulerStats

__all__ = [
    "Cancel",
    "Catalog",
    "Decision",
    "Drop",
    "Evict",
    "JobId",
    "JobInfo",
    "JobRequest",
    "JobState",
    "Load",
    "ModelSpec",
    "PageOut",
    "Preempt",
    "PrefixHit",
    "Priority",
    "Reject",
    "Resume",
    "Sampling",
    "SavedState",
    "Scheduler",
    "SchedulerConfig",
    "SchedulerStats",
    "Start",
    "StateLocation",
    "load_catalog",
    "parse_models",
    "prefix_blocks",
]
