"""Open every page of the built site (_site/) in headless Chromium and fail on a page that does not load or an
image that does not show. Saves screenshots of the home page and the visualize page to _build/screenshots/.

    python docs/check_site.py [--chromium /usr/bin/chromium]

Chromium is Debian's package (`apt-get install chromium`); it is driven through its DevTools protocol, with
background networking off, so nothing leaves the machine.
"""
import argparse, base64, json, shutil, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

from websocket import create_connection

ROOT = Path(__file__).resolve().parent.parent
SITE, SHOTS = ROOT / '_site', ROOT / '_build' / 'screenshots'
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--hide-scrollbars', '--window-size=1280,1600']
BROKEN_IMAGES = "JSON.stringify(Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')))"


class Page:
    "One DevTools connection to a Chromium tab."
    def __init__(self, ws_url): self.ws, self.n = create_connection(ws_url, timeout=30), 0
    def call(self, method, **params):
        self.n += 1; self.ws.send(json.dumps({'id': self.n, 'method': method, 'params': params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get('id') == self.n: return msg.get('result', {})
    def wait_for(self, event, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            if json.loads(self.ws.recv()).get('method') == event: return True
        return False


def free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--chromium', default=shutil.which('chromium') or '/usr/bin/chromium')
    args = ap.parse_args()
    if not Path(args.chromium).exists(): sys.exit(f"no Chromium at {args.chromium}: apt-get install chromium, or pass --chromium")
    pages = sorted(SITE.glob('*.html'))
    if not pages: sys.exit(f"no pages in {SITE}: run python docs/build.py first")
    port, profile = free_port(), tempfile.mkdtemp(prefix='chromium-')
    proc = subprocess.Popen([args.chromium, *FLAGS, f'--user-data-dir={profile}', f'--remote-debugging-port={port}', 'about:blank'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try: targets = json.load(urllib.request.urlopen(f'http://127.0.0.1:{port}/json')); break
            except OSError: time.sleep(0.1)
        page = Page(next(t for t in targets if t['type'] == 'page')['webSocketDebuggerUrl'])
        page.call('Page.enable')
        SHOTS.mkdir(parents=True, exist_ok=True)
        failures = []
        for html in pages:
            page.call('Page.navigate', url=html.as_uri())
            loaded = page.wait_for('Page.loadEventFired')
            state = page.call('Runtime.evaluate', expression='document.readyState + "|" + document.title')['result']['value']
            broken = json.loads(page.call('Runtime.evaluate', expression=BROKEN_IMAGES)['result']['value'])
            images = page.call('Runtime.evaluate', expression='document.images.length')['result']['value']
            ok = loaded and state.startswith('complete|') and not broken
            print(f"{'ok  ' if ok else 'FAIL'} {html.name}: {images} image(s){'; broken: ' + ', '.join(broken) if broken else ''}")
            if not ok: failures.append(html.name)
            if html.stem in ('index', '05_visualize'):
                shot = page.call('Page.captureScreenshot', format='png')['data']
                (SHOTS / f'{html.stem}.png').write_bytes(base64.b64decode(shot))
        print(f"screenshots: {SHOTS}")
        if failures: sys.exit(f"{len(failures)} page(s) failed to load or show their images: {', '.join(failures)}")
        print(f"all {len(pages)} pages load and show their images")
    finally:
        proc.terminate(); proc.wait(10); shutil.rmtree(profile, ignore_errors=True)


if __name__ == '__main__':
    main()
