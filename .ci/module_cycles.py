#!/usr/bin/env python3
"""File-level import graph of each library crate's src/, failing on any cycle.

A file depends on another when its own code names an item of it: a `use crate::a::B`,
`use super::B`, `use self::a::B` (or a 2018 relative `use child::B`), or an inline path such
as `crate::a::B`. A `pub use` (any visibility) is a facade, not a dependency of the facade's
own code: it adds no edge, but paths are followed through it to the file that defines the item,
so `use crate::ParseError` depends on `error.rs`, not on `lib.rs`. `mod` declarations add no
edge. Inline modules resolve relative to themselves; inline modules under `#[cfg(test)]` (or
`#[cfg(all(test, ...))]`) are skipped: a unit test may use any part of its crate.

Usage: module_cycles.py [--allow FILE] [--graph] CRATE_DIR...
       module_cycles.py --self-test
The allow-list holds edges `crate/src/a.rs -> crate/src/b.rs`, one a line (`#` comments);
allowed edges are removed before cycles are searched. Stale entries are reported, not fatal.
"""
import os
import re
import sys

TOKEN = re.compile(
    r"(?P<mod>\bmod\s+(?P<modname>\w+)\s*\{)"
    r"|(?P<use>\b(?P<vis>pub(?:\s*\([^)]*\))?\s+)?use\s+(?P<tree>[^;]+);)"
    r"|(?P<path>\b(?:crate|super|self)(?:\s*::\s*\w+)+)"
    r"|(?P<open>\{)|(?P<close>\})"
)


