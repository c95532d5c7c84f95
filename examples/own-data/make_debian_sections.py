"""debian_sections (large set): Debian bookworm package descriptions (synopsis + long description,
from the archive's Packages and Translation-en index files, main, amd64); label = the package's
Section. 10 sections; one binary package per (source package, section) is kept (the first by name),
so near-identical descriptions of sibling packages do not spread over train and test; texts capped
at 400 words, deduplicated, at most 4,200 per class (no class is larger), 20% stratified test.

The index files are fetched into ./src/apt-lists by apt itself (run once, as root):
  apt-get update -o Dir::State::Lists=$PWD/src/apt-lists -o Acquire::Languages=en \
     -o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts=$PWD/src/sources
(src/sources/bookworm.sources names bookworm main only). Pass --update to let this script do it.
"""
import os, subprocess, sys
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import balance, cap_words, clean, dedupe, split, write
from debian_lib import LISTS, packages

CLASSES = ["admin", "devel", "doc", "libdevel", "libs", "net", "perl", "python", "science", "utils"]
SEED = 5
if "--update" in sys.argv:
    os.makedirs(os.path.join(LISTS, "partial"), exist_ok=True)
    subprocess.run(["apt-get", "update", "-o", f"Dir::State::Lists={LISTS}", "-o", "Acquire::Languages=en",
                    "-o", "Dir::Etc::sourcelist=/dev/null",
                    "-o", f"Dir::Etc::sourceparts={os.path.join(HERE, 'src', 'sources')}"], check=True)
seen, rows = set(), []
for p in sorted(packages(), key=lambda p: p["package"]):
    if p["section"] not in CLASSES or (p["source"], p["section"]) in seen:
        continue
    seen.add((p["source"], p["section"]))
    rows.append((cap_words(clean(p["synopsis"] + ". " + p["long"]), 400), p["section"]))
rows = balance(dedupe(rows), 4200, SEED)
train, test = split(rows, 0.2, SEED)
write(os.path.join(HERE, "debian_sections"), train, test)
