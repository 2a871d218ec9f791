"""noos-shell: the natural-language terminal of noos (Textual).

One input line: a command runs in a terminal of its own; words go to the
index, to memory or to the scheduler (see `routing`).
"""
