"""The spine in the booted image: systemd, the venv, the models, the system bus."""

from __future__ import annotations

import re
import shlex
import time

import pytest

from noos_qemu import BootImage, Machine

from .conftest import LOG_ROOT, measure

pytestmark = pytest.mark.e2e

PYTHON = "/usr/lib/noos/bin/python"
# Try to own org.noos.System1 as a plain user: the D-Bus policy must refuse.
OWN_SYSTEM1 = """
import asyncio
from dbus_fast import BusType
from dbus_fast.aio import MessageBus

async def own():
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    await bus.request_name("org.noos.System1")

asyncio.run(own())
"""
MODELS = "/usr/share/noos/models"
# Under TCG a process importing torch takes a minute or more.
HEAVY_S = 1200.0


def as_user(command: str) -> str:
    return f"runuser -u user -- {command}"


def test_system_is_running_after_uefi_boot(machine: Machine) -> None:
    state = machine.execute("systemctl is-system-running --wait", timeout=900)[1].strip()
    assert state == "running", machine.succeed("systemctl --failed --no-pager")
    # Booted by systemd-boot from the ESP, not by QEMU loading a kernel.
    loader = machine.succeed("cat /sys/firmware/efi/efivars/LoaderInfo-* | tr -d '\\0'")
    assert "systemd-boot" in loader
    assert machine.succeed("uname -r").startswith("6.1.")


def test_the_venv_imports_the_stack(machine: Machine) -> None:
    started = time.monotonic()
    machine.succeed(
        f"{PYTHON} -c 'import torch, sentence_transformers, chromadb, llama_cpp, textual, "
        "dbus_fast, pyudev, systemd.journal, noos, noosd'",
        timeout=HEAVY_S,
    )
    measure("guest: import of the whole stack (s)", time.monotonic() - started)
    assert machine.succeed(
        f"{PYTHON} -c 'import torch; print(torch.__version__)'", timeout=HEAVY_S
    ).startswith("2.13.0")


def test_the_guest_has_no_network(machine: Machine) -> None:
    # The models below must load with the network off: the test VM has no NIC.
    links = machine.succeed("ls /sys/class/net").split()
    assert links == ["lo"]


def test_minilm_embeds_offline(machine: Machine) -> None:
    started = time.monotonic()
    out = machine.succeed(
        as_user(
            f"env HF_HUB_OFFLINE=1 {PYTHON} -c '"
            "from sentence_transformers import SentenceTransformer;"
            f'm = SentenceTransformer("{MODELS}/all-minilm-l6-v2", device="cpu");'
            'v = m.encode("the OS remembers what matters");'
            "print(len(v), float((v * v).sum()))'"
        ),
        timeout=HEAVY_S,
    )
    measure("guest: load MiniLM and embed one sentence (s)", time.monotonic() - started)
    size, norm = out.split()[-2:]
    assert size == "384"
    assert abs(float(norm) - 1.0) < 1e-3  # all-MiniLM-L6-v2 normalises its output


def test_smollm2_answers_a_chat(machine: Machine) -> None:
    started = time.monotonic()
    out = machine.succeed(
        as_user(
            f"{PYTHON} -c '"
            "from llama_cpp import Llama;"
            f'llm = Llama("{MODELS}/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf",'
            " n_ctx=512, n_threads=2, verbose=False);"
            'r = llm.create_chat_completion([{"role": "user", "content": "Say hello."}],'
            " max_tokens=16, temperature=0);"
            'print("ANSWER:" + r["choices"][0]["message"]["content"].strip())\''
        ),
        timeout=HEAVY_S,
    )
    measure("guest: load SmolLM2 and answer 16 tokens (s)", time.monotonic() - started)
    answer = out.split("ANSWER:", 1)[1].strip()
    assert answer, out


def test_gemma_base_model_loads_and_generates(machine: Machine) -> None:
    out = machine.succeed(
        as_user(
            f"{PYTHON} -c '"
            "from llama_cpp import Llama;"
            f'llm = Llama("{MODELS}/gemma3-270m/gemma-3-270m-q4_k_m.gguf",'
            " n_ctx=256, n_threads=2, verbose=False);"
            'r = llm("The capital of France is", max_tokens=8, temperature=0);'
            'print("TEXT:" + r["choices"][0]["text"])\''
        ),
        timeout=HEAVY_S,
    )
    assert out.split("TEXT:", 1)[1].strip(), out