def strip(text):
    """Blank out comments, string and char literals, keeping offsets."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + len(m.group(0)))
            j = n if end < 0 else end + 1 + len(m.group(1))
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand(tree, prefix=()):
    """Expand a use tree into (segments, alias) pairs; alias '*' for globs."""
    tree = re.sub(r"\s+", "", tree)
    parts, depth, cur = [], 0, ""
    if tree.startswith("{") and tree.endswith("}"):
        inner = tree[1:-1]
        for ch in inner:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        if cur:
            parts.append(cur)
        result = []
        for p in parts:
            result.extend(expand(p, prefix))
        return result
    if "::{" in tree:
        head, rest = tree.split("::{", 1)
        return expand("{" + rest, prefix + tuple(head.split("::")))
    if tree.startswith("::"):
        tree = tree[2:]
    alias = None
    segs = prefix + tuple(s for s in tree.split("::") if s)
    if not segs:
        return []
    if segs[-1] == "self":
        segs = segs[:-1]
    if alias is None:
        alias = segs[-1] if segs else ""
    return [(segs, alias)]


def expand_use(tree, prefix=()):
    # keep `as` detectable: mark it before whitespace is removed
    tree = re.sub(r"\s+as\s+", "@AS@", tree)
    out = []
    for segs, alias in expand(tree, prefix):
        last = segs[-1] if segs else ""
        if "@AS@" in last:
            name, alias = last.split("@AS@", 1)
            segs = segs[:-1] + (name,)
        out.append((segs, alias))
    return out


class Crate:
    def __init__(self, root):
        self.root = root.rstrip("/")
        self.name = os.path.basename(self.root)
        self.src = os.path.join(self.root, "src")
        self.files = {}  # module path tuple -> file (relative to the crate's parent)
        for dirpath, _, names in os.walk(self.src):
            for fn in names:
                if not fn.endswith(".rs"):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, fn), self.src)
                parts = rel[:-3].split(os.sep)
                if parts[-1] in ("mod", "lib", "main"):
                    parts = parts[:-1]
                key = tuple(parts)
                if key in self.files and not rel.endswith(("mod.rs", "lib.rs")):
                    continue
                self.files[key] = os.path.join(self.name, "src", rel)
        self.uses = {}  # file -> list of (context, segs, alias, is_pub)
        self.paths = {}  # file -> list of (context, segs)
        for mod, f in self.files.items():
            self.scan(mod, f)

    def scan(self, mod, f):
        with open(os.path.join(os.path.dirname(self.root), f), encoding="utf-8") as fh:
            text = strip(fh.read())
        stack, depth, uses, paths = [], 0, [], []
        for m in TOKEN.finditer(text):
            ctx = mod + tuple(name for _, name, _ in stack)
            in_test = any(test for _, _, test in stack)
            if m.group("mod"):
                depth += 1
                before = text[max(0, m.start() - 80):m.start()]
                attrs = re.search(r"((?:#\[[^\]]*\]\s*)+)$", before)
                test = attrs is not None and any(
                    re.search(r"\btest\b", cfg) and "not(test" not in cfg
                    for cfg in re.findall(r"#\[cfg\(([^\]]*)\)\]", attrs.group(1))
                )
                stack.append((depth, m.group("modname"), test))
            elif m.group("open"):
                depth += 1
            elif m.group("close"):
                if stack and stack[-1][0] == depth:
                    stack.pop()
                depth -= 1
            elif in_test:
                continue
            elif m.group("use"):
                for segs, alias in expand_use(m.group("tree")):
                    uses.append((ctx, segs, alias, bool(m.group("vis"))))
            elif m.group("path"):
                segs = tuple(s.strip() for s in m.group("path").split("::"))
                paths.append((ctx, segs))
        self.uses[f] = uses
        self.paths[f] = paths

    def file_of(self, mod):
        while mod not in self.files:
            mod = mod[:-1]
        return self.files[mod]

    def absolute(self, ctx, segs):
        """Module-absolute segments, or None for an external crate path."""
        segs = list(segs)
        if not segs:
            return None
        if segs[0] == "crate":
            base, segs = [], segs[1:]
        elif segs[0] in ("super", "self"):
            base = list(ctx)
            while segs and segs[0] in ("super", "self"):
                if segs.pop(0) == "super":
                    base = base[:-1]
        elif tuple(ctx) + (segs[0],) in self.files:
            base = list(ctx)
        else:
            return None
        return tuple(base + segs)

    def resolve(self, absolute, seen=None):
        """File that defines the item named by an absolute path (following use re-exports)."""
        seen = seen or set()
        mod = absolute
        while mod and mod not in self.files:
            mod = mod[:-1]
        rest = absolute[len(mod):]
        f = self.files[mod]
        if not rest or (f, rest[0]) in seen:
            return f
        seen.add((f, rest[0]))
        for ctx, segs, alias, _ in self.uses[f]:
            if alias == rest[0] and ctx == mod:
                target = self.absolute(ctx, segs)
                if target is not None:
                    return self.resolve(target + rest[1:], seen)
        for ctx, segs, alias, _ in self.uses[f]:
            if alias == "*" and ctx == mod:
                target = self.absolute(ctx, segs[:-1])
                if target is not None and target + (rest[0],) != absolute:
                    cand = self.resolve(target + rest, seen)
                    if cand != self.files.get(target, None) or target in self.files:
                        # a glob only moves us if the name lives below it
                        if self._defines(cand, rest[0]):
                            return cand
        return f

    def _defines(self, f, name):
        with open(os.path.join(os.path.dirname(self.root), f), encoding="utf-8") as fh:
            text = strip(fh.read())
        return re.search(
            r"\b(?:fn|struct|enum|trait|type|const|static|mod|union|macro_rules!)\s+" + re.escape(name) + r"\b",
            text,
        ) is not None

    def edges(self):
        out = {}
        for mod, f in self.files.items():
            deps = {}
            items = [(c, s[:-1] if a == "*" else s, p) for c, s, a, p in self.uses[f]]
            items += [(c, s, False) for c, s in self.paths[f]]
            for ctx, segs, is_pub in items:
                if is_pub:
                    continue
                target = self.absolute(ctx, segs)
                if target is None:
                    continue
                g = self.resolve(target)
                if g != f:
                    deps.setdefault(g, "::".join(segs))
            out[f] = deps
        return out


def cycles(edges):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, on, stack, sccs, counter = {}, {}, set(), [], [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sccs


def one_cycle(edges, comp):
    """A shortest cycle through the component's first file, for the message."""
    members = set(comp)
    start = comp[0]
    prev, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(edges.get(v, {})):
                if w not in members:
                    continue
                if w == start:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return list(reversed(path)) + [start]
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return comp


