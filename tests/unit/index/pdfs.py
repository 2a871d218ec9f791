"""PDFs with text, built by hand: pypdf writes pages but not text on them."""

from __future__ import annotations


def _escaped(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf_with_text(pages: list[list[str]]) -> bytes:
    """A PDF 1.4 file whose pages show these lines (ASCII, Helvetica, one line each)."""
    page_ids = [4 + 2 * index for index in range(len(pages))]
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % page_id for page_id in page_ids), len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for page_id, lines in zip(page_ids, pages, strict=True):
        shown = " ".join(f"({_escaped(line)}) Tj T*" for line in lines)
        content = f"BT /F1 12 Tf 14 TL 72 720 Td {shown} ET".encode("ascii")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_id + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


# Just under the 64 MiB a PDF may have: ~37 KiB of text a page.
PDF_PAGES = 1700
LINES_A_PAGE = 500


def book_pdf(pages: int) -> bytes:
    """A PDF of `pages` pages of text (1700: just under the size limit); its
    first and last pages say where they are."""
    filler = "The quick brown fox jumps over the lazy dog, page after page"
    text = [[f"{filler} {page} {line}" for line in range(LINES_A_PAGE)] for page in range(pages)]
    text[0].insert(0, "The aardvark digs its burrow at the start of the book.")
    text[-1].insert(0, "The zeppelin lands in its hangar at the end of the book.")
    return pdf_with_text(text)
