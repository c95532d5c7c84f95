"""Read a fortune(6) data file: entries separated by lines holding only '%'."""
import os

FORTUNE_DIR = "/usr/share/games/fortunes"


def read_fortunes(category):
    # The plain files are the source (the .u8 copies are identical where both exist).
    raw = open(os.path.join(FORTUNE_DIR, category), encoding="utf-8", errors="replace").read()
    entries, cur = [], []
    for line in raw.split("\n"):
        if line.strip() == "%":
            entries.append("\n".join(cur))
            cur = []
        else:
            cur.append(line)
    entries.append("\n".join(cur))
    return [e for e in entries if e.strip()]
