"""fortune_small: fortune cookies from 5 categories of Debian's `fortunes` package; label = category.
Entries of any length (capped at 400 words), deduplicated, at most 110 per class, 20% stratified test."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import balance, cap_words, clean, dedupe, split, write
from fortune_lib import read_fortunes

CLASSES = ["education", "food", "law", "love", "sports"]
SEED = 1
rows = [(cap_words(clean(e), 400), c) for c in CLASSES for e in read_fortunes(c)]
rows = balance(dedupe(rows), 110, SEED)
train, test = split(rows, 0.2, SEED)
write(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fortune_small"), train, test)
