"""The backends that run models, one per `catalog.Backend` kind.

Each module registers its backend class here by kind; `backend_for` imports
it only when a catalog first names that kind (llama_cpp loads a shared
library, httpx a TLS stack: a service with no remote model needs neither).
"""

from __future__ import annotations

import importlib

from noosd.scheduler.backends.base import Backend
from noosd.scheduler.core.catalog import Backend as BackendKind

_MODULES = {
    BackendKind.LLAMA_CPP: ("noosd.scheduler.backends.llama", "LlamaCppBackend"),
    BackendKind.OPENAI: ("noosd.scheduler.backends.openai", "OpenAIBackend"),
}


def backend_for(kind: BackendKind) -> type[Backend]:
    module, name = _MODULES[kind]
    backend: type[Backend] = getattr(importlib.import_module(module), name)
    return backend
