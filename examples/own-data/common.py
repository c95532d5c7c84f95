"""Shared helpers for the make_*.py scripts: clean, dedupe, cap, balance, stratified split, write CSV.

Every set is written as <dir>/train.csv and <dir>/test.csv: UTF-8 (no BOM), header `text,label`,
RFC 4180 quoting (csv.QUOTE_MINIMAL, CRLF line ends). Texts are single-line (whitespace collapsed).
"""
import collections
import csv
import os
import random
import re
import unicodedata

WS = re.compile(r"\s+")


def clean(text):
    """NFC-normalise, drop control characters, collapse all whitespace to single spaces."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch if (ch in "\t\n\r" or unicodedata.category(ch)[0] != "C") else " " for ch in text)
    return WS.sub(" ", text).strip()


def cap_words(text, n):
    words = text.split(" ")
    return text if len(words) <= n else " ".join(words[:n])


def dedupe(rows):
    """rows: list of (text, label). Drops empty texts and exact duplicates (case/space-insensitive).
    A text that occurs under two different labels is dropped entirely (it cannot be learned)."""
    labels = collections.defaultdict(set)
    for t, l in rows:
        if t:
            labels[t.lower()].add(l)
    seen, out = set(), []
    for t, l in rows:
        k = t.lower()
        if not t or k in seen or len(labels[k]) > 1:
            continue
        seen.add(k)
        out.append((t, l))
    return out


def balance(rows, per_class, seed):
    """Keep at most per_class texts of each label (seeded random choice, original order kept)."""
    rng = random.Random(seed)
    by = collections.defaultdict(list)
    for i, (t, l) in enumerate(rows):
        by[l].append(i)
    keep = set()
    for l, idx in by.items():
        keep.update(idx if len(idx) <= per_class else rng.sample(idx, per_class))
    return [r for i, r in enumerate(rows) if i in keep]


def split(rows, test_frac, seed):
    """Stratified, seeded split: in each class round(test_frac * n) texts go to the test set."""
    rng = random.Random(seed)
    by = collections.defaultdict(list)
    for r in rows:
        by[r[1]].append(r)
    train, test = [], []
    for l in sorted(by):
        rs = by[l][:]
        rng.shuffle(rs)
        k = round(test_frac * len(rs))
        test += rs[:k]
        train += rs[k:]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def write(outdir, train, test):
    os.makedirs(outdir, exist_ok=True)
    for name, rs in (("train.csv", train), ("test.csv", test)):
        with open(os.path.join(outdir, name), "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
            w.writerow(["text", "label"])
            w.writerows(rs)
    summary(outdir, train, test)


def summary(outdir, train, test):
    ct, cs = collections.Counter(l for _, l in train), collections.Counter(l for _, l in test)
    words = [len(t.split()) for t, _ in train + test]
    print(f"{outdir}: train {len(train)}, test {len(test)}, classes {len(ct)}, "
          f"mean words {sum(words) / len(words):.1f} (min {min(words)}, max {max(words)})")
    for l in sorted(ct):
        print(f"  {l}: train {ct[l]}, test {cs[l]}")


def group_split(rows, groups, test_frac, seed):
    """Stratified, seeded split that keeps each group (e.g. the page a passage came from) wholly
    in train or wholly in test: per class, groups are taken in a seeded random order into the test
    set while they fit into round(test_frac * n); the rest go to train. groups[i] belongs to rows[i]."""
    rng = random.Random(seed)
    by = collections.defaultdict(lambda: collections.defaultdict(list))
    for r, g in zip(rows, groups):
        by[r[1]][g].append(r)
    train, test = [], []
    for l in sorted(by):
        gs = sorted(by[l])
        rng.shuffle(gs)
        target = round(test_frac * sum(len(by[l][g]) for g in gs))
        n = 0
        for g in gs:
            if n + len(by[l][g]) <= target:
                test += by[l][g]
                n += len(by[l][g])
            else:
                train += by[l][g]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test