SELF_TEST = {
    # a -> b through a re-export in lib.rs, b -> a through super:: from a nested module: a cycle.
    "cyclic/src/lib.rs": "mod a;\nmod b;\npub use b::Bee;\npub mod c { pub mod d; }\n",
    "cyclic/src/a.rs": "use crate::Bee;\npub struct Ay;\n#[cfg(test)]\nmod tests { use super::*; }\n",
    "cyclic/src/b.rs": "pub struct Bee(crate::c::d::Dee);\n",
    "cyclic/src/c/d.rs": "// use crate::nothing;\nconst S: &str = \"crate::a::Ay\";\npub struct Dee(super::super::a::Ay);\n",
    # the same shape without the back edge, a glob, an alias and a use in a function: no cycle.
    "acyclic/src/lib.rs": "mod a;\nmod b;\npub use b::{Bee as B, self};\n",
    "acyclic/src/a.rs": "use crate::B;\npub fn f() { use crate::b::*; }\n",
    "acyclic/src/b.rs": "pub struct Bee;\n#[cfg(test)]\nmod tests { use super::*; use crate::a::f; }\n"
    "#[cfg(all(test, feature = \"std\"))]\n#[allow(unused)]\nmod more { use crate::a::f; }\n",
}


def self_test():
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        for path, text in SELF_TEST.items():
            full = os.path.join(tmp, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8") as fh:
                fh.write(text)
        cyclic = Crate(os.path.join(tmp, "cyclic"))
        found = cycles(cyclic.edges())
        want = [["cyclic/src/a.rs", "cyclic/src/b.rs", "cyclic/src/c/d.rs"]]
        if found != want:
            print(f"module-cycles: self-test FAILED: cycles {found}, expected {want}", file=sys.stderr)
            return 1
        acyclic = Crate(os.path.join(tmp, "acyclic"))
        edges = acyclic.edges()
        if cycles(edges) or edges["acyclic/src/a.rs"] != {"acyclic/src/b.rs": "crate::B"}:
            print(f"module-cycles: self-test FAILED: acyclic crate gave {edges}", file=sys.stderr)
            return 1
    return 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    allow_file, show_graph, crates = None, False, []
    args = iter(argv)
    for a in args:
        if a == "--allow":
            allow_file = next(args)
        elif a == "--graph":
            show_graph = True
        else:
            crates.append(a)
    allowed = set()
    if allow_file and os.path.exists(allow_file):
        with open(allow_file, encoding="utf-8") as fh:
            for line in fh:
                line = line.split("#", 1)[0].strip()
                if line:
                    a, b = (s.strip() for s in line.split("->"))
                    allowed.add((a, b))
    failed, used = False, set()
    for root in crates:
        crate = Crate(root)
        edges = crate.edges()
        if show_graph:
            for f in sorted(edges):
                for g, via in sorted(edges[f].items()):
                    print(f"{f} -> {g}    ({via})")
        for f in edges:
            for g in list(edges[f]):
                if (f, g) in allowed:
                    used.add((f, g))
                    del edges[f][g]
        for comp in cycles(edges):
            failed = True
            path = one_cycle(edges, comp)
            print(f"module-cycles: {crate.name}: import cycle among {len(comp)} files:", file=sys.stderr)
            for a, b in zip(path, path[1:]):
                print(f"  {a} -> {b}    (via {edges[a][b]})", file=sys.stderr)
            others = sorted(set(comp) - set(path))
            if others:
                print(f"  (same cycle also reaches: {', '.join(others)})", file=sys.stderr)
    for a, b in sorted(allowed - used):
        print(f"module-cycles: note: allow-list entry no longer needed: {a} -> {b}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
