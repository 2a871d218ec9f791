"""noos.protocol: option tables check what a service is given, and each struct
survives the trip from a facade's codec to the client's."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

import pytest
from dbus_fast import Variant

import noosd
from noos.protocol import index, memory, scheduler, service
from noos.protocol.errors import InvalidArgument
from noos.protocol.interfaces import INTERFACE_KEYS
from noos.protocol.options import Option, OptionTable
from noos.scheduler import GenerationOptions

TABLE = OptionTable(
    "option",
    Option("for_uid", "u", "act for this user"),
    Option("since", "d", "from this time"),
    Option("kinds", "as", "of these kinds"),
)


@pytest.mark.parametrize("signature", list("ynqiuxt"))
def test_any_integer_type_stands_for_any_other(signature: str) -> None:
    assert TABLE.decode({"for_uid": Variant(signature, 7)}) == {"for_uid": 7}


def test_an_integer_is_taken_where_a_double_is_due() -> None:
    assert TABLE.decode({"since": Variant("i", 5)}) == {"since": 5}


def test_an_unknown_key_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(
        InvalidArgument, match=r"unknown option 'tier' \(known: for_uid, kinds, since\)"
    ):
        TABLE.decode({"tier": Variant("s", "hot")})


def test_a_key_of_the_wrong_type_is_refused_naming_the_type_due() -> None:
    with pytest.raises(InvalidArgument, match="option 'kinds' must have D-Bus type 'as', not 's'"):
        TABLE.decode({"kinds": Variant("s", "note")})


def test_the_client_encodes_plain_values_and_leaves_out_none() -> None:
    assert TABLE.encode({"for_uid": None, "since": 3, "kinds": ("note",)}) == {
        "since": Variant("d", 3.0),
        "kinds": Variant("as", ["note"]),
    }
    with pytest.raises(TypeError, match="unknown option 'tier'; the options are for_uid"):
        TABLE.encode({"tier": "hot"})


def test_every_key_of_every_interface_has_a_type_and_a_meaning() -> None:
    for keys in INTERFACE_KEYS.values():
        for table in [*keys.arguments.values(), *keys.replies.values()]:
            for option in table:
                assert option.signature and option.meaning, (keys.interface, option)
                assert table.annotations()[f"org.noos.Option.{option.name}"].startswith(
                    f"{option.signature}: "
                )


def test_a_memory_and_a_hit_come_back_as_they_were_sent() -> None:
    record = memory.MemoryRecord(
        id="m1",
        text="the build needs libfoo-dev",
        kind="note",
        created_at=1.5,
        last_accessed=2.5,
        metadata={"project": "noos", "line": 3, "urgent": True},
        details={"importance": 0.5, "pinned": False, "tier": "hot", "access_count": 2},
    )
    assert memory.record_of(memory.record_struct(record)) == record
    hit = memory.RecallHit(0.75, record)
    assert memory.hit_of(memory.hit_struct(hit)) == hit


def test_a_file_hit_and_an_indexed_file_come_back_as_they_were_sent() -> None:
    hit = index.FileHit("/home/a/x.pdf", 0.5, "1: hello", 1, 1, 3.0, "pdf", page=2)
    assert index.hit_of(index.hit_struct(hit)) == hit
    assert index.hit_struct(hit)[-1] == {"page": Variant("u", 2)}
    indexed = index.IndexedFile(3, 1, 0, None)
    assert index.indexed_struct(indexed) == (3, 1, 0, "")
    assert index.indexed_of(index.indexed_struct(indexed)) == indexed


def test_a_job_and_a_model_come_back_as_they_were_sent() -> None:
    job = scheduler.JobInfo(
        id=4,
        owner=1000,
        model="tiny-chat",
        priority="normal",
        state="done",
        text="Paris",
        tokens=2,
        prompt_tokens=9,
        max_tokens=8,
        submitted_at=10.0,
        cached_tokens=3,
        tokens_per_s=12.5,
    )
    sent = scheduler.job_info_dict(job)
    # Timings not known yet are left out, not sent as zeros.
    assert "queued_s" not in sent and "reason" not in sent
    assert scheduler.job_info_of(sent) == job
    model = scheduler.ModelInfo(
        "tiny-chat", "llama", "resident", 2048, 10, 0, False, True, "interactive", 2, 1, -1
    )
    assert scheduler.model_info_of(*scheduler.model_struct(model)) == model


def test_a_loop_s_health_comes_back_as_it_was_sent() -> None:
    state = service.LoopState("crawler", True, 1.5, 0.5, 10, 3.0, False, 4)
    assert service.loop_of(service.loop_struct(state)) == state


def test_the_sdk_s_typed_names_are_the_tables_keys() -> None:
    # The typed Python API spells the keys once more, for type checkers: kept in step here.
    assert set(GenerationOptions.__annotations__) == set(scheduler.GENERATION_OPTIONS.names())
    assert {f.name for f in fields(memory.MemoryFilter)} == set(memory.FILTER_OPTIONS.names())
    assert {f.name for f in fields(scheduler.JobInfo)} == set(scheduler.JOB_INFO.names())
    assert {f.name for f in fields(scheduler.ModelInfo)} - {"name"} == set(
        scheduler.MODEL_DETAILS.names()
    )


def test_the_services_import_of_the_sdk_only_its_protocol() -> None:
    # A service core raises the protocol's errors and speaks its types, never
    # the client's: the client may change without the services noticing.
    services = Path(noosd.__file__).parent
    for path in sorted(services.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name == "noos" or name.startswith("noos."):
                    assert name.startswith("noos.protocol"), f"{path}: imports {name}"
