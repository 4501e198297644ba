"""README.md from nbs/index.ipynb, the way nbdev_readme makes it, without Quarto (which cannot be installed here).

    python .ci/readme.py build          # write README.md
    python .ci/readme.py check          # exit 1 if README.md is not what index.ipynb gives
    python .ci/readme.py command NAME   # print the README's set-up command NAME (install or test)

Hidden cells (`#| hide`) are dropped, `#|` directives removed, stored outputs kept; README.md is written
atomically.
"""
import os, re, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README, INDEX = ROOT / 'README.md', ROOT / 'nbs' / 'index.ipynb'
NOTICE = '<!-- Generated from nbs/index.ipynb by .ci/readme.py: edit the notebook, not this file. -->\n\n'


def render() -> str:
    import nbformat
    from nbconvert import MarkdownExporter
    nb = nbformat.read(INDEX, as_version=4)
    cells = []
    for cell in nb.cells:
        directives = re.findall(r'^#\|\s*(.*)$', cell.source, flags=re.M)
        if cell.cell_type == 'code' and any(d.split(':')[0].strip() == 'hide' for d in directives): continue
        cell.source = re.sub(r'^#\|.*\n?', '', cell.source, flags=re.M)
        if cell.cell_type == 'code' and any(re.match(r'echo:\s*false', d) for d in directives): cell.source = ''
        cells.append(cell)
    nb.cells = cells
    body, _ = MarkdownExporter(exclude_input_prompt=True, exclude_output_prompt=True).from_notebook_node(nb)
    body = re.sub(r'\]\((images/[^)]+|[\w-]+\.ipynb)\)', r'](nbs/\1)', body)  # pictures and notebooks live in nbs/, README.md at the top
    body = re.sub(r'\]\(\.\./', '](', body)  # links from nbs/ to the project's other folders (bench/)
    return NOTICE + re.sub(r'\n{3,}', '\n\n', body).strip() + '\n'


def command(name: str) -> str:
    "The set-up commands are the first two ```sh blocks of the section '## Set up': install, then test."
    section = README.read_text().split('## Set up', 1)[1].split('\n## ', 1)[0]
    blocks = re.findall(r'```sh\n(.*?)\n```', section, flags=re.S)
    return blocks[{'install': 0, 'test': 1}[name]].strip()


if __name__ == '__main__':
    what = sys.argv[1] if len(sys.argv) > 1 else 'build'
    if what == 'command': print(command(sys.argv[2])); sys.exit(0)
    text = render()
    if what == 'check':
        if README.read_text() != text:
            sys.exit('README.md is out of date with nbs/index.ipynb: run `python .ci/readme.py build` and commit it')
        print('README.md is in sync with nbs/index.ipynb')
    else:
        fd, tmp = tempfile.mkstemp(dir=ROOT, prefix='.README.', suffix='.tmp')
        with os.fdopen(fd, 'w') as f: f.write(text)
        os.replace(tmp, README)
        print(f'wrote {README}')
