"""Build the documentation site from the notebooks, without Quarto (which cannot be installed here).

    python docs/build.py            # execute, process, render into _site/, then check every internal link
    python docs/build.py --no-exec  # reuse the executed notebooks in _build/executed/
    python docs/build.py --test nbs/05_train.ipynb  # test one notebook as nbdev_test does, keeping its outputs

1. Each notebook runs through nbdev's own `test_nb`, the function nbdev_test calls (cells flagged slow/gpu and
   `eval: false` skipped), and its outputs are kept: figures, tables, printed results. So the test suite
   runs every notebook once and the site reuses those runs.
2. nbdev's own processors turn it into a documentation page (show_doc rendered, hidden cells and export
   directives dropped), as they do for Quarto; a small step removes what only Quarto reads.
3. Sphinx with myst-nb and the furo theme renders the pages; the navigation is the sidebar of _quarto.yml,
   so the Quarto site and this one list the same pages in the same order.
   bench/RESULTS.md, which the notebooks link to for their figures, becomes a page of the site too.
4. Every page's links and images are checked: a broken internal link or a missing image fails the build.
"""
import argparse, re, shutil, subprocess, sys, time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
NBS, BUILD, SITE = ROOT / 'nbs', ROOT / '_build', ROOT / '_site'


def sidebar_pages() -> list:
    "The notebooks of _quarto.yml's sidebar, in order."
    cfg = yaml.safe_load((ROOT / '_quarto.yml').read_text())
    return [str(p) for p in cfg['website']['sidebar']['contents']]


def execute(src: Path, dst: Path, force_flags=()) -> bool:
    "Run a notebook with nbdev's own `test_nb` (what nbdev_test runs), keeping its outputs in `dst`."
    import nbdev.test
    from execnb.nbio import read_nb, write_nb
    from nbdev.config import get_config
    ran = {}
    class RecordingShell(nbdev.test.CaptureShell):
        def run_all(self, nb, *args, **kwargs):
            ran['nb'] = nb
            return super().run_all(nb, *args, **kwargs)
    nbdev.test.CaptureShell = RecordingShell
    cfg = get_config()
    try:  # as nbdev_test calls it
        with nbdev.test.working_directory(cfg.nbs_path):
            passed, _ = nbdev.test.test_nb(Path(src).absolute(), skip_flags=cfg.tst_flags.split(),
                                           force_flags=list(force_flags), basepath=cfg.config_path)
    finally: nbdev.test.CaptureShell = RecordingShell.__base__
    if not passed: return False
    raw = read_nb(src)  # the parsed copy lost its `#|` lines, which nbdev's doc processors need
    assert len(raw.cells) == len(ran['nb'].cells), f"{src}: cells changed while executing"
    for cell, done in zip(raw.cells, ran['nb'].cells):
        if cell.cell_type == 'code': cell.outputs, cell.execution_count = done.get('outputs', []), done.get('execution_count')
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_nb(raw, dst)
    dst.touch()  # write_nb leaves an unchanged file alone; --no-exec compares times
    return True


def process(src: Path, dst: Path):
    "nbdev's documentation processors, then remove what only Quarto understands."
    from execnb.nbio import read_nb, write_nb
    from nbdev.processors import FilterDefaults
    from nbdev.process import NBProcessor
    proc = NBProcessor(src, procs=FilterDefaults().procs(), process=True)
    cells = []
    for cell in proc.nb.cells:
        if cell.cell_type == 'raw' and cell.source.startswith('---'):  # Quarto front matter: back to title and subtitle
            meta = yaml.safe_load(cell.source.strip().strip('-')) or {}
            cell.cell_type, cell.source = 'markdown', f"# {meta.get('title', '')}\n\n> {meta.get('description', '')}".rstrip('> \n')
            cell.pop('outputs', None); cell.pop('execution_count', None)
        directives = dict(re.findall(r'^#\|\s*([\w-]+):?\s*(.*)$', cell.source, flags=re.M))
        if directives.get('include', '').strip() == 'false' or 'hide' in directives: continue
        cell.source = re.sub(r'^#\|.*\n?', '', cell.source, flags=re.M)
        if cell.cell_type == 'markdown': cell.source = cell.source.replace('](../bench/RESULTS.md)', '](RESULTS.md)')
        if directives.get('echo', '').strip() == 'false': cell.source = ''
        if directives.get('output', '').strip() == 'false': cell.outputs = []
        for key in [k for k in cell if k.endswith('_') or k == 'has_sd']: del cell[key]
        if cell.cell_type == 'code' and not cell.source.strip() and not cell.get('outputs'): continue
        cells.append(cell)
    proc.nb.cells = cells
    proc.nb.metadata.update(kernelspec={'name': 'python3', 'display_name': 'Python 3', 'language': 'python'},
                            language_info={'name': 'python', 'pygments_lexer': 'ipython3'})  # nbdev_clean strips these
    write_nb(proc.nb, dst)


