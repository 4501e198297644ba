"""The training cache at the size of the real job: peak memory and epoch time as the number of full-size
cases grows, for each cache mode, against the float32 full-grid cache of before; then one real-size rehearsal
of `brats_train` over a Task01-sized synthetic set.

    python bench/cache_scale.py [--cases 24 96] [--unique 96] [--rehearsal 484] [--workers 2] [--out DIR]

The cases are synthetic, full size (240x240x155 voxels of 1 mm, RAS, the Task01 grid), MSD layout: `--unique`
of them written once with `brats_synth --workers`, and the rehearsal's data set made of that many cases by
hard links to them under new names (each is read, preprocessed and cached on its own, as a distinct case
would be, so memory and time are those of distinct cases). Each measurement runs in its own process, so that its peak RSS is its
own: it builds the seed's training dataset (crop 224x224x144) over the first N cases, fills the cache, and
times one epoch of loading after the fill (no model). `float32 full grid` is the cache as it was before
(float32 images on the whole grid, three uint8 region channels); `memory`, `disk` and `none` are today's
pipeline (the brain's box, float16 images, one uint8 label map). Results go to bench/RESULTS.md (section
cache_scale).
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import peak_rss_gb  # noqa: E402


def old_transform(roi):
    "The training pipeline as it was: regions before the cache, float32 images on the full grid."
    import torch
    from monai.transforms import Compose, RandSpatialCropd, SpatialPadd
    from brats_nbdev.transforms import (LabelsToRegionsd, augment_transforms, load_transforms,
                                        preprocess_transforms)
    keys = ['image', 'label']
    augment = [t for t in augment_transforms(roi) if type(t).__name__ in ('RandFlipd', 'RandScaleIntensityd',
                                                                           'RandShiftIntensityd')]
    return Compose(load_transforms() + [LabelsToRegionsd('label')]
                   + preprocess_transforms(crop_to_brain=False, image_dtype=torch.float32)
                   + [SpatialPadd(keys, roi), RandSpatialCropd(keys, roi, random_size=False)] + augment)


def measure(data_dir: str, n: int, mode: str, cache_dir: str) -> dict:
    "One measurement, in a fresh process (called through --worker)."
    from brats_nbdev.core import keep_freed_memory
    keep_freed_memory()  # as the console scripts do
    from brats_nbdev.data import find_cases
    from brats_nbdev.transforms import make_dataset, make_loader, train_transforms
    roi = (224, 224, 144)
    items = [c.as_dict() for c in find_cases(data_dir)][:n]
    transform = old_transform(roi) if mode == 'float32 full grid' else train_transforms(roi)
    cache = 'memory' if mode == 'float32 full grid' else mode
    start = time.perf_counter()
    ds = make_dataset(items, transform, cache, cache_dir)
    if cache == 'disk':
        for _ in make_loader(ds): pass  # the first epoch fills the disk cache
    fill = time.perf_counter() - start
    start = time.perf_counter()
    for _batch in make_loader(ds): pass
    epoch = time.perf_counter() - start
    return {'fill_s': fill, 'epoch_s': epoch, 'peak_rss_gb': peak_rss_gb()}


def crops_per_second(data_dir: str) -> dict:
    "The random part of the seed's training pipeline (crop 224x224x144, flips, unpack, intensity) on one core."
    import torch
    from brats_nbdev.data import find_cases
    from brats_nbdev.transforms import cached_part, train_transforms
    torch.set_num_threads(1)
    transform = train_transforms((224, 224, 144))
    head = cached_part(transform)
    rest = transform.transforms[len(head.transforms):]
    cached = [head(item) for item in [c.as_dict() for c in find_cases(data_dir)][:4]]
    def once(d):
        for t in rest: d = t(d)
        return d
    once(dict(cached[0]))
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < 20:
        once(dict(cached[n % len(cached)])); n += 1
    return {'crops_per_s': n / (time.perf_counter() - start)}


def run_worker(*args) -> dict:
    res = subprocess.run([sys.executable, __file__, '--worker', *map(str, args)], capture_output=True, text=True)
    if res.returncode: sys.exit(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def rehearsal(data: Path, out: Path) -> dict:
    "brats_train over the whole set for one epoch, small roi and width, peak RSS of the process tree."
    cmd = [str(Path(sys.executable).parent / 'brats_train'), '--data-dir', str(data), '--out-dir', str(out / 'runs'),
           '--name', 'rehearsal', '--roi', '64', '64', '64', '--init-filters', '8', '--epochs', '1',
           '--overlap', '0', '--no-progress', '--wandb', 'disabled']
    env = {**os.environ, 'BRATS_NBDEV_CACHE': str(out / 'cache-rehearsal')}
    start = time.perf_counter()
    res = subprocess.run(['/usr/bin/time', '-v', *cmd], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if res.returncode: sys.exit(res.stdout[-2000:] + res.stderr[-3000:])
    rss_kb = next(int(l.split()[-1]) for l in res.stderr.splitlines() if 'Maximum resident set size' in l)
    cache_line = next((l for l in res.stdout.splitlines() if l.startswith('cache:')), '')
    return {'seconds': seconds, 'peak_rss_gb': rss_kb / 2**20, 'cache_line': cache_line,
            'result': res.stdout.strip().splitlines()[-8:]}


def linked_dataset(unique: Path, out: Path, n: int) -> Path:
    "An MSD-layout data set of `n` cases, hard links cycling through the cases of `unique`."
    meta = json.loads((unique / 'dataset.json').read_text())
    sources = meta['training']
    if (out / 'dataset.json').is_file(): return out
    for sub in ('imagesTr', 'labelsTr'): (out / sub).mkdir(parents=True, exist_ok=True)
    entries = []
    for i in range(n):
        src, name = sources[i % len(sources)], f'BRATS_{i + 1:03d}.nii.gz'
        for key, sub in (('image', 'imagesTr'), ('label', 'labelsTr')):
            os.link(unique / src[key], out / sub / name)
        entries.append({'image': f'./imagesTr/{name}', 'label': f'./labelsTr/{name}'})
    (out / 'dataset.json').write_text(json.dumps({**meta, 'numTraining': n, 'training': entries}, indent=2))
    return out


def measure_all(args, data: Path, out: Path) -> list:
    "Every (cases, cache) row, each in its own process."
    rows = []
    for n in args.cases:
        for mode in ('float32 full grid', 'memory', 'disk', 'none'):
            if mode == 'float32 full grid' and n > 24: continue  # 170 MB a case: the point is made at 24
            r = run_worker(data, n, mode, out / f'cache-{n}')
            rows.append({'cases': n, 'mode': mode, **r}); print(rows[-1], flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--cases', type=int, nargs='+', default=[24, 96])
    ap.add_argument('--rehearsal', type=int, default=0, help='cases of the brats_train rehearsal (0: none)')
    ap.add_argument('--unique', type=int, default=96, help='distinct cases to write')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--out', default=None)
    ap.add_argument('--reuse', action='store_true', help='reuse the tables measured by an earlier run into --out')
    ap.add_argument('--worker', nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        data, n, mode, cache_dir = args.worker
        print(json.dumps(crops_per_second(data) if mode == 'crops' else measure(data, int(n), mode, cache_dir)))
        return
    from common import command_line, machine, write_section
    from brats_nbdev.synthetic import write_synthetic_dataset
    out = Path(args.out or tempfile.mkdtemp(prefix='bench-scale-'))
    total = args.unique
    data = out / f'data-{total}'
    write_file, write_s = out / 'write_seconds.json', {}
    if (data / 'dataset.json').is_file() and write_file.is_file():  # written by an earlier run into --out
        write_s = {int(k): v for k, v in json.loads(write_file.read_text()).items()}
    if not (data / 'dataset.json').is_file():
        for workers, n in ((1, 4), (args.workers, total)):  # the rate of one process, then of several
            start = time.perf_counter()
            write_synthetic_dataset(out / f'write-{workers}' if n != total else data, cases=n,
                                    shape=(240, 240, 155), vary_geometry=False, seed=3, workers=workers)
            write_s[workers] = (time.perf_counter() - start) / n
            print(f'writing: {write_s[workers]:.2f} s a case with {workers} worker(s)', flush=True)
        write_file.write_text(json.dumps(write_s))
    saved = out / 'measurements.json'  # with --reuse: the tables of an earlier run into --out, only the rehearsal again
    if args.reuse and saved.is_file():
        rows, crops = (json.loads(saved.read_text())[k] for k in ('rows', 'crops'))
    else: rows, crops = measure_all(args, data, out), run_worker(data, 0, 'crops', out)['crops_per_s']
    saved.write_text(json.dumps({'rows': rows, 'crops': crops}))
    print(f'crops per second on one core: {crops:.2f}', flush=True)
    slope = {}
    for mode in ('memory', 'disk', 'none'):
        pts = sorted((r['cases'], r['peak_rss_gb']) for r in rows if r['mode'] == mode)
        if len(pts) > 1: slope[mode] = (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0]) * 1024
    table = '\n'.join(
        f"| {r['cases']} | {r['mode']} | {r['fill_s']:.0f} s | {r['epoch_s']:.1f} s | "
        f"{r['epoch_s'] / r['cases']:.3f} s | {r['peak_rss_gb']:.2f} GB |" for r in rows)
    slopes = '\n'.join(f"| {m} | {s:.1f} MB |" for m, s in slope.items())
    writes = '\n'.join(f"| {w} | {s:.2f} s |" for w, s in write_s.items())
    text = f"""## The cache at full size

