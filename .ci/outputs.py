"""Store each notebook's small, deterministic outputs, as fastcore's notebooks keep theirs, so GitHub shows them.

    python .ci/outputs.py [nbs/NAME.ipynb ...]     # default: every notebook in nbs/

Each notebook is run as nbdev_test runs it (cells flagged slow or gpu, and `eval: false`, are skipped) and the
outputs of its code cells are written back, except what changes from run to run or is large: standard error
(progress bars, warnings), outputs of cells marked `#| output: false` (timings, page faults), any output that
names a temporary folder or a path of this machine, and images over 150 KB. Then nbdev_clean removes execution counts.
"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLAGS = {'slow', 'gpu'}


def keep(cell: dict, outputs: list) -> list:
    "The outputs of a cell worth storing."
    if re.search(r'^#\|\s*output:\s*false', ''.join(cell['source']), flags=re.M): return []
    kept = []
    for o in outputs:
        if o.get('name') == 'stderr' or o['output_type'] == 'error': continue
        text = json.dumps(o.get('text', '')) + json.dumps({k: v for k, v in o.get('data', {}).items() if k.startswith('text')})
        if re.search(r'/tmp/|/work/|/home/|shared/data|tmp[\w-]{6,}|brats_\w+_\w{8}', text): continue
        if len(o.get('data', {}).get('image/png', '')) > 200_000: continue
        o.pop('execution_count', None)
        if 'data' in o: o['data'] = {k: v for k, v in o['data'].items() if k in ('text/plain', 'image/png', 'text/markdown')}
        kept.append(o)
    return kept


def store_outputs(path: Path):
    from execnb.shell import CaptureShell
    import os
    nb = json.loads(path.read_text())
    os.environ['IN_TEST'] = '1'
    cwd = os.getcwd(); os.chdir(path.parent)
    shell = CaptureShell()
    try:
        for cell in nb['cells']:
            if cell['cell_type'] != 'code': continue
            src = ''.join(cell['source'])
            directives = re.findall(r'^#\|\s*([\w-]+)', src, flags=re.M)
            if FLAGS & set(directives) or re.search(r'^#\|\s*eval:\s*false', src, flags=re.M): cell['outputs'] = []; continue
            outs = shell.run(src)
            if shell.exc: raise RuntimeError(f"{path.name}: a cell failed: {shell.exc!r}\n{src[:300]}")
            cell['outputs'] = keep(cell, outs or [])
    finally: os.chdir(cwd)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    print(f"{path.name}: {sum(bool(c.get('outputs')) for c in nb['cells'])} cells with stored outputs")


if __name__ == '__main__':
    for p in [Path(a) for a in sys.argv[1:]] or sorted((ROOT / 'nbs').glob('*.ipynb')): store_outputs(p.resolve())
