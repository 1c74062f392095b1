#!/usr/bin/env python3
"""What each split point of a release build sends, read off its bundles
(`scripts/setup`, `bundle_split_points`): the modules in each, the bundle's
brotli size, and what the same modules would weigh compressed each on its own
(as they were sent before they were bundled); then the modules a module shares
with other split points.

Usage: bench/chunks.py [target/site/pkg] [--modules SPLIT]
  --modules SPLIT  lists SPLIT's modules, smallest first, raw and brotli
                   bytes each on its own, and the split points whose bundles
                   carry each.
"""
import collections
import glob
import json
import os
import struct
import subprocess
import sys

args = [a for i, a in enumerate(sys.argv[1:], 1)
        if not a.startswith("--") and sys.argv[i - 1] != "--modules"]
pkg = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "target", "site", "pkg")
os.chdir(pkg)


def brotli(data):
    return len(subprocess.run(["brotli", "-q", "11", "-c"], input=data, capture_output=True, check=True).stdout)


def modules_of(bundle):
    """A bundle's modules: a little-endian u32, the JSON index, the modules."""
    data = open(bundle, "rb").read()
    (length,) = struct.unpack_from("<I", data)
    at = 4 + length
    modules = {}
    for name, size in json.loads(data[4:at]):
        modules[name] = data[at:at + size]
        at += size
    return modules


bundles = {b.split(".")[0][len("bundle_"):]: b for b in glob.glob("bundle_*.bundle")}
contents = {split: modules_of(b) for split, b in bundles.items()}
carried_by = collections.defaultdict(set)
for split, modules in contents.items():
    for name in modules:
        carried_by[name].add(split)

core = sum(os.path.getsize(f) for f in glob.glob("classboard.*.wasm.br"))
scripts = sum(os.path.getsize(f) for f in glob.glob("*.js.br"))
print(f"core module: {core / 1000:.1f} KB brotli; the scripts every page loads: {scripts / 1000:.1f} KB")
print(f"{'split point':18} {'modules':>7} {'bundle KB':>9} {'apart KB':>9}")
alone = {}
for split, modules in sorted(contents.items()):
    for name, data in modules.items():
        alone.setdefault(name, brotli(data))
    bundle = os.path.getsize(bundles[split] + ".br")
    apart = sum(alone[name] for name in modules)
    print(f"{split:18} {len(modules):7} {bundle / 1000:9.1f} {apart / 1000:9.1f}")
print("(bundle: the split point's one file as sent; apart: its modules compressed each on its own)")

if "--modules" in sys.argv:
    split = sys.argv[sys.argv.index("--modules") + 1]
    print(f"\n{split}'s modules: raw bytes, brotli bytes on its own, the bundles that carry it")
    for name, data in sorted(contents[split].items(), key=lambda m: alone[m[0]]):
        print(f"{name:6} {len(data):7} {alone[name]:6}  {' '.join(sorted(carried_by[name]))}")
