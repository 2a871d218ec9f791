"""Settings read from /etc/noos/<service>.toml, its drop-ins and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from noosd.runtime.registry import load_service, registered_services
from noosd.runtime.settings import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    PATH,
    PATHS,
    TEXT,
    Computed,
    Setting,
    SettingsError,
    SettingsTable,
    at_least,
    positive,
)

# The image's /etc/noos.
SHIPPED_CONFIG_DIR = Path(__file__).parents[3] / "mkosi.extra/etc/noos"

TABLE = SettingsTable(
    "demo",
    (
        Setting("threads", INTEGER, 2, "NOOS_DEMO_THREADS", "threads", at_least(1)),
        Setting("period_s", NUMBER, 60.0, "NOOS_DEMO_PERIOD_S", "seconds", positive),
        Setting("preload", BOOLEAN, True, "NOOS_DEMO_PRELOAD", "preload"),
        Setting("state_dir", PATH, Path("/var/lib/demo"), "NOOS_DEMO_STATE_DIR", "state"),
        Setting("roots", PATHS, (Path("/home"),), "NOOS_DEMO_ROOTS", "roots"),
        Setting("cores", INTEGER, Computed("the cores", lambda: 7), "NOOS_DEMO_CORES", "cores"),
    ),
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_without_files_or_variables_every_setting_has_its_default(tmp_path: Path) -> None:
    assert dict(TABLE.load(tmp_path, environ={})) == {
        "threads": 2,
        "period_s": 60.0,
        "preload": True,
        "state_dir": Path("/var/lib/demo"),
        "roots": (Path("/home"),),
        "cores": 7,
    }


def test_the_file_sets_what_it_names(tmp_path: Path) -> None:
    write(tmp_path / "demo.toml", 'threads = 4\nperiod_s = 5\nroots = ["/srv", "/data"]\n')

    settings = TABLE.load(tmp_path, environ={})

    assert settings["threads"] == 4
    assert settings["period_s"] == 5.0  # an integer is a number too
    assert settings["roots"] == (Path("/srv"), Path("/data"))
    assert settings["preload"] is True


def test_drop_ins_are_read_after_the_file_in_lexical_order(tmp_path: Path) -> None:
    write(tmp_path / "demo.toml", "threads = 4\nperiod_s = 5\n")
    write(tmp_path / "demo.d/20-more.toml", "threads = 8\n")
    write(tmp_path / "demo.d/10-some.toml", "threads = 6\npreload = false\n")
    write(tmp_path / "demo.d/30-ignored.conf", "threads = 99\n")

    settings = TABLE.load(tmp_path, environ={})

    assert (settings["threads"], settings["period_s"], settings["preload"]) == (8, 5.0, False)


def test_drop_ins_apply_without_the_main_file(tmp_path: Path) -> None:
    write(tmp_path / "demo.d/10-some.toml", "threads = 6\n")

    assert TABLE.load(tmp_path, environ={})["threads"] == 6


def test_the_environment_overrides_the_files(tmp_path: Path) -> None:
    write(tmp_path / "demo.toml", "threads = 4\npreload = true\ncores = 3\n")
    environ = {
        "NOOS_DEMO_THREADS": "12",
        "NOOS_DEMO_PRELOAD": "0",
        "NOOS_DEMO_ROOTS": "/a:/b",
        "NOOS_DEMO_STATE_DIR": "/tmp/state",
    }

    settings = TABLE.load(tmp_path, environ=environ)

    assert settings["threads"] == 12
    assert settings["preload"] is False
    assert settings["roots"] == (Path("/a"), Path("/b"))
    assert settings["state_dir"] == Path("/tmp/state")
    assert settings["cores"] == 3  # the file's, not computed


def test_an_empty_variable_unsets_a_value_but_empties_a_list(tmp_path: Path) -> None:
    settings = TABLE.load(tmp_path, environ={"NOOS_DEMO_THREADS": "", "NOOS_DEMO_ROOTS": ""})

    assert (settings["threads"], settings["roots"]) == (2, ())


def test_the_directory_is_noos_config_dir_when_none_is_given(tmp_path: Path) -> None:
    write(tmp_path / "demo.toml", "threads = 3\n")

    assert TABLE.load(environ={"NOOS_CONFIG_DIR": str(tmp_path)})["threads"] == 3


def test_an_unknown_key_names_the_file_the_key_and_the_likely_one(tmp_path: Path) -> None:
    path = write(tmp_path / "demo.d/10-typo.toml", "thread = 4\n")

    with pytest.raises(SettingsError) as raised:
        TABLE.load(tmp_path, environ={})

    assert str(raised.value) == f"{path}: unknown key 'thread' (did you mean 'threads'?)"


def test_a_section_is_an_unknown_key(tmp_path: Path) -> None:
    path = write(tmp_path / "demo.toml", "[budgets]\nthreads = 4\n")

    with pytest.raises(SettingsError, match=f"^{path}: unknown key 'budgets' \\(known: "):
        TABLE.load(tmp_path, environ={})


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ('threads = "four"', "threads: expected an integer, not a string ('four')"),
        ("threads = 4.5", "threads: expected an integer, not a number (4.5)"),
        ("threads = true", "threads: expected an integer, not a boolean (True)"),
        ('preload = "yes"', "preload: expected true or false, not a string ('yes')"),
        ('roots = "/srv"', "roots: expected an array of paths, not a string ('/srv')"),
        ('state_dir = ""', "state_dir: expected a path, not an empty string"),
    ],
)
def test_a_value_of_the_wrong_type_names_the_file_the_key_and_why(
    tmp_path: Path, line: str, why: str
) -> None:
    path = write(tmp_path / "demo.toml", line + "\n")

    with pytest.raises(SettingsError) as raised:
        TABLE.load(tmp_path, environ={})

    assert str(raised.value) == f"{path}: {why}"


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("threads = 0", "threads: must be at least 1, not 0"),
        ("period_s = -1", "period_s: must be more than 0, not -1.0"),
        ("period_s = nan", "period_s: must be more than 0, not nan"),
    ],
)
def test_a_value_out_of_range_names_the_file_the_key_and_why(
    tmp_path: Path, line: str, why: str
) -> None:
    path = write(tmp_path / "demo.toml", line + "\n")

    with pytest.raises(SettingsError) as raised:
        TABLE.load(tmp_path, environ={})

    assert str(raised.value) == f"{path}: {why}"


def test_malformed_toml_names_the_file_and_where(tmp_path: Path) -> None:
    path = write(tmp_path / "demo.toml", "threads = 4\nperiod_s =\n")

    with pytest.raises(SettingsError) as raised:
        TABLE.load(tmp_path, environ={})

    message = str(raised.value)
    assert message.startswith(f"{path}: not valid TOML: ")
    assert "line 2" in message
    assert "\n" not in message


def test_a_bad_variable_names_the_variable_the_key_and_why(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        TABLE.load(tmp_path, environ={"NOOS_DEMO_THREADS": "0"})

    assert str(raised.value) == "$NOOS_DEMO_THREADS (threads): must be at least 1, not 0"

    with pytest.raises(SettingsError, match=r"expected one of 1, true, yes, 0, false, no"):
        TABLE.load(tmp_path, environ={"NOOS_DEMO_PRELOAD": "maybe"})


def test_defaults_read_no_file_and_no_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "demo.toml", "threads = nonsense\n")
    monkeypatch.setenv("NOOS_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("NOOS_DEMO_THREADS", "0")

    assert TABLE.defaults()["threads"] == 2


def test_the_help_lists_every_setting_with_its_type_default_and_variable() -> None:
    help_text = TABLE.help_text()

    assert "  threads (integer, default: 2, $NOOS_DEMO_THREADS)\n      threads" in help_text
    assert "  cores (integer, default: the cores, $NOOS_DEMO_CORES)" in help_text
    assert "  roots (paths, default: /home, $NOOS_DEMO_ROOTS)" in help_text
    assert (
        SettingsTable("demo", (Setting("x", TEXT, "", "X", "x"),)).settings[0].default_text()
        == "empty"
    )
    assert "/etc/noos/demo.toml" in help_text


def test_a_table_that_repeats_a_name_is_a_bug() -> None:
    threads = TABLE.settings[0]
    with pytest.raises(ValueError, match="repeat"):
        SettingsTable("demo", (threads, threads))


@pytest.mark.parametrize("service", sorted(registered_services()))
def test_every_service_loads_its_defaults_and_is_built_from_them(
    service: str, tmp_path: Path
) -> None:
    service_class = load_service(service)
    table = service_class.settings_table

    assert table.service == service
    settings = table.load(tmp_path, environ={})
    assert set(settings) == {setting.name for setting in table.settings}
    service_class(settings)


@pytest.mark.parametrize("service", sorted(registered_services()))
def test_the_settings_files_the_image_ships_are_valid(service: str) -> None:
    load_service(service).settings_table.load(SHIPPED_CONFIG_DIR, environ={})
