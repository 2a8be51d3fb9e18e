"""Derive the compact person-name lists in rules/names/ from the names-dataset package.

names-dataset (github.com/philipperemy/name-dataset, maintained) holds ranked first and last
names per country, drawn from real social-network data. Loading it needs ~1 GB of memory, so
the guard ships a small derived list instead; rerun this script to refresh it:

    pip install names-dataset && python scripts/build_name_lists.py
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import names_dataset

COUNTRIES = (
    "US",
    "GB",
    "CA",
    "AU",
    "IE",
    "NZ",
    "IN",
    "PH",
    "ZA",
    "MX",
    "ES",
    "FR",
    "DE",
    "IT",
    "NL",
    "PL",
    "BR",
)
LIMITS = {"first": 3000, "last": 6000}  # best rank needed in at least one country
OUT = Path(__file__).resolve().parent.parent / "rules" / "names"


def main() -> None:
    src = Path(names_dataset.__file__).parent / "v3"
    OUT.mkdir(parents=True, exist_ok=True)
    for kind, limit in LIMITS.items():
        with gzip.open(src / f"{kind}_names.pkl.gz") as fh:
            data = pickle.load(fh)
        keep = set()
        for name, info in data.items():
            ranks = info.get("rank") or {}
            if not name.isalpha() or len(name) < 2:
                continue
            if any(ranks.get(c, limit + 1) <= limit for c in COUNTRIES):
                keep.add(name.strip().lower())
        (OUT / f"{kind}_names.txt").write_text(
            f"# derived from names-dataset {kind}_names (rank <= {limit} in {','.join(COUNTRIES)})\n"
            + "\n".join(sorted(keep))
            + "\n",
            encoding="utf-8",
        )
        print(kind, len(keep))


if __name__ == "__main__":
    main()
