"""noos SDK: Python clients of the noos D-Bus services.

Async clients (`System`, `Memory`, `Index`, `Scheduler`) and their blocking
twins (`SyncSystem`, `SyncMemory`, `SyncIndex`, `SyncScheduler`) talk to the
system bus, or to the bus named by $NOOS_BUS_ADDRESS or by `address`. Failed
calls raise the errors of `noos.protocol.errors`.
"""

from noos.bus import Connection
from noos.index import FileHit, Index, IndexedFile, IndexStatus, SyncIndex
from noos.memory import Memory, MemoryFilter, MemoryRecord, RecallHit, SyncMemory
from noos.protocol.errors import (
    Busy,
    Internal,
    InvalidArgument,
    NoosError,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from noos.scheduler import (
    ChatMessage,
    GenerationOptions,
    Job,
    JobFailed,
    JobInfo,
    ModelInfo,
    Scheduler,
    SchedulerStatus,
    SyncJob,
    SyncScheduler,
)
from noos.system import Model, SyncSystem, System

__all__ = [
    "Busy",
    "ChatMessage",
    "Connection",
    "FileHit",
    "GenerationOptions",
    "Index",
    "IndexStatus",
    "IndexedFile",
    "Internal",
    "InvalidArgument",
    "Job",
    "JobFailed",
    "JobInfo",
    "Memory",
    "MemoryFilter",
    "MemoryRecord",
    "Model",
    "ModelInfo",
    "NoosError",
    "NotFound",
    "PermissionDenied",
    "RecallHit",
    "Scheduler",
    "SchedulerStatus",
    "SyncIndex",
    "SyncJob",
    "SyncMemory",
    "SyncScheduler",
    "SyncSystem",
    "System",
    "Unavailable",
]
