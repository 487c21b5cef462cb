#!/usr/bin/env python3
"""Moves .ts files (git mv) and rewrites every relative import in the repo to match.
usage: move.py old=new [old=new ...]   (repo-relative paths, .ts)"""
import os, re, subprocess, sys
root = subprocess.check_output(['git', 'rev-parse', '--show-toplevel'], text=True).strip()
os.chdir(root)
moves = dict(a.split('=') for a in sys.argv[1:])
files = [f for f in subprocess.check_output(['git', 'ls-files', '*.ts', '*.mjs'], text=True).split() if os.path.exists(f)]
spec = re.compile(r"""((?:from|import)\s*\(?\s*['"])(\.{1,2}/[^'"]+)(['"])""")
def norm(p): return os.path.normpath(p)
for f in files:
    new_f = moves.get(f, f)
    src = open(f).read()
    def fix(m):
        target_js = norm(os.path.join(os.path.dirname(f), m.group(2)))
        target_ts = re.sub(r'\.js$', '.ts', target_js)
        new_target = moves.get(target_ts, target_ts)
        if new_target == target_ts and new_f == f: return m.group(0)
        new_js = re.sub(r'\.ts$', '.js', new_target) if target_js.endswith('.js') else new_target
        rel = os.path.relpath(new_js, os.path.dirname(new_f))
        if not rel.startswith('.'): rel = './' + rel
        return m.group(1) + rel + m.group(3)
    out = spec.sub(fix, src)
    if out != src: open(f, 'w').write(out)
for a, b in moves.items():
    os.makedirs(os.path.dirname(b), exist_ok=True)
    subprocess.check_call(['git', 'mv', a, b])
