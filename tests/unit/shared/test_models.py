"""Finding the shipped models from their manifests."""

from __future__ import annotations

from pathlib import Path

from noosd.shared.models import find_models


def test_valid_models_are_found_by_their_manifests(models_dir: Path) -> None:
    models = find_models(models_dir)

    assert [(model.name, model.kind) for model in models] == [
        ("tiny-chat", "chat"),
        ("tiny-embedding", "embedding"),
    ]
    chat, embedding = models
    assert chat.path == models_dir / "tiny-chat" / "tiny.gguf"
    assert chat.size() == 100
    assert (chat.format, chat.source, chat.licence) == ("gguf", "the tests", "CC0")
    assert embedding.path == models_dir / "tiny-embedding"
    # A directory model's size counts all its files, the manifest too.
    assert embedding.size() == sum(
        file.stat().st_size for file in (models_dir / "tiny-embedding").iterdir()
    )


def test_a_missing_models_directory_has_no_models(tmp_path: Path) -> None:
    assert find_models(tmp_path / "absent") == []


def test_unusable_model_directories_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "no-manifest").mkdir()
    (tmp_path / "bad-toml").mkdir()
    (tmp_path / "bad-toml" / "model.toml").write_text("kind = ")
    (tmp_path / "missing-file").mkdir()
    (tmp_path / "missing-file" / "model.toml").write_text('kind = "base"\nfile = "gone.gguf"\n')
    (tmp_path / "no-file-named").mkdir()
    (tmp_path / "no-file-named" / "model.toml").write_text('kind = "base"\n')
    (tmp_path / "stray-file").write_text("not a model directory")

    assert find_models(tmp_path) == []