def add_navigation(index: Path, pages: list):
    "A hidden toctree at the end of the home page: Sphinx's sidebar, from _quarto.yml's order."
    import json
    nb = json.loads(index.read_text())
    entries = '\n'.join([*(Path(p).stem for p in pages if Path(p).stem != 'index'), 'RESULTS'])
    nb['cells'].append({'cell_type': 'markdown', 'metadata': {}, 'source': f"```{{toctree}}\n:hidden:\n:maxdepth: 1\n\n{entries}\n```"})
    index.write_text(json.dumps(nb, indent=1))


def check_links(site: Path) -> list:
    "Every internal href/src of every page that points at nothing."
    broken = []
    for page in site.rglob('*.html'):
        for url in re.findall(r'(?:href|src)="([^"#?]+)', page.read_text(errors='replace')):
            if re.match(r'^(https?:|mailto:|data:|javascript:|//)', url): continue
            if not (page.parent / url).resolve().exists(): broken.append(f"{page.relative_to(site)}: {url}")
    return broken


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--no-exec', action='store_true', help='reuse _build/executed instead of running the notebooks')
    ap.add_argument('--test', nargs='+', metavar='NOTEBOOK',
                    help='only test these notebooks (as nbdev_test), keeping their outputs for a later --no-exec')
    ap.add_argument('--flags', default='', help='with --test: flagged cells to run too, as nbdev_test --flags')
    args = ap.parse_args()
    pages, start = sidebar_pages(), time.time()
    executed, source = BUILD / 'executed', BUILD / 'source'
    executed.mkdir(parents=True, exist_ok=True)
    if args.test:
        failed = [nb for nb in args.test if not execute(ROOT / nb, executed / Path(nb).name, args.flags.split())]
        sys.exit(f"failed: {', '.join(failed)}" if failed else 0)
    if args.no_exec:
        stale = [p for p in pages if not (executed / p).is_file()
                 or (executed / p).stat().st_mtime < (NBS / p).stat().st_mtime]
        if stale: sys.exit(f"no executed copy newer than the notebook for: {', '.join(stale)}; "
                           "run without --no-exec (or --test them first)")
    shutil.rmtree(source, ignore_errors=True); source.mkdir(parents=True)
    for page in pages:
        if not args.no_exec:
            print(f"executing {page}", flush=True)
            if not execute(NBS / page, executed / page): sys.exit(f"{page}: a cell failed")
        process(executed / page, source / page)
    add_navigation(source / 'index.ipynb', pages)
    if (NBS / 'images').is_dir(): shutil.copytree(NBS / 'images', source / 'images')
    shutil.copy(ROOT / 'bench' / 'RESULTS.md', source / 'RESULTS.md')  # the figures the notebooks link to
    shutil.copy(ROOT / 'docs' / 'conf.py', source / 'conf.py')
    shutil.rmtree(SITE, ignore_errors=True)
    res = subprocess.run([sys.executable, '-m', 'sphinx', '-b', 'html', '-q', '-W', '--keep-going', str(source), str(SITE)])
    if res.returncode: sys.exit(f"sphinx failed (exit {res.returncode})")
    broken = check_links(SITE)
    for b in broken: print(f"broken link: {b}")
    if broken: sys.exit(f"{len(broken)} broken internal link(s) or missing image(s)")
    print(f"built {len(pages)} pages into {SITE} in {time.time() - start:.0f} s; all internal links and images resolve")


if __name__ == '__main__':
    main()
