#!/usr/bin/env python3
"""What each split point of a release build loads, read off the split manifest:
its files, their brotli size, and how many are tiny; then, for the pages over
the first-visit budget, the union of the split points they load at first visit.

Usage: bench/chunks.py [target/site/pkg] [--files SPLIT]
  --files SPLIT  lists SPLIT's files, smallest first, with the split points
                 that share each.
"""
import collections
import glob
import os
import sys

import json

args = [a for a in sys.argv[1:] if not a.startswith("--")]
pkg = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "target", "site", "pkg")
os.chdir(pkg)
manifest = json.load(open(glob.glob("__wasm_split_manifest.*.json")[0]))


def short(name):
    """`account_loader_1009…` and `proof_1618…` as `account` and `proof`."""
    return name.split("_loader")[0] if "_loader" in name else name.rsplit("_", 1)[0]


splits = {short(k): v for k, v in manifest.items()}
brotli = lambda f: os.path.getsize(f + ".wasm.br")
raw = lambda f: os.path.getsize(f + ".wasm")
shared_by = collections.defaultdict(set)
for split, files in splits.items():
    for f in files:
        shared_by[f].add(split)

TINY = 400
print(f"core module: {sum(os.path.getsize(f) for f in glob.glob('classboard.*.wasm.br')) / 1024:.1f} KB brotli")
print(f"{'split point':22} {'files':>5} {'KB':>7} {'tiny':>5} {'tiny KB':>8}")
for split, files in sorted(splits.items()):
    tiny = [f for f in files if brotli(f) < TINY]
    print(f"{split:22} {len(files):5} {sum(map(brotli, files)) / 1024:7.1f} {len(tiny):5} {sum(map(brotli, tiny)) / 1024:8.1f}")

# The split points a page loads at its first visit (what bench/wire.mjs opens).
PAGES = {
    "/account (student)": ["account", "proof"],
    "/authorize (student)": ["authorize", "proof"],
    "/grades (student)": ["grades", "proof"],
    "/device (student)": ["device"],
    "mail pages": ["mail_form"],
    "/login": ["login_form"],
    "/signup": ["signup_form"],
}
print(f"\n{'page, beyond the core':22} {'files':>5} {'KB':>7} {'tiny':>5} {'tiny KB':>8}")
for page, wanted in PAGES.items():
    files = set().union(*[splits[s] for s in wanted if s in splits])
    tiny = [f for f in files if brotli(f) < TINY]
    print(f"{page:22} {len(files):5} {sum(map(brotli, files)) / 1024:7.1f} {len(tiny):5} {sum(map(brotli, tiny)) / 1024:8.1f}")

if "--files" in sys.argv:
    split = sys.argv[sys.argv.index("--files") + 1]
    print(f"\n{split}'s files: raw bytes, brotli bytes, the split points sharing each")
    for f in sorted(splits[split], key=brotli):
        print(f"{f:26} {raw(f):7} {brotli(f):6}  {' '.join(sorted(shared_by[f]))}")
