"Shared by the benchmark scripts: machine description, writing one section of bench/RESULTS.md, small measures."
import os, platform, re, resource, subprocess, sys, time
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / 'RESULTS.md'


def machine() -> str:
    "CPU model, cores, memory, torch version and bf16 support, in one line."
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor())
    mem = next((int(l.split()[1]) / 2**20 for l in open('/proc/meminfo') if l.startswith('MemTotal')), 0)
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ', no GPU'
    bf16 = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB{gpu}; torch {torch.__version__}, CPU bf16 {'yes' if bf16 else 'no'}"


def _markers(name: str) -> tuple: return f'<!-- {name}:start -->', f'<!-- {name}:end -->'


def read_section(name: str) -> str:
    "The text of section `name` of bench/RESULTS.md as written ('' where there is none)."
    start, end = _markers(name)
    text = RESULTS.read_text() if RESULTS.exists() else ''
    found = re.search(re.escape(start) + '(.*?)' + re.escape(end), text, flags=re.S)
    return found.group(1) if found else ''


def write_section(name: str, text: str):
    "Replace (or add) the section `name` of bench/RESULTS.md, atomically."
    start, end = _markers(name)
    block = f'{start}\n{text.strip()}\n{end}'
    old = RESULTS.read_text() if RESULTS.exists() else '# Benchmark results\n\nEach section is written by the script it names; rerun it to update.\n'
    new = re.sub(re.escape(start) + '.*?' + re.escape(end), lambda _: block, old, flags=re.S) if start in old else old.rstrip() + '\n\n' + block + '\n'
    tmp = RESULTS.with_suffix('.tmp')
    tmp.write_text(new)
    os.replace(tmp, RESULTS)
    print(f'updated {RESULTS} ({name})')


def command_line() -> str: return 'python ' + ' '.join([os.path.relpath(sys.argv[0])] + sys.argv[1:])


def peak_rss_gb() -> float:
    "This process's peak resident set size so far, in GiB."
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def time_to_targets(rows: list, targets=(0.80, 0.85)) -> dict:
    "For each Dice target (as a string key, JSON-friendly): [first epoch whose validation mean reaches it, seconds summed to it]."
    elapsed, reached = 0.0, {}
    for r in rows:  # read_metrics rows: 'seconds' is training plus validation time of that epoch
        elapsed += r['seconds']
        for t in targets:
            if str(t) not in reached and r['dice_mean'] >= t: reached[str(t)] = [int(r['epoch']), elapsed]
    return reached


def timed(args: list, log: Path, env=None) -> tuple:
    "Run a command in its own process, output to `log`: (wall seconds, peak RSS in GiB). A failure stops the bench."
    start = time.perf_counter()
    with open(log, 'w') as f:
        p = subprocess.Popen([str(a) for a in args], stdout=f, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(p.pid, 0)
    if status: sys.exit(f"{' '.join(map(str, args[:2]))} failed ({status}): see {log}")
    return time.perf_counter() - start, usage.ru_maxrss / 2**20
