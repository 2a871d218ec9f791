"""The model catalog: TOML files read into checked model entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from noos.protocol.errors import InvalidArgument, NotFound
from noosd.scheduler.core import Priority, load_catalog, parse_models
from noosd.scheduler.core.catalog import (
    ASSUMED_LOAD_BYTES_PER_S,
    Backend,
    Catalog,
    ChatTemplate,
    TemplateSource,
)

LOCAL = """
[[model]]
name = "gemma-3-1b"
backend = "llama-cpp"
path = "/usr/share/noos/models/gemma-3-1b/model.gguf"
context_length = 8192
ram_bytes = 1_000_000_000
"""

REMOTE = """
[[model]]
name = "big-remote"
backend = "openai"
endpoint = "https://llm.example.org/v1"
context_length = 32768
chat_template = "chatml"
ram_bytes = 0
priority = "batch"
slots = 4
default = true

[[model]]
name = "coder"
backend = "llama-cpp"
path = "/srv/coder.gguf"
context_length = 4096
chat_template = "/etc/noos/templates/coder.jinja"
ram_bytes = 2_000_000_000
vram_bytes = 500_000_000
load_seconds = 7.5
priority = "interactive"
pinned = true
threads = 2
"""


def test_a_local_model_takes_the_defaults() -> None:
    (model,) = parse_models(LOCAL, "local.toml")

    assert model.name == "gemma-3-1b"
    assert model.backend is Backend.LLAMA_CPP
    assert model.location == "/usr/share/noos/models/gemma-3-1b/model.gguf"
    assert model.context_length == 8192
    assert model.chat_template == ChatTemplate(TemplateSource.EMBEDDED)
    assert (model.ram_bytes, model.vram_bytes) == (1_000_000_000, 0)
    assert model.load_seconds == pytest.approx(1e9 / ASSUMED_LOAD_BYTES_PER_S)
    assert model.priority is Priority.NORMAL
    assert (model.pinned, model.default) == (False, False)
    assert (model.slots, model.threads) == (1, 1)
    assert model.source == "local.toml"


def test_a_file_may_declare_several_models_with_every_field() -> None:
    remote, coder = parse_models(REMOTE, "more.toml")

    assert remote.backend is Backend.OPENAI
    assert remote.location == "https://llm.example.org/v1"
    assert remote.chat_template == ChatTemplate(TemplateSource.NAMED, "chatml")
    # A remote model computes elsewhere: no local threads.
    assert (remote.threads, remote.slots, remote.priority) == (0, 4, Priority.BATCH)
    assert remote.default
    assert coder.chat_template == ChatTemplate(
        TemplateSource.FILE, "/etc/noos/templates/coder.jinja"
    )
    assert (coder.vram_bytes, coder.load_seconds, coder.threads) == (500_000_000, 7.5, 2)
    assert coder.pinned and coder.priority is Priority.INTERACTIVE


def test_a_directory_of_files_is_one_catalog(tmp_path: Path) -> None:
    (tmp_path / "10-local.toml").write_text(LOCAL)
    (tmp_path / "20-more.toml").write_text(REMOTE)
    (tmp_path / "README").write_text("not a catalog file")

    catalog = load_catalog(tmp_path)

    assert [m.name for m in catalog] == ["big-remote", "coder", "gemma-3-1b"]
    assert catalog.get("default").name == "big-remote"
    assert catalog.get("coder").source == str(tmp_path / "20-more.toml")
    with pytest.raises(NotFound, match="no model 'absent'"):
        catalog.get("absent")


def test_a_missing_directory_is_an_empty_catalog(tmp_path: Path) -> None:
    catalog = load_catalog(tmp_path / "absent")

    assert list(catalog) == []
    with pytest.raises(NotFound, match="no default model"):
        catalog.get("default")


def test_the_only_model_is_the_default_without_being_marked() -> None:
    assert Catalog(parse_models(LOCAL, "local.toml")).get("default").name == "gemma-3-1b"


def test_of_several_unmarked_models_none_is_the_default() -> None:
    models = parse_models(LOCAL, "a.toml") + parse_models(
        LOCAL.replace('gemma-3-1b"', 'x"'), "b.toml"
    )

    with pytest.raises(NotFound, match="default = true"):
        Catalog(models).get("default")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("context_length = 8192", "context_length = 0"),
            r"model 1 \(gemma-3-1b\): context_length: must be an integer >= 1, not 0",
        ),
        (
            ("context_length = 8192", 'context_length = "big"'),
            r"context_length: must be an integer",
        ),
        (("context_length = 8192\n", ""), r"context_length: missing"),
        (("ram_bytes = 1_000_000_000", "ram_bytes = -1"), r"ram_bytes: must be an integer >= 0"),
        (("ram_bytes = 1_000_000_000", "ram_bytes = true"), r"ram_bytes: must be an integer"),
        (
            ('backend = "llama-cpp"', 'backend = "onnx"'),
            r"backend: must be one of llama-cpp, openai",
        ),
        (("/usr/share", "usr/share"), r"path: must be an absolute path"),
        (('name = "gemma-3-1b"', 'name = "Gemma 3"'), r"model 1: name: must match"),
        (('name = "gemma-3-1b"', 'name = "default"'), r"name: .* not be 'default'"),
        (("ram_bytes", "pined = true\nram_bytes"), r"pined: unknown key"),
        (("ram_bytes", 'priority = "urgent"\nram_bytes'), r"priority: unknown priority 'urgent'"),
        (("ram_bytes", "pinned = 1\nram_bytes"), r"pinned: must be true or false"),
        (("ram_bytes", "slots = 0\nram_bytes"), r"slots: must be an integer >= 1"),
        (("ram_bytes", "threads = 0\nram_bytes"), r"threads: must be an integer >= 1"),
        (("ram_bytes", "load_seconds = -2\nram_bytes"), r"load_seconds: must be a number >= 0"),
        (("ram_bytes", "load_seconds = inf\nram_bytes"), r"load_seconds: must be a number >= 0"),
        (("ram_bytes", 'chat_template = "two words"\nram_bytes'), r"chat_template: must be"),
        (
            ("ram_bytes", 'endpoint = "http://x/v1"\nram_bytes'),
            r"endpoint: not for llama-cpp models; give the path",
        ),
        (("[[model]]", "[[model]]\nname = "), r"bad\.toml: not valid TOML"),
        (("[[model]]", "[settings]\nx = 1\n[[model]]"), r"bad\.toml: settings: unknown table"),
    ],
)
def test_a_bad_entry_is_refused_naming_its_file_and_field(
    change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in LOCAL

    with pytest.raises(InvalidArgument, match=message) as refused:
        parse_models(LOCAL.replace(old, new, 1), "bad.toml")

    assert str(refused.value).startswith("bad.toml")


def test_a_remote_model_needs_an_http_endpoint() -> None:
    remote = 'name = "r"\nbackend = "openai"\ncontext_length = 1\nram_bytes = 0\n'

    with pytest.raises(InvalidArgument, match=r"r\.toml: model 1 \(r\): endpoint: missing"):
        parse_models("[[model]]\n" + remote, "r.toml")
    with pytest.raises(InvalidArgument, match="endpoint: must be an http"):
        parse_models(f'[[model]]\n{remote}endpoint = "ftp://host/v1"\n', "r.toml")
    with pytest.raises(InvalidArgument, match="path: not for openai models; give the endpoint"):
        parse_models(f'[[model]]\n{remote}path = "/x.gguf"\n', "r.toml")


def test_model_must_be_an_array_of_tables() -> None:
    with pytest.raises(InvalidArgument, match=r"x\.toml: model: declare models as \[\[model\]\]"):
        parse_models('[model]\nname = "a"\n', "x.toml")


def test_a_model_declared_twice_names_both_files(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(LOCAL)
    (tmp_path / "b.toml").write_text(LOCAL)

    with pytest.raises(
        InvalidArgument,
        match=r"b\.toml: model 'gemma-3-1b' is declared again \(first in .*a\.toml\)",
    ):
        load_catalog(tmp_path)


def test_two_defaults_are_refused() -> None:
    marked = LOCAL + "default = true\n"
    models = parse_models(marked, "a.toml") + parse_models(marked.replace('1b"', '4b"'), "b.toml")

    with pytest.raises(
        InvalidArgument,
        match=r"more than one default model: gemma-3-1b \(a\.toml\), gemma-3-4b \(b\.toml\)",
    ):
        Catalog(models)


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "latin1.toml").write_bytes(b"name = '\xe9'")

    with pytest.raises(InvalidArgument, match=r"latin1\.toml: unreadable"):
        load_catalog(tmp_path)
