"""What each intent does, apart from the screen that dispatches it.

A flow is an async function of a `Flow` (the services, the transcript, the
session's journal) and the intent's text; the main screen runs it in a worker.
Service failures are handled in one place, `guarded`.
"""

from noos_shell.flows.answers import answer, describe, propose, show_proposal
from noos_shell.flows.base import SERVICE_FAILURES, Flow, IntentFlow, failure_text, guarded
from noos_shell.flows.commands import after_command
from noos_shell.flows.recall import find, forget, forget_memory, recall, remember, show_files
from noos_shell.routing import IntentKind

# The flow of each intent that the services serve (commands run in the screen:
# their input is the screen's input line).
INTENT_FLOWS: dict[IntentKind, IntentFlow] = {
    IntentKind.FIND: find,
    IntentKind.REMEMBER: remember,
    IntentKind.RECALL: recall,
    IntentKind.FORGET: forget,
    IntentKind.PROPOSE: propose,
    IntentKind.QUESTION: answer,
}

__all__ = [
    "INTENT_FLOWS",
    "SERVICE_FAILURES",
    "Flow",
    "IntentFlow",
    "after_command",
    "answer",
    "describe",
    "failure_text",
    "find",
    "forget",
    "forget_memory",
    "guarded",
    "propose",
    "recall",
    "remember",
    "show_files",
    "show_proposal",
]
