"""After a write, only the chunks whose text changed are embedded."""

from __future__ import annotations

from noosd.index.core.changes import ChunkChanges, plan_changes
from noosd.index.core.chunking import Chunk, chunk_blocks, chunk_python


def hashes(chunks: tuple[Chunk, ...]) -> set[str]:
    return {chunk.content_hash for chunk in chunks}


def test_a_new_file_embeds_each_distinct_text_once() -> None:
    chunks = (Chunk("a", 1, 1), Chunk("b", 3, 3), Chunk("a", 5, 5))

    changes = plan_changes([], chunks)

    assert changes == ChunkChanges(
        to_embed=(chunks[0], chunks[1]), to_keep=frozenset(), to_drop=frozenset()
    )


def test_an_unchanged_file_embeds_and_drops_nothing() -> None:
    chunks = chunk_blocks("one\n\ntwo\n", min_chars=0)

    changes = plan_changes(hashes(chunks), chunks)

    assert changes.to_embed == ()
    assert changes.to_drop == frozenset()
    assert changes.to_keep == hashes(chunks)


def test_editing_one_paragraph_re_embeds_only_its_chunk() -> None:
    paragraphs = [f"Paragraph {n}: " + "words " * 40 for n in range(10)]
    before = chunk_blocks("\n\n".join(paragraphs))
    paragraphs[4] = paragraphs[4].replace("words", "other", 1)
    after = chunk_blocks("\n\n".join(paragraphs))

    changes = plan_changes(hashes(before), after)

    assert [chunk.text for chunk in changes.to_embed] == [paragraphs[4]]
    assert changes.to_drop == hashes(before) - hashes(after)
    assert len(changes.to_drop) == 1
    assert len(changes.to_keep) == 9


def test_definitions_that_only_moved_keep_their_vectors() -> None:
    source = "def f():\n    return 1\n\n\ndef g():\n    return 2\n"
    before = chunk_python(source)
    after = chunk_python("import os\n\n\n" + source)

    changes = plan_changes(hashes(before), after)

    assert [chunk.text for chunk in changes.to_embed] == ["import os"]
    assert changes.to_keep == hashes(before)
    assert [chunk.start_line for chunk in after] == [1, 4, 8]
