"""GPU figures: training throughput and one epoch at the seed's settings, with the data cached in CPU memory
and on the GPU, and predict time per case end to end.

    python bench/gpu.py [--cases 388] [--val-cases 96] [--unique 24] [--out /tmp/bench-gpu]
    python bench/gpu.py --smoke        # on any machine: tiny sizes, checks that every path runs

There is no data set on the GPU machines either: `--unique` full-size synthetic cases (240x240x155, MSD
layout, RAS/LPS at 1 mm and 1.2x1.2x1.5 mm) are written once and repeated to make `--cases` training and
`--val-cases` validation items. Each item is loaded, resampled and cached on its own, as distinct cases
would be, so loading and caching cost what they would on the real data set (the network sees repeats, which
does not change its speed). Each measurement runs in its own process:

- `cpu-cache`: the seed's recipe as `brats_train` runs it: `CacheDataset` in CPU memory, a `DataLoader` with
  worker processes, roi 224x224x144, batch 1, AMP (`auto`: bf16 where the GPU has it), then validation with
  sliding windows (roi 224x224x144, overlap 0.5) over the validation items, as the MONAI tutorial does.
- `gpu-cache`: the same epoch with the whole data set cached on the GPU (MONAI's fast-training recipe:
  `ToDeviced` at the end of the cached part, `ThreadDataLoader` with no workers, random crops, flips and
  intensity changes on the GPU). The cache is what `brats_train` caches: each case's brain box, float16
  images and one uint8 label map, about 30 MB a full-size case, so 388 cases take about 12 GB of GPU memory.
- `predict`: `brats_predict`'s path per case (load the NIfTI files, preprocess, infer, back to the original
  grid, write the label map), with the default (one roi window over the brain) and the tutorial's inference (roi 224x224x144,
  overlap 0.5, AMP).

Peak GPU memory is `torch.cuda.max_memory_allocated`. Results go to bench/RESULTS.md (section gpu) when run
on a GPU; `--smoke` prints them only.
"""
import argparse, itertools, json, statistics, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import peak_rss_gb  # noqa: E402

SEED_ROI = (224, 224, 144)


def sync(device):
    import torch
    if device.type == 'cuda': torch.cuda.synchronize()


def peak_gpu_gb(device) -> float:
    import torch
    return torch.cuda.max_memory_allocated() / 2**30 if device.type == 'cuda' else 0.0


def items_for(data: Path, n_train: int, n_val: int) -> tuple[list, list]:
    "Training and validation items cycling through the unique cases (each item its own dict)."
    from brats_nbdev.data import find_cases
    unique = [c.as_dict() for c in find_cases(data)]
    cycle = itertools.cycle(unique)
    take = lambda n: [{**next(cycle), 'id': f'item_{i:03d}'} for i in range(n)]
    return take(n_train), take(n_val)


