"""bible_testament: single verses of the King James Bible (Debian bible-kjv-text, read with the
`bible` program of bible-kjv); label = testament (old: Genesis-Malachi, new: Matthew-Revelation).
Verse numbers and book/chapter headers are not part of the text. Deduplicated (a verse text that
occurs in both testaments is dropped), 1,500 verses sampled per class, 20% stratified test."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import balance, clean, dedupe, split, write
from bible_lib import OT_BOOKS, read_verses

SEED = 3
rows = [(clean(t), "old" if b < OT_BOOKS else "new") for b, _, _, _, t in read_verses()]
rows = balance(dedupe(rows), 1500, SEED)
train, test = split(rows, 0.2, SEED)
write(os.path.join(os.path.dirname(os.path.abspath(__file__)), "bible_testament"), train, test)
