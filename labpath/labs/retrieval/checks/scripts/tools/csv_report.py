"""Summarise a CSV of card transactions: totals per merchant and per month."""

import csv
import sys
from collections import defaultdict


def read_rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def totals_by_merchant(rows):
    out = defaultdict(float)
    for row in rows:
        out[row["merchant"]] += float(row["amount"])
    return dict(out)


def totals_by_month(rows):
    out = defaultdict(float)
    for row in rows:
        out[row["date"][:7]] += float(row["amount"])
    return dict(out)


if __name__ == "__main__":
    rows = read_rows(sys.argv[1])
    for merchant, total in sorted(totals_by_merchant(rows).items()):
        print(f"{merchant}\t{total:.2f}")
