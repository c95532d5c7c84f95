"""manpages_sections: Linux man-pages (Debian packages manpages and manpages-dev), one text per real
page (symlinked aliases skipped), rendered with `man -l` (MANWIDTH=1000, so no hyphenation) and
`col -b`; text = the NAME line's description (after ' - ', the page's own names dropped) + the
DESCRIPTION section, capped at 400 words. Label = manual section: 2 (system calls), 3 (library
functions), 7 (overviews, conventions), 4+5 (special files and file formats, merged as each is
small). Leakage removed: cross-references such as read(2) or printf(3) lose their section number
(-> 'read', 'printf'), and texts under 30 words are dropped. At most 300 pages per class (seeded),
deduplicated, 20% stratified test."""
import os, re, subprocess, sys
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import balance, cap_words, clean, dedupe, split, write

SEED = 6
LABEL = {"2": "2", "3": "3", "4": "4+5", "5": "4+5", "7": "7"}
HEAD = re.compile(r"^[A-Z][A-Z0-9 ,/_-]*$")
XREF = re.compile(r"\b([A-Za-z_][\w.:+-]*)\s*\((\d)[a-z]*\)")


def files():
    out = []
    for pkg in ("manpages", "manpages-dev"):
        for f in subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True, check=True).stdout.split("\n"):
            m = re.match(r"^/usr/share/man/man(\d)/[^/]+\.gz$", f)
            if m and m.group(1) in LABEL and not os.path.islink(f):
                out.append((f, LABEL[m.group(1)]))
    return sorted(set(out))


def text_of(path):
    env = dict(os.environ, MANWIDTH="1000", LC_ALL="C.UTF-8")
    page = subprocess.run(["man", "-l", path], capture_output=True, text=True, env=env).stdout
    page = subprocess.run(["col", "-b"], input=page, capture_output=True, text=True, env=env).stdout
    sections, cur = {}, None
    for line in page.split("\n"):
        if HEAD.match(line):
            cur = line.strip()
            sections.setdefault(cur, [])
        elif cur:
            sections[cur].append(line)
    name = " ".join(sections.get("NAME", []))
    name = name.split(" - ", 1)[1] if " - " in name else ""
    text = name.strip() + ". " + "\n".join(sections.get("DESCRIPTION", []))
    return cap_words(clean(XREF.sub(r"\1", text)), 400)


rows = [(text_of(f), label) for f, label in files()]
rows = [(t, l) for t, l in rows if len(t.split()) >= 30]
rows = balance(dedupe(rows), 300, SEED)
train, test = split(rows, 0.2, SEED)
write(os.path.join(HERE, "manpages_sections"), train, test)
