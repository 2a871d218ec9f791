"""noos SDK: Python clients of the noos D-Bus services.

Async clients (`System`, `Memory`, `Index`, `Scheduler`) and their blocking
twins (`SyncSystem`, `SyncMemory`, `SyncIndex`, `SyncScheduler`) talk to the
system bus, or to the bus named by $NOOS_BUS_ADDRESS or by `address`. Failed
calls raise the errors of `noos.protocol.errors`. Watches (`noos.watch`) follow
what the services announce: `Scheduler.watch`, `Index.watch_progress`,
`Memory.watch_stats`, and `watch_services` for services coming and going.
"""

from noos.bus import Connection
from noos.index import FileHit, Index, IndexedFile, IndexProgress, IndexStatus, SyncIndex
from noos.memory import Memory, MemoryFilter, MemoryRecord, MemoryStats, RecallHit, SyncMemory
from noos.protocol.errors import (
    Busy,
    Corrupted,
    Internal,
    InvalidArgument,
    NoosError,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
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
    SchedulerChange,
    SchedulerStatus,
    SyncJob,
    SyncScheduler,
)
from noos.system import Model, SyncSystem, System
from noos.watch import PropertiesChanged, ServiceChange, Watch, watch_services

__all__ = [
    "Busy",
    "ChatMessage",
    "Connection",
    "Corrupted",
    "FileHit",
    "GenerationOptions",
    "Index",
    "IndexProgress",
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
    "MemoryStats",
    "Model",
    "ModelInfo",
    "NoosError",
    "NotFound",
    "PermissionDenied",
    "PropertiesChanged",
    "QuotaExceeded",
    "RecallHit",
    "Scheduler",
    "SchedulerChange",
    "SchedulerStatus",
    "ServiceChange",
    "SyncIndex",
    "SyncJob",
    "SyncMemory",
    "SyncScheduler",
    "SyncSystem",
    "System",
    "Unavailable",
    "Watch",
    "watch_services",
]