def epoch(mode: str, data: Path, n_train: int, n_val: int, roi, workers: int) -> dict:
    "One epoch (training over n_train items, then validation over n_val) with the data cached in `mode`."
    import torch
    from monai.data import CacheDataset, ThreadDataLoader
    from monai.transforms import Compose, ToDeviced
    from brats_nbdev.core import keep_freed_memory, resolve_amp
    from brats_nbdev.model import build_model
    from brats_nbdev.train import dice_loss, train_step, validate
    from brats_nbdev.transforms import (augment_transforms, load_transforms, make_dataset, make_loader,
                                        preprocess_transforms, train_transforms, unpack_transforms,
                                        val_transforms)
    keep_freed_memory()
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    train_items, val_items = items_for(data, n_train, n_val)
    start = time.perf_counter()
    if mode == 'gpu-cache':
        to_gpu = [ToDeviced(['image', 'label'], device)]  # the cached part: float16 brain boxes, uint8 label maps
        train_tf = Compose(load_transforms() + preprocess_transforms() + to_gpu + augment_transforms(roi))
        train_ds = CacheDataset(train_items, train_tf, num_workers=workers, copy_cache=False, progress=False)
        val_ds = CacheDataset(val_items, Compose(load_transforms() + preprocess_transforms() + to_gpu
                                                 + unpack_transforms()),
                              num_workers=workers, copy_cache=False, progress=False)
        train_loader = ThreadDataLoader(train_ds, batch_size=1, shuffle=True, num_workers=0)
        val_loader = ThreadDataLoader(val_ds, batch_size=1, num_workers=0)
    else:
        train_ds = make_dataset(train_items, train_transforms(roi), 'memory', num_workers=workers)
        val_ds = make_dataset(val_items, val_transforms(), 'memory', num_workers=workers)
        train_loader = make_loader(train_ds, shuffle=True, num_workers=min(workers, 8), pin_memory=device.type == 'cuda')
        val_loader = make_loader(val_ds, num_workers=min(workers, 4))
    fill_s = time.perf_counter() - start
    model = build_model().to(device)
    amp = resolve_amp('auto', device)
    opt, loss_fn = torch.optim.Adam(model.parameters(), 1e-4, weight_decay=1e-5), dice_loss()
    scaler = torch.amp.GradScaler(device.type, enabled=amp == 'fp16')
    if device.type == 'cuda': torch.cuda.reset_peak_memory_stats()
    step_times = []
    sync(device); start = time.perf_counter(); last = start
    for batch in train_loader:
        train_step(model, batch, opt, loss_fn, scaler, device, amp)
        sync(device); now = time.perf_counter(); step_times.append(now - last); last = now
    train_s = last - start
    start = time.perf_counter()
    scores = validate(model, val_loader, device, amp, roi, overlap=0.5)
    sync(device); val_s = time.perf_counter() - start
    steady = step_times[len(step_times) // 4:] or step_times  # after the first quarter (cuDNN autotuning, warm caches)
    return {'fill_s': fill_s, 'train_s': train_s, 'val_s': val_s, 'steps_per_s': 1 / statistics.median(steady),
            'amp': amp, 'val_cases': scores['cases'], 'peak_gpu_gb': peak_gpu_gb(device),
            'peak_rss_gb': peak_rss_gb()}


def predict(data: Path, n: int, setting: str, out: Path) -> dict:
    "Seconds per case of brats_predict's path (after one warm-up case), and peak GPU memory."
    import torch
    from brats_nbdev.data import find_cases
    from brats_nbdev.core import keep_freed_memory
    from brats_nbdev.inference import predict_case
    from brats_nbdev.model import build_model
    from brats_nbdev.predict import write_prediction
    keep_freed_memory()
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    model = build_model().to(device).eval()  # speed does not depend on the weights
    cases = list(itertools.islice(itertools.cycle(find_cases(data)), n + 1))
    options = {} if setting == 'default' else {'crop_to_brain': False, 'roi': SEED_ROI, 'overlap': 0.5, 'mode': 'constant'}
    times = []
    for case in cases:
        sync(device); start = time.perf_counter()
        write_prediction(predict_case(model, case.as_dict(), **options), case, out / setting)
        sync(device); times.append(time.perf_counter() - start)
    return {'per_case_s': statistics.mean(times[1:]), 'cases': n, 'peak_gpu_gb': peak_gpu_gb(device),
            'peak_rss_gb': peak_rss_gb()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--cases', type=int, default=388, help='training items in the epoch')
    ap.add_argument('--val-cases', type=int, default=96, help='validation items')
    ap.add_argument('--unique', type=int, default=24, help='distinct synthetic cases to write')
    ap.add_argument('--predict-cases', type=int, default=10)
    ap.add_argument('--workers', type=int, default=None, help='caching and loader workers (default: CPU cores)')
    ap.add_argument('--out', default=None)
    ap.add_argument('--smoke', action='store_true', help='tiny sizes on any machine; prints, writes no results')
    ap.add_argument('--worker', nargs='+', help=argparse.SUPPRESS)
    args = ap.parse_args()
    import os
    workers = args.workers or os.cpu_count()
    shape, roi = ((64, 64, 48), (32, 32, 32)) if args.smoke else ((240, 240, 155), SEED_ROI)
    if args.smoke: args.cases, args.val_cases, args.unique, args.predict_cases = 4, 2, 2, 2
    out = Path(args.out or tempfile.mkdtemp(prefix='bench-gpu-'))
    if args.worker:
        kind, *rest = args.worker
        if kind == 'predict': res = predict(out / 'data', args.predict_cases, rest[0], out / 'predictions')
        else: res = epoch(kind, out / 'data', args.cases, args.val_cases, roi, workers)
        print(json.dumps(res)); return
    from common import command_line, machine, write_section
    from brats_nbdev.synthetic import write_synthetic_dataset
    if not (out / 'data' / 'dataset.json').exists():
        write_synthetic_dataset(out / 'data', cases=args.unique, shape=shape, layout='msd', seed=7, progress=False)
    passed = [str(a) for a in ('--cases', args.cases, '--val-cases', args.val_cases, '--predict-cases', args.predict_cases,
                               '--workers', workers, '--out', out)] + (['--smoke'] if args.smoke else [])
    results = {}
    for job in (['cpu-cache'], ['gpu-cache'], ['predict', 'default'], ['predict', 'seed']):
        res = subprocess.run([sys.executable, __file__, *passed, '--worker', *job], capture_output=True, text=True)
        if res.returncode: sys.exit(f"{job}: {res.stderr[-3000:]}")
        results[' '.join(job)] = json.loads(res.stdout.strip().splitlines()[-1]); print(job, results[' '.join(job)], flush=True)
    c, g, pd, ps = (results[k] for k in ('cpu-cache', 'gpu-cache', 'predict default', 'predict seed'))
    row = lambda name, r: (f"| {name} | {r['fill_s']:.0f} s | {r['steps_per_s']:.2f} | {r['train_s']:.0f} s | {r['val_s']:.0f} s | "
                           f"{r['train_s'] + r['val_s']:.0f} s | {r['peak_gpu_gb']:.1f} GB | {r['peak_rss_gb']:.1f} GB |")
    text = f"""## On a GPU

Machine: {machine()}.
Command: `{command_line()}`; {args.cases} training and {args.val_cases} validation items cycling through {args.unique}
synthetic {'x'.join(map(str, shape))} cases (MSD layout), roi {'x'.join(map(str, roi))}, batch 1, AMP {c['amp']}, SegResNet (seed configuration).

| data cached | building the cache | training steps/s (median) | training epoch | validation | epoch | peak GPU memory | peak RSS |
|---|---|---|---|---|---|---|---|
{row('CPU memory (`CacheDataset`, `DataLoader` workers)', c)}
{row('GPU (`CacheDataset` + `ToDeviced`, `ThreadDataLoader`)', g)}

| predict, end to end per case (mean of {pd['cases']} after a warm-up) | seconds | peak GPU memory |
|---|---|---|
| default (one roi window over the brain, AMP) | {pd['per_case_s']:.3f} s | {pd['peak_gpu_gb']:.1f} GB |
| tutorial (roi 224x224x144, overlap 0.5, AMP) | {ps['per_case_s']:.3f} s | {ps['peak_gpu_gb']:.1f} GB |

Anchors: the MONAI tutorial, about 300 s per epoch including validation; MONAI's model zoo, 435 ms per case end to end
on an A100 with AMP. Targets: <= 60 s per epoch and <= 300 ms per case on one H100.
"""
    print(text)
    import torch
    if torch.cuda.is_available() and not args.smoke: write_section('gpu', text)


if __name__ == '__main__':
    main()
