"""Secrets typed on command lines stay out of memory; a user can purge by pattern.

Checked against the real memory service's contents (this module's own, see
conftest): a line that starts with a space is not remembered at all (bash's
HISTCONTROL=ignorespace), and what looks like a secret in a remembered line
or its output is redacted before it is sent.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from noos import Memory, MemoryFilter, NotFound
from noos_shell.app import NoosShell
from noos_shell.services import ServiceName
from noos_shell.widgets.command_line import CommandLine
from tests.fixtures import memory_as
from tests.fixtures.noosd_process import NoosdProcess
from tests.integration.sdk.test_cli import noos
from tests.integration.shell.test_shell_memory import run
from tests.unit.shell.screen import wait_until

SIZE = (80, 24)
NOBODY = 65534
# Not real ones, shaped like them.
GITHUB_TOKEN = "ghp_" + "R4nd0mL00k1ngT0k3nV4lu3xyzABCD12345"
SLACK_TOKEN = "xoxb-" + "2231234567-9876543210-AbCdEfGhIjKlMnOp"
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
OPENAI_KEY = "sk-" + "proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2"
BEARER = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.hunter2sig"
PASSWORDS = ("hunter2-in-an-option", "hunter2-after-dash-p", "hunter2-in-a-url", "hunter2-eq")
KEY_BODY = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
KEPT_OUT = "kept-out-of-memory-7731"
SECRET_LINES = (
    f"true --password {PASSWORDS[0]}",
    f"true mysql -uroot -p{PASSWORDS[1]} -e 'select 1'",
    f"true curl -H 'Authorization: Bearer {BEARER}' https://alice:{PASSWORDS[2]}@example.com/",
    f"export GITHUB_TOKEN={GITHUB_TOKEN}",
    f"true --slack {SLACK_TOKEN} --aws {AWS_KEY} --openai {OPENAI_KEY} password={PASSWORDS[3]}",
    # A failure keeps its last lines: here, a private key's.
    "printf 'key:\\n-----BEGIN OPENSSH PRIVATE KEY-----\\n"
    f"{KEY_BODY}\\n{KEY_BODY}\\n-----END OPENSSH PRIVATE KEY-----\\n'; false",
)
SECRETS = (GITHUB_TOKEN, SLACK_TOKEN, AWS_KEY, OPENAI_KEY, BEARER, *PASSWORDS, KEY_BODY)


@pytest.fixture
def app(services_bus: str, memory_service: NoosdProcess, tmp_path: Path) -> NoosShell:
    return NoosShell(bus_address=services_bus, cwd=tmp_path)


async def every_memory(services_bus: str) -> list[str]:
    """The text and metadata of every memory of ours, as the service holds them."""
    async with await Memory.connect(services_bus) as memory:
        hits = await memory.recall("command", 1000, MemoryFilter(include_superseded=True))
    return ["\n".join([hit.memory.text, *map(str, hit.memory.metadata.values())]) for hit in hits]


async def test_kept_out_lines_and_secrets_never_reach_memory(
    app: NoosShell, services_bus: str
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.services.status.states[ServiceName.MEMORY].up is True)
        await run(pilot, f" echo {KEPT_OUT}")
        await run(pilot, f" false {KEPT_OUT}-failed")  # nor does a failure, nor its "solution"
        await run(pilot, f"false {KEPT_OUT}")  # a failure, whose fix comes next, kept out
        await run(pilot, f" false {KEPT_OUT}-fix")
        for line in SECRET_LINES:
            await run(pilot, line)
        # Nor are they in Up/Down's history, as in bash.
        history = app.screen.query_one(CommandLine).history
        assert [line for line in history if KEPT_OUT in line] == [f"false {KEPT_OUT}"]
    remembered = await every_memory(services_bus)
    stored = "\n".join(remembered)
    assert [secret for secret in SECRETS if secret in stored] == [], stored
    assert f"{KEPT_OUT}-" not in stored, stored
    # The lines were remembered, the secrets in them redacted.
    assert "export GITHUB_TOKEN=[REDACTED]" in stored, stored
    assert "true --password [REDACTED]" in stored, stored
    assert "PRIVATE KEY-----" not in stored, stored


@pytest.mark.usefixtures("memory_service")
async def test_forget_matching_purges_the_user_s_memories_that_match(services_bus: str) -> None:
    async with await Memory.connect(services_bus) as memory:
        leaked = [
            await memory.remember(f"ran `deploy --key tok-{n}-LEAKED` in /srv", kind="command")
            for n in range(3)
        ]
        kept = await memory.remember("the deploy runs at noon", kind="note")
        forgot = noos("--bus", services_bus, "memory", "forget-matching", r"tok-\d-LEAKED")
        assert forgot.returncode == 0, forgot.stderr
        assert forgot.stdout.strip() == "forgot 3"
        assert (await memory.get(kept)).text == "the deploy runs at noon"
        for memory_id in leaked:
            with pytest.raises(NotFound):
                await memory.get(memory_id)
    assert not any("LEAKED" in text for text in await every_memory(services_bus))


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")
@pytest.mark.usefixtures("memory_service")
async def test_forget_matching_leaves_other_users_memories(services_bus: str) -> None:
    """A purge is the caller's own: another user's memory that matches stays."""
    async with await Memory.connect(services_bus) as memory:
        root_memory = await memory.remember("root's note, not the vault code", kind="note")
        other_user = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, memory_as.__file__, str(NOBODY), services_bus, root_memory],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        nobody_secret = json.loads(other_user.stdout)["secret"]
        forgot = noos("--bus", services_bus, "memory", "forget-matching", "vault code is 4711")
        assert forgot.stdout.strip() == "forgot 0", forgot.stderr
        # Root sees it only when it asks for that user, by name.
        kept = await memory.get(nobody_secret, for_uid=NOBODY)
        assert "4711" in kept.text
