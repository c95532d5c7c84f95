"""Read the King James Bible from Debian's bible-kjv-text data through the `bible` program (bible-kjv)."""
import re
import subprocess

OT_BOOKS = 39  # Genesis .. Malachi; the next 27 books are the New Testament


def read_verses():
    """Returns a list of (book_index, book_name, chapter, verse, text); book_index 0..65."""
    out = subprocess.run(["bible", "-l10000", "gen1:1-rev22:21"], capture_output=True, text=True,
                         check=True).stdout
    verses, books, book, chap = [], [], None, None
    for line in out.split("\n"):
        m = re.match(r"^  (\d+) (.*)$", line)
        if m:
            verses.append((len(books) - 1, book, chap, int(m.group(1)), m.group(2).strip()))
            continue
        m = re.match(r"^(\S.*) (\d+)$", line)
        if m:
            if m.group(1) != book:
                book = m.group(1)
                books.append(book)
            chap = int(m.group(2))
    assert len(books) == 66 and len(verses) == 31102, (len(books), len(verses))
    return verses
