"""fortune_short: short fortune cookies (10-40 words) from 8 categories of Debian's `fortunes`
package; label = category. Deduplicated, at most 400 per class, 20% stratified test."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import balance, clean, dedupe, split, write
from fortune_lib import read_fortunes

CLASSES = ["computers", "men-women", "politics", "science", "songs-poems", "startrek", "work", "zippy"]
SEED = 2
rows = [(clean(e), c) for c in CLASSES for e in read_fortunes(c)]
rows = [(t, c) for t, c in rows if 10 <= len(t.split()) <= 40]
rows = balance(dedupe(rows), 400, SEED)
train, test = split(rows, 0.2, SEED)
write(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fortune_short"), train, test)
