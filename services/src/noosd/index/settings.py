"""The settings of org.noos.Index1 (`noosd.runtime.settings`): /etc/noos/index.toml."""

from __future__ import annotations

from pathlib import Path

from noosd.index.core.chunking import MAX_PDF_TEXT_CHARS
from noosd.index.engine import IndexerSettings
from noosd.index.live.budget import DEFAULT_RESCAN_S, DEFAULT_WATCHES_PER_USER
from noosd.index.live.crawler import DEFAULT_BATCH_SIZE
from noosd.index.live.media import DEFAULT_MEDIA_DIRS
from noosd.index.live.pending import DEFAULT_QUIET_S
from noosd.runtime.settings import (
    INTEGER,
    NUMBER,
    PATH,
    PATHS,
    TEXT,
    Setting,
    Settings,
    SettingsTable,
    at_least,
    not_empty,
    positive,
    state_directory,
)
from noosd.shared.diskspace import DEFAULT_MIN_FREE_BYTES
from noosd.shared.models import MODELS_DIR

SETTINGS = SettingsTable(
    "index",
    (
        Setting(
            "state_dir",
            PATH,
            state_directory("index"),
            "NOOS_INDEX_STATE_DIR",
            "where the index and the crawl's checkpoint are kept",
        ),
        Setting(
            "roots",
            PATHS,
            (Path("/home"),),
            "NOOS_INDEX_ROOTS",
            "the directories indexed (users' homes); colon-separated in the variable",
            not_empty,
        ),
        Setting(
            "media_dirs",
            PATHS,
            DEFAULT_MEDIA_DIRS,
            "NOOS_INDEX_MEDIA_DIRS",
            "where removable media are mounted, to index them; empty: none",
        ),
        Setting(
            "quiet_s",
            NUMBER,
            DEFAULT_QUIET_S,
            "NOOS_INDEX_QUIET_S",
            "seconds a file's changes must pause before it is indexed",
            positive,
        ),
        Setting(
            "crawl_batch",
            INTEGER,
            DEFAULT_BATCH_SIZE,
            "NOOS_INDEX_CRAWL_BATCH",
            "files per engine call of a crawl",
            at_least(1),
        ),
        Setting(
            "watches_per_user",
            INTEGER,
            DEFAULT_WATCHES_PER_USER,
            "NOOS_INDEX_WATCHES_PER_USER",
            "inotify watches a user's directories may hold; past them, they are rescanned",
            at_least(1),
        ),
        Setting(
            "max_watches",
            INTEGER,
            0,
            "NOOS_INDEX_MAX_WATCHES",
            "inotify watches all users' directories may hold; 0: 9/10 of the kernel's limit",
            at_least(0),
        ),
        Setting(
            "unwatched_rescan_s",
            NUMBER,
            DEFAULT_RESCAN_S,
            "NOOS_INDEX_UNWATCHED_RESCAN_S",
            "seconds between two crawls of the directories past their owner's watch budget",
            positive,
        ),
        Setting(
            "max_pdf_text_chars",
            INTEGER,
            MAX_PDF_TEXT_CHARS,
            "NOOS_INDEX_MAX_PDF_TEXT_CHARS",
            "characters of a PDF's text indexed, from its first page; the rest is left out",
            at_least(1),
        ),
        Setting(
            "min_free_bytes",
            INTEGER,
            DEFAULT_MIN_FREE_BYTES,
            "NOOS_INDEX_MIN_FREE_BYTES",
            "free bytes state_dir's file system keeps; writes finding no more wait (Unavailable)",
            at_least(0),
        ),
        Setting(
            "chroma_url",
            TEXT,
            "",
            "NOOS_INDEX_CHROMA_URL",
            "a chromadb server to keep the vectors in; empty: an embedded one in state_dir",
        ),
        MODELS_DIR,
    ),
)


def indexer_settings(settings: Settings) -> IndexerSettings:
    return IndexerSettings(
        state_dir=settings["state_dir"],
        roots=settings["roots"],
        media_dirs=settings["media_dirs"],
        quiet_s=settings["quiet_s"],
        crawl_batch=settings["crawl_batch"],
        watches_per_user=settings["watches_per_user"],
        max_watches=settings["max_watches"],
        unwatched_rescan_s=settings["unwatched_rescan_s"],
        min_free_bytes=settings["min_free_bytes"],
    )