Machine: {machine()}.
Command: `{command_line()}`; synthetic 240x240x155 cases of 1 mm (the Task01 grid), MSD layout, the seed's
training pipeline (crop 224x224x144), no model. `float32 full grid` is the cache as it was before the brain's
box, float16 images and a uint8 label map; each row is its own process.{' With `--reuse`, the tables are those of the previous run into the same folder (same code for the training pipeline); only the rehearsal ran again.' if args.reuse else ''}

| cases | cache | filling it | one epoch after | a case | peak RSS |
|---|---|---|---|---|---|
{table}

The random part of the pipeline (crop 224x224x144, flips, back to float32 and to regions, intensity) on one
core, `torch.set_num_threads(1)`: **{crops:.2f} crops a second**, so a GPU step of t seconds needs
1 / ({crops:.2f} t) cores of data loading when the cache is in host memory.

Peak RSS per additional case (the slope between the smallest and the largest set):

| cache | per case |
|---|---|
{slopes}
"""
    if write_s:
        text += f"""
Writing the synthetic set (`write_synthetic_dataset`, as `brats_synth --workers N` runs it):

| workers | a case |
|---|---|
{writes}
"""
    if args.rehearsal:
        r = rehearsal(linked_dataset(data, out / f'linked-{args.rehearsal}', args.rehearsal), out)
        print(r, flush=True)
        text += f"""
Rehearsal at real size: `brats_train --data-dir <{args.rehearsal} cases ({args.unique} distinct files, linked under
{args.rehearsal} names)> --roi 64 64 64 --init-filters 8
--epochs 1 --overlap 0` with the default `--cache auto`, which printed `{r['cache_line']}`. It ran to the end
in {r['seconds'] / 60:.1f} min with a peak RSS of {r['peak_rss_gb']:.2f} GB.
"""
    write_section('cache_scale', text)


if __name__ == '__main__':
    main()
