"""Move exported names between modules: rewrite imports repo-wide, add imports where a file uses a
name that used to be local. usage: retype.py name=old.ts:new.ts ..."""
import os, re, sys, subprocess
root='/work/main'
moves={}
for a in sys.argv[1:]:
    n,rest=a.split('='); old,new=rest.split(':'); moves[n]=(os.path.join(root,old),os.path.join(root,new))
files=[l for l in subprocess.check_output(['git','ls-files','*.ts'],cwd=root,text=True).split() ]
files+= [l for l in subprocess.check_output(['git','ls-files','--others','--exclude-standard','*.ts'],cwd=root,text=True).split()]
imp=re.compile(r"import\s+(type\s+)?\{([^}]*)\}\s+from\s+'([^']+)';\n")
def rel(frm,to):
    r=os.path.relpath(to,os.path.dirname(frm)).replace('.ts','.js')
    return r if r.startswith('.') else './'+r
for f in files:
    p=os.path.join(root,f); s=open(p).read(); orig=s
    add={}  # newmod -> set of (name,typeonly)
    def fix(m):
        typeall=bool(m.group(1)); names=[x.strip() for x in m.group(2).split(',') if x.strip()]; src=m.group(3)
        target=os.path.normpath(os.path.join(os.path.dirname(p),src)).replace('.js','.ts')
        keep=[]
        for n in names:
            t = typeall or n.startswith('type ')
            base=n.replace('type ','').split(' as ')[0].strip()
            if base in moves and moves[base][0]==target:
                add.setdefault(moves[base][1],[]).append((n.replace('type ','').strip(), True if t else t))
            else: keep.append(n)
        if not keep: return ''
        return f"import {'type ' if typeall else ''}{{ {', '.join(keep)} }} from '{src}';\n"
    s=imp.sub(fix,s)
    # names used in a file where they were defined before (the old module itself)
    for n,(old,new) in moves.items():
        if p==old and re.search(r'\b'+n+r'\b',s) and p!=new:
            add.setdefault(new,[]).append((n,None))
    for new,names in add.items():
        if new==p: continue
        r=rel(p,new)
        # merge into an existing import from r
        m=re.search(r"import\s+(type\s+)?\{([^}]*)\}\s+from\s+'"+re.escape(r)+"';\n",s)
        def fmt(n,t,typeall): return n if typeall else (('type '+n) if t is not False else n)
        if m:
            typeall=bool(m.group(1)); cur=[x.strip() for x in m.group(2).split(',') if x.strip()]
            curbase={c.replace('type ','') for c in cur}
            for n,t in names:
                if n in curbase: continue
                if typeall and t is False: typeall=False; cur=['type '+c for c in cur]
                cur.append(fmt(n,t,typeall))
            s=s[:m.start()]+f"import {'type ' if typeall else ''}{{ {', '.join(cur)} }} from '{r}';\n"+s[m.end():]
        else:
            uniq=[]
            for n,t in names:
                if n not in [u[0] for u in uniq]: uniq.append((n,t))
            line=f"import {{ {', '.join(fmt(n,t,False) for n,t in uniq)} }} from '{r}';\n"
            # after last import
            ims=list(re.finditer(r"^import .*?;\n",s,re.M|re.S))
            at=ims[-1].end() if ims else 0
            s=s[:at]+line+s[at:]
    if s!=orig: open(p,'w').write(s); print('edited',f)
