#!/usr/bin/env bash
# The library's layers (docs/ARCHITECTURE.md), checked on the built
# objects: every symbol an object of src/ uses from another object must
# come from the same layer or one below, and the objects of one layer must
# not use each other in a circle. A new src/ file must be given a layer
# here, or this test fails.
#
#   tests/test_layers.sh BUILD_DIR     e.g. build
#
# Skipped (prints nothing) for sanitizer builds: the objects are the same.
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
case $1 in *asan* | *tsan*) exit 0 ;; esac
obj=$1/obj
root=$(cd "$(dirname "$0")/.." && pwd -P)

# Lowest first. Keep in step with docs/ARCHITECTURE.md.
layers='
0 error io bitset util json text abi
1 codec cursor
2 segment compress worker writer order
3 index replay
4 log recover checkpoint_load
5 txn prep write query lease
6 checkpoint compact dict maint verify
7 store repair report wait
'

w=$(mktemp -d "${TMPDIR:-/tmp}/evs-layers-XXXXXX")
trap 'rm -rf "$w"' EXIT
for src in "$root"/src/*.c; do
  m=$(basename "$src" .c)
  o=$obj/$m.o
  if [ ! -f "$o" ]; then
    echo "FAIL layers_built: $o missing (build $1 first)"
    exit 1
  fi
  nm -g --defined-only "$o" | awk -v m="$m" '{print $3, m}' >>"$w/defs"
  nm -u "$o" | awk -v m="$m" '{print m, $2}' >>"$w/uses"
done

python3 - "$w" "$layers" <<'EOF'
import sys
w, spec = sys.argv[1], sys.argv[2]
layer = {}
for line in spec.strip().splitlines():
    n, *mods = line.split()
    for m in mods:
        layer[m] = int(n)
defs = dict(l.split() for l in open(w + "/defs"))
edges = {}
for l in open(w + "/uses"):
    a, sym = l.split()
    b = defs.get(sym)
    if b and b != a:
        edges.setdefault((a, b), []).append(sym)
mods = sorted(set(defs.values()) | {a for a, _ in edges})
ok = True
def fail(name, why):
    global ok
    ok = False
    print(f"FAIL layers_{name}: {why}")
missing = [m for m in mods if m not in layer]
if missing:
    fail("known", "src files with no layer in tests/test_layers.sh: " + " ".join(missing))
else:
    print("PASS layers_known")
up = [(a, b, s) for (a, b), s in sorted(edges.items())
      if a in layer and b in layer and layer[b] > layer[a]]
if up:
    fail("downward", "; ".join(f"{a} (layer {layer[a]}) uses {b} (layer {layer[b]}): "
                               + ", ".join(sorted(s)[:3]) for a, b, s in up))
else:
    print("PASS layers_downward")
# Circles: Tarjan's strongly connected components over all edges.
graph = {m: [] for m in mods}
for a, b in edges:
    graph[a].append(b)
index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = n[0]; n[0] += 1
    stack.append(v); on.add(v)
    for u in graph[v]:
        if u not in index:
            visit(u); low[v] = min(low[v], low[u])
        elif u in on:
            low[v] = min(low[v], index[u])
    if low[v] == index[v]:
        c = []
        while True:
            u = stack.pop(); on.discard(u); c.append(u)
            if u == v: break
        if len(c) > 1: sccs.append(sorted(c))
sys.setrecursionlimit(10000)
for m in mods:
    if m not in index: visit(m)
if sccs:
    fail("no_circles", "; ".join(" <-> ".join(c) for c in sccs))
else:
    print("PASS layers_no_circles")
sys.exit(0 if ok else 1)
EOF