def test_every_shipped_model_has_a_manifest(machine: Machine) -> None:
    names = machine.succeed(f"ls {MODELS}").split()
    assert names == ["all-minilm-l6-v2", "gemma3-270m", "smollm2-135m-instruct"]
    for name in names:
        assert f'name = "{name}"' in machine.succeed(f"cat {MODELS}/{name}/model.toml")


def test_system_bus_and_noos_policy(machine: Machine) -> None:
    assert "org.freedesktop.DBus" in machine.succeed("busctl list --no-pager")
    # D-Bus activation through the policy: an unprivileged user calls the
    # service, which starts as its own hardened unit and sees the caller's UID.
    reply = machine.wait_until_succeeds(
        as_user("busctl call org.noos.System1 /org/noos/System1 org.noos.System1 WhoAmI"),
        timeout=600,
    )
    assert reply.strip() == "u 1000"
    machine.wait_for_unit("noosd@system.service", timeout=60)
    unit = machine.succeed(
        "systemctl show noosd@system.service -p User -p ProtectSystem -p Type -p NRestarts"
    )
    assert "User=noos-system" in unit
    assert "ProtectSystem=strict" in unit
    assert "Type=notify" in unit
    # The policy lets only the service's user own the name.
    denied = machine.fail(as_user(f"{PYTHON} -c {shlex.quote(OWN_SYSTEM1)}"))
    assert "AccessDenied" in denied or "not allowed to own" in denied
    assert "org.noos.System1" in machine.succeed("ls /usr/share/dbus-1/interfaces/")


def test_service_units_are_hardened(machine: Machine) -> None:
    machine.succeed(as_user("busctl call org.noos.System1 /org/noos/System1 org.noos.System1 Ping"))
    report = machine.succeed("systemd-analyze security --no-pager noosd@system.service")
    exposure = float(re.findall(r"Overall exposure level for \S+: ([0-9.]+)", report)[0])
    measure("noosd@system: systemd-analyze exposure (0 safe .. 10 exposed)", exposure)
    assert exposure < 3.0, report


def test_a_service_logs_to_journald_and_stops_cleanly(machine: Machine) -> None:
    call = as_user("busctl call org.noos.System1 /org/noos/System1 org.noos.System1 Ping")
    assert machine.succeed(call).strip() == 's "pong"'
    assert "serving org.noos.System1" in machine.succeed(
        "journalctl --no-pager -t noosd-system -o cat"
    )
    # SIGTERM from systemd: a clean exit, and D-Bus activation brings it back.
    machine.succeed("systemctl stop noosd@system.service")
    shown = machine.succeed(
        "systemctl show noosd@system.service -p Result -p ExecMainStatus -p ActiveState"
    )
    assert "Result=success" in shown
    assert "ExecMainStatus=0" in shown
    assert "ActiveState=inactive" in shown
    assert machine.succeed(call).strip() == 's "pong"'


def test_noos_cli_for_a_user(machine: Machine) -> None:
    out = machine.succeed(as_user("noos status"), timeout=300)
    assert "smollm2-135m-instruct" in out
    machine.fail(as_user("noos --bus unix:path=/nonexistent status"))


def test_the_console_logs_the_user_in(machine: Machine) -> None:
    # What `make run` shows: the serial console logs `user` in, no password,
    # into noos-shell (tests/e2e/test_shell.py drives it).
    machine.wait_for_console_text(r"noos login: user \(automatic login\)", timeout=300)
    machine.wait_for_screen_text("scheduler:", timeout=600)
    assert machine.succeed("id -u user").strip() == "1000"
    # Nobody logs in as root on the consoles; the user's session is autologin.
    assert machine.succeed("passwd --status root").split()[1] == "L"


def test_direct_kernel_boot_reaches_running(boot_image: BootImage) -> None:
    with Machine(boot_image, "direct", log_dir=LOG_ROOT / "direct") as vm:
        state = vm.execute("systemctl is-system-running --wait", timeout=900)[1].strip()
        measure("direct: QEMU start to is-system-running (s)", time.monotonic() - vm.started_at)
        assert state == "running", vm.succeed("systemctl --failed --no-pager")
        assert vm.succeed("findmnt -no SOURCE /").strip().startswith("/dev/vda")
