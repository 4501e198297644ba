"""The training data path on CPU: one epoch of loading without a cache, with CacheDataset and with
PersistentDataset, at full size; then training steps per second at the CPU preset's roi.

    python bench/data_path.py [--cases 8] [--out /tmp/bench-data]

Loading is the seed's training pipeline (load 4 modalities, regions, RAS, 1 mm, normalise, crop 224x224x144,
flips, intensity) with no model; a cached epoch only crops, flips and rescales. Each measurement runs in its
own process, so that its peak memory (RSS) is its own. Results go to bench/RESULTS.md (section data_path).
"""
import argparse, json, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import peak_rss_gb  # noqa: E402


def measure(data_dir: str, mode: str, cache_dir: str) -> dict:
    "One measurement, in a fresh process (called through --worker)."
    import torch
    from brats_nbdev.core import keep_freed_memory
    keep_freed_memory()  # as the console scripts do, in every mode
    from brats_nbdev.data import find_cases
    from brats_nbdev.transforms import make_dataset, make_loader, train_transforms
    items = [c.as_dict() for c in find_cases(data_dir)]
    if mode == 'steps':  # training steps per second at the CPU preset: 64^3 patches, bf16, batch 1
        from brats_nbdev.model import build_model
        from brats_nbdev.core import resolve_amp
        from brats_nbdev.train import dice_loss, train_step
        ds = make_dataset(items, train_transforms(roi_size=(64, 64, 64)), cache='memory')
        model, cpu = build_model(), torch.device('cpu')
        opt, amp = torch.optim.Adam(model.parameters(), 1e-3), resolve_amp('auto', cpu)
        batches = [b for b in make_loader(ds)] * 3
        train_step(model, batches[0], opt, dice_loss(), torch.amp.GradScaler('cpu', enabled=False), cpu, amp)  # warm-up
        start = time.perf_counter()
        for b in batches: train_step(model, b, opt, dice_loss(), torch.amp.GradScaler('cpu', enabled=False), cpu, amp)
        return {'steps_per_s': len(batches) / (time.perf_counter() - start), 'amp': amp,
                'peak_rss_gb': peak_rss_gb()}
    transform = train_transforms()
    start = time.perf_counter()
    ds = make_dataset(items, transform, cache={'uncached': 'none', 'memory': 'memory', 'disk': 'disk'}[mode], cache_dir=cache_dir)
    fill = time.perf_counter() - start
    epochs = []
    for _ in range(2 if mode != 'uncached' else 1):
        start = time.perf_counter()
        for _batch in make_loader(ds): pass
        epochs.append(time.perf_counter() - start)
    return {'fill_s': fill, 'epochs_s': epochs, 'peak_rss_gb': peak_rss_gb()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--cases', type=int, default=8)
    ap.add_argument('--out', default=None)
    ap.add_argument('--worker', nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker: print(json.dumps(measure(*args.worker))); return
    from common import command_line, machine, write_section
    from brats_nbdev.synthetic import write_synthetic_dataset
    out = Path(args.out or tempfile.mkdtemp(prefix='bench-data-'))
    data = write_synthetic_dataset(out / 'data', cases=args.cases, shape=(240, 240, 155), layout='msd', seed=5, progress=False)
    results = {}
    for mode in ('uncached', 'memory', 'disk', 'steps'):
        res = subprocess.run([sys.executable, __file__, '--worker', str(data), mode, str(out / 'cache')], capture_output=True, text=True)
        if res.returncode: sys.exit(res.stderr[-2000:])
        results[mode] = json.loads(res.stdout.strip().splitlines()[-1]); print(mode, results[mode], flush=True)
    un = results['uncached']['epochs_s'][0]
    row = lambda name, m: (f"| {name} | {results[m]['fill_s']:.1f} s | {results[m]['epochs_s'][-1]:.2f} s | "
                           f"{un / results[m]['epochs_s'][-1]:.1f}x | {results[m]['peak_rss_gb']:.2f} GB |")
    text = f"""## Training data path on CPU

Machine: {machine()}.
Command: `{command_line()}`; {args.cases} synthetic 240x240x155 mm cases in the MSD layout, cycling RAS/LPS and
1 mm / 1.2x1.2x1.5 mm (so half of them are resampled), the seed's training pipeline (crop 224x224x144), no model;\nregions cached as uint8, glibc malloc keeping freed blocks (`keep_freed_memory`) in every mode.

| data set | building it | one epoch (after the first) | vs uncached | peak RSS |
|---|---|---|---|---|
| uncached (`Dataset`) | 0.0 s | {un:.2f} s | 1.0x | {results['uncached']['peak_rss_gb']:.2f} GB |
{row('memory (`CacheDataset`)', 'memory')}
{row('disk (`PersistentDataset`)', 'disk')}

Building a memory cache runs the deterministic part once; the disk cache is filled during its first epoch
({results['disk']['epochs_s'][0]:.1f} s) and read back afterwards.
Training at the CPU preset (SegResNet, 64x64x64 patches, batch 1, {results['steps']['amp']}): {results['steps']['steps_per_s']:.2f} steps/s,
peak RSS {results['steps']['peak_rss_gb']:.2f} GB.
"""
    print(text)
    write_section('data_path', text)


if __name__ == '__main__':
    main()
