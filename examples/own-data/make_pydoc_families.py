"""pydoc_families: prose passages (100-200 words) of the Python 3.11 Library Reference in Debian's
python3.11-doc (HTML under /usr/share/doc/python3.11/html/library); label = a family of chapters of
the reference's table of contents (library/index.html). Code examples, API signatures, page titles
and 'Source code:' lines are left out (see pydoc_lib.py). At most 30 passages per page (seeded by
the page name), deduplicated. The split is stratified by class and grouped by page: every page's
passages are all in train or all in test (~20% of each class in test), so a model is tested on
modules it has not seen. (A per-passage random split makes this set nearly trivial, ~0.92,
because pages' own vocabulary is memorised.)"""
import os, random, sys
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import clean, dedupe, group_split, write
from pydoc_lib import chapter_pages, passages

FAMILIES = {  # label: chapter pages of the Library Reference
    "text": ["text.html", "binary.html", "i18n.html"],
    "datatypes": ["datatypes.html", "numeric.html", "functional.html"],
    "files": ["filesys.html", "persistence.html", "archiving.html", "fileformats.html"],
    "os": ["allos.html", "unix.html"],
    "concurrency": ["concurrency.html"],
    "network": ["ipc.html", "internet.html"],
    "webdata": ["netdata.html", "markup.html"],
    "devtools": ["development.html", "debug.html"],
    "runtime": ["python.html", "modules.html", "language.html", "custominterp.html"],
    "gui": ["tk.html", "frameworks.html"],
}
PER_PAGE, SEED = 30, 4
rows, page_of, done = [], {}, set()
for label, chapters in FAMILIES.items():
    for ch in chapters:
        for pg in chapter_pages(ch):
            if pg in done:
                continue
            done.add(pg)
            ps = passages(pg, 100, 200)
            for t in random.Random(pg).sample(ps, min(len(ps), PER_PAGE)):
                t = clean(t)
                rows.append((t, label))
                page_of.setdefault(t, pg)
rows = dedupe(rows)
train, test = group_split(rows, [page_of[t] for t, _ in rows], 0.2, SEED)
write(os.path.join(HERE, "pydoc_families"), train, test)
