#!/usr/bin/env python3
"""Edge coverage of the core crate's files reached by a corpus, from libFuzzer's
-print_coverage=1 report (no llvm-cov needed):

    target/x86_64-unknown-linux-gnu/release/policy -runs=0 -print_coverage=1 corpus/policy 2>&1 | python3 coverage.py

Counts the instrumented edges of every function linked into the target (functions the
linker dropped are not counted), per file of crates/core/src and in total."""

import collections
import re
import sys

LINE = re.compile(r"^(UN)?COVERED_FUNC: hits: \d+ edges: (\d+)/(\d+) .* (\S+):\d+$")
files = collections.defaultdict(lambda: [0, 0, 0, 0])
for line in sys.stdin:
    m = LINE.match(line.strip())
    if not m or "/crates/core/src/" not in m.group(4):
        continue
    f = files[m.group(4).split("/crates/core/src/", 1)[1]]
    f[0] += int(m.group(2))
    f[1] += int(m.group(3))
    f[2] += m.group(1) is None
    f[3] += 1
total = [sum(v[i] for v in files.values()) for i in range(4)]
print("  edges covered     functions reached  file (edges include overflow and bounds-check panic paths)")
for name, (hit, all_, fn, fns) in sorted(files.items(), key=lambda kv: -kv[1][1]) + [("crates/core/src (linked into this target)", total)]:
    print(f"{hit:6}/{all_:<6} {100 * hit / max(all_, 1):5.1f}%  {fn:4}/{fns:<4} {100 * fn / max(fns, 1):5.1f}%  {name}")
