"""noos-shell: the natural-language terminal of noos.

The Textual application lands with issue 6; this distribution exists now so the
image, the wheelhouse and the venv already carry textual and the package.
"""
