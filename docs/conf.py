# Sphinx configuration for the rendered notebooks (copied next to them by docs/build.py).
import configparser
from pathlib import Path

_cfg = configparser.ConfigParser()
_cfg.read(Path(__file__).resolve().parents[2] / 'settings.ini')
project = _cfg['DEFAULT']['title']
author = _cfg['DEFAULT']['author']
copyright = _cfg['DEFAULT']['copyright']
release = _cfg['DEFAULT']['version']

extensions = ['myst_nb']
root_doc = 'index'
source_suffix = {'.ipynb': 'myst-nb'}
exclude_patterns = ['jupyter_execute', '**.ipynb_checkpoints']
nb_execution_mode = 'off'               # docs/build.py has executed the notebooks already
nb_render_markdown_format = 'myst'      # nbdev's show_doc tables are Markdown
myst_enable_extensions = ['colon_fence']
suppress_warnings = ['myst.header', 'mystnb.unknown_mime_type', 'misc.highlighting_failure']
html_theme = 'furo'
html_title = f"{project} {release}"
html_static_path = []
