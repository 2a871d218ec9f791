"""Which files under an indexed root are left out, and why.

Three sources of rules, in gitignore syntax (`pathspec`'s GitIgnoreSpec), where a
later rule overrides an earlier one, as in git:

1. `DEFAULT_IGNORE`, matched relative to the root: VCS internals (but not the
   repository's files), installed dependencies, caches and build leftovers,
   secrets, editor droppings, logs and lock files, binaries and media;
2. `.noosignore` files, each matched relative to its own directory and
   applying to everything below it; a deeper one overrides a shallower one
   (`!pattern` re-includes);
3. directories that say what they are: a virtual environment (`pyvenv.cfg`)
   and a cache (`CACHEDIR.TAG`, https://bford.info/cachedir/), whatever
   their names.

As in git, nothing inside an ignored directory is indexed: a rule cannot
re-include a file below one. `SizeLimits` leaves out files too large to be
worth embedding.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

from noos.protocol.errors import InvalidArgument
from noosd.index.core.chunking import MAX_PDF_TEXT_CHARS
from noosd.index.core.filetypes import FileType, Format

IGNORE_FILE = ".noosignore"

DEFAULT_IGNORE = (
    # Version control internals; the files of the working tree are indexed.
    ".git/",
    ".hg/",
    ".svn/",
    ".bzr/",
    ".jj/",
    "_darcs/",
    # Dependencies that package managers install: someone else's code, and a lot of it.
    "node_modules/",
    "bower_components/",
    ".venv/",
    "venv/",
    "site-packages/",
    ".tox/",
    ".nox/",
    ".eggs/",
    "*.egg-info/",
    # Caches and build leftovers of tools.
    "__pycache__/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".ipynb_checkpoints/",
    ".gradle/",
    ".next/",
    ".terraform/",
    ".cache/",
    "**/.local/share/Trash/",
    # Secrets: keys have no business in a search index.
    ".ssh/",
    ".gnupg/",
    ".password-store/",
    "*.pem",
    "*.key",
    # Editors' swap and backup files.
    "*~",
    "*.swp",
    "*.swo",
    ".#*",
    ".DS_Store",
    # Generated text that changes often and says little: logs, lock files, minified code.
    "*.log",
    "*.lock",
    "package-lock.json",
    "pnpm-lock.yaml",
    "*.min.js",
    "*.min.css",
    "*.map",
    # Binaries, archives, media, databases and model weights: chunking would
    # refuse their content anyway; by name they are not even read.
    "*.o",
    "*.a",
    "*.so",
    "*.so.*",
    "*.dylib",
    "*.dll",
    "*.exe",
    "*.class",
    "*.jar",
    "*.py[cod]",
    "*.whl",
    "*.wasm",
    "*.zip",
    "*.tar",
    "*.gz",
    "*.tgz",
    "*.bz2",
    "*.xz",
    "*.zst",
    "*.7z",
    "*.rar",
    "*.deb",
    "*.rpm",
    "*.iso",
    "*.img",
    "*.qcow2",
    "*.png",
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.webp",
    "*.ico",
    "*.bmp",
    "*.tif",
    "*.tiff",
    "*.mp3",
    "*.mp4",
    "*.mkv",
    "*.webm",
    "*.avi",
    "*.mov",
    "*.wav",
    "*.flac",
    "*.ogg",
    "*.ttf",
    "*.otf",
    "*.woff",
    "*.woff2",
    "*.sqlite",
    "*.sqlite3",
    "*.db",
    "*.gguf",
    "*.safetensors",
    "*.onnx",
    "*.pt",
    "*.npy",
    "*.pkl",
    "*.parquet",
)

# The most of a `.noosignore` (or a CACHEDIR.TAG) read: rules, not data.
MAX_RULE_FILE_BYTES = 256 * 1024
# The first bytes of a CACHEDIR.TAG that the Cache Directory Tagging Specification requires.
CACHEDIR_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"


@dataclass(frozen=True)
class _Rules:
    """One source of rules: patterns matched relative to `base`, named `source`
    in reasons; `file` is the `.noosignore` they were read from (None: the defaults)."""

    base: Path
    spec: GitIgnoreSpec
    source: str
    file: Path | None = None


@dataclass(frozen=True)
class Ignored:
    """Why a path is left out, and the `.noosignore` whose rule says so (None:
    a default rule or a directory's tag): a reply to a user who may not read
    that file must not quote its lines."""

    reason: str
    rule_file: Path | None = None


class IgnoreRules:
    """The rules for the files under `root` (an absolute path; itself never ignored).

    Reads `.noosignore` files (and directories' tags) when first needed and
    keeps what it read: call `forget` when a `.noosignore` changes, or a
    directory gains or loses a tag.
    """

    def __init__(self, root: Path, defaults: Iterable[str] = DEFAULT_IGNORE) -> None:
        self.root = root
        self._defaults = _Rules(root, GitIgnoreSpec.from_lines(defaults), "default rule")
        self._files: dict[Path, _Rules | None] = {}
        self._directories: dict[Path, Ignored | None] = {}

    def is_ignored(self, path: Path, is_dir: bool) -> bool:
        return self.ignored_by(path, is_dir) is not None

    def why_ignored(self, path: Path, is_dir: bool) -> str | None:
        """Why the file or directory at `path` is left out ("default rule
        node_modules/", "/home/u/src/.noosignore: build/", "a virtual
        environment"), or None when it is indexed."""
        ignored = self.ignored_by(path, is_dir)
        return None if ignored is None else ignored.reason

    def ignored_by(self, path: Path, is_dir: bool) -> Ignored | None:
        """`why_ignored`, with the `.noosignore` whose rule decided it."""
        if not path.is_relative_to(self.root):
            raise InvalidArgument(f"{path} is not under the indexed root {self.root}")
        for directory in reversed(path.parents):
            if directory != self.root and directory.is_relative_to(self.root):
                inside = self._directory_reason(directory)
                if inside is not None:
                    return Ignored(f"inside {directory} ({inside.reason})", inside.rule_file)
        if path == self.root:
            return None
        return self._directory_reason(path) if is_dir else self._reason(path, is_dir=False)

    def forget(self, directory: Path) -> None:
        """Drop what was read of `directory`'s `.noosignore`, and every decision
        about a directory (a rule there may change any of them below)."""
        self._files.pop(directory, None)
        self._directories.clear()

    def _directory_reason(self, directory: Path) -> Ignored | None:
        if directory not in self._directories:
            tag = _tag(directory)
            self._directories[directory] = (
                Ignored(tag) if tag is not None else self._reason(directory, is_dir=True)
            )
        return self._directories[directory]

    def _reason(self, path: Path, is_dir: bool) -> Ignored | None:
        """What the rules of `path`'s ancestors decide, the deepest rule that matches winning."""
        decided: Ignored | None = None
        for rules in self._rules_for(path):
            relative = path.relative_to(rules.base).as_posix() + ("/" if is_dir else "")
            result = rules.spec.check_file(relative)
            if result.include is not None and result.index is not None:
                pattern = rules.spec.patterns[result.index]
                decided = (
                    Ignored(f"{rules.source} {pattern}", rules.file) if result.include else None
                )
        return decided

    def _rules_for(self, path: Path) -> Iterable[_Rules]:
        yield self._defaults
        for directory in reversed(path.parents):
            if directory.is_relative_to(self.root):
                rules = self._ignore_file(directory)
                if rules is not None:
                    yield rules

    def _ignore_file(self, directory: Path) -> _Rules | None:
        if directory not in self._files:
            path = directory / IGNORE_FILE
            text = _read_rule_file(path)
            if text is None:
                # Absent (nearly always) or unreadable: no rules from here.
                self._files[directory] = None
            else:
                lines = text.decode("utf-8", errors="replace").splitlines()
                spec = GitIgnoreSpec.from_lines(lines)
                self._files[directory] = _Rules(directory, spec, f"{path}:", path)
        return self._files[directory]


def _read_rule_file(path: Path) -> bytes | None:
    """The bytes of the regular file at `path`, or None. A symbolic link is not
    followed (the service reads with a capability: a user's `.noosignore`
    linked to another user's file must not become rules whose lines a reply
    quotes) and nothing blocks (a FIFO would stop the reader)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(path, flags)
    except (OSError, ValueError):
        return None
    with os.fdopen(descriptor, "rb") as opened:
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                return None
            return opened.read(MAX_RULE_FILE_BYTES)
        except OSError:
            return None


def _tag(directory: Path) -> str | None:
    """What a directory says it is, when that makes it ignored."""
    if (directory / "pyvenv.cfg").is_file():
        return "a virtual environment"
    tag = _read_rule_file(directory / "CACHEDIR.TAG")
    if tag is not None and tag.startswith(CACHEDIR_SIGNATURE):
        return "a cache directory (CACHEDIR.TAG)"
    return None


@dataclass(frozen=True)
class SizeLimits:
    """The largest files indexed: text beyond a few MiB is generated (dumps,
    data, logs), and a PDF's text is a small part of its bytes; of a PDF,
    at most `max_pdf_text_chars` of text (`chunk_pdf`)."""

    max_text_bytes: int = 4 * 2**20
    max_pdf_bytes: int = 64 * 2**20
    max_pdf_text_chars: int = MAX_PDF_TEXT_CHARS

    def why_too_large(self, size: int, file_type: FileType) -> str | None:
        """Why a file of this size and type is left out, or None when it is indexed."""
        limit = self.max_pdf_bytes if file_type.format is Format.PDF else self.max_text_bytes
        if size > limit:
            return f"{size} bytes; the most indexed for {file_type.language} is {limit}"
        return None
