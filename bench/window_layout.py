"""One whole-volume window against the seed's 8 windows, for a model trained the seed's way.

    python bench/window_layout.py [--out /tmp/bench-window] [--cases 24] [--epochs 30] [--held-out 8]

The seed trains on 224x224x144 crops of 240x240x155 volumes, so every window it learns from covers 87 % of a
case, and it predicts with 8 such windows (overlap 0.5). SegResNet's GroupNorm normalises over what one
window shows, so one whole-volume window and 8 overlapping ones cannot agree to the last voxel; how far apart
they are depends on what the model saw in training. `predict_cpu.py` measures it with the CPU preset's model,
which learnt from whole 64 mm phantoms, a regime unlike both layouts.

A 2-core CPU cannot train at the seed's size, so this script keeps the seed's geometry and halves the
resolution: full-size (240x240x155 mm) synthetic cases resampled to 2 mm (120x120x78 voxels), trained on
112x112x72 crops (the seed's roi halved; batch 1, bf16, lr 1e-3 with cosine annealing, memory cache), then
scored on held-out cases (another seed) with
- brain window: one 112x112x72 window over the brain's bounding box (`brats_predict`'s default layout);
- fitted window: one window of the brain's own box, rounded up to 8 (`--fit-window`);
- volume window: one window of the whole volume padded to 120x120x80 (the previous default);
- seed windows: roi 112x112x72 over the whole volume, overlap 0.5, Gaussian blending (8 windows: the seed's layout);
- seed windows fp32: the same in fp32 (the seed's precision too).
All but the last in bf16. Dice is computed on the 2 mm grid against the resampled ground truth. A finished
training run in --out is reused (delete runs/ to train again). Results: bench/RESULTS.md (window_layout).
"""
import argparse, json, os, sys, tempfile, time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import command_line, machine, peak_rss_gb, write_section
from brats_nbdev.data import REGIONS, find_cases
from brats_nbdev.core import keep_freed_memory
from brats_nbdev.inference import brain_window, predict_probabilities
from brats_nbdev.metrics import region_metrics
from brats_nbdev.model import load_model
from brats_nbdev.synthetic import write_synthetic_dataset
from brats_nbdev.train import default_config, read_metrics, train
import torch
from monai.transforms import Compose
from brats_nbdev.transforms import load_transforms, make_dataset, make_loader, preprocess_transforms, unpack_transforms

PIXDIM, ROI = (2.0, 2.0, 2.0), (112, 112, 72)
SETTINGS = {'brain window': dict(roi=ROI), 'fitted window': dict(roi=ROI, fit_window=True),
            'volume window': dict(roi=(120, 120, 80), overlap=0, crop_to_brain=False),
            'seed windows': dict(roi=ROI, overlap=0.5, crop_to_brain=False),
            'seed windows fp32': dict(roi=ROI, overlap=0.5, crop_to_brain=False, amp='fp32')}


def score_layouts(checkpoint, folder: Path) -> dict:
    "Per setting: a list of (Dice per region, model seconds) over the cases in `folder`; and the cases without ET."
    model, results, no_et, shares = load_model(checkpoint).eval(), {s: [] for s in SETTINGS}, [], []
    items = [c.as_dict() for c in find_cases(folder)]
    # the whole volume, as brats_predict preprocesses it (validation crops to the brain's box: not here)
    whole = Compose(load_transforms() + preprocess_transforms(True, PIXDIM, crop_to_brain=False, image_dtype=torch.float32)
                    + unpack_transforms())
    for batch in make_loader(make_dataset(items, whole, cache='none')):
        truth = batch['label'][0].numpy().astype(bool)
        no_et.append(not truth[2].any())
        shares.append(np.prod(brain_window(batch['image'], ROI, fit=True)[1]) / np.prod(ROI))
        for name, kw in SETTINGS.items():
            start = time.perf_counter()
            probs = predict_probabilities(model, batch['image'], **kw)[0][0].numpy()
            seconds = time.perf_counter() - start
            dice = {r: region_metrics(probs[i] > 0.5, truth[i])['dice'] for i, r in enumerate(REGIONS)}
            results[name].append((dice, seconds))
    return results, no_et, shares


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=None, help='folder for the data and the run (default: a temporary folder)')
    ap.add_argument('--cases', type=int, default=24, help='synthetic training + validation cases')
    ap.add_argument('--epochs', type=int, default=30)
    ap.add_argument('--held-out', type=int, default=8, help='cases of another seed to compare the layouts on')
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix='bench-window-'))
    os.environ.setdefault('BRATS_NBDEV_CACHE', str(out / 'cache'))
    keep_freed_memory()
    kept = lambda folder, n: (folder / 'dataset.json').exists() and json.loads((folder / 'dataset.json').read_text())['numTraining'] == n
    written = lambda folder, n, seed: (folder if kept(folder, n) else  # same seed, same bytes: a finished set is kept
                                       write_synthetic_dataset(folder, cases=n, shape=(240, 240, 155), seed=seed, progress=False))
    data, held_out = written(out / 'data', args.cases, 0), written(out / 'held-out', args.held_out, 1000)
    c = default_config(False, data_dir=str(data), out_dir=str(out / 'runs'), name='half-scale-seed', roi=ROI,
                       pixdim=PIXDIM, lr=1e-3, epochs=args.epochs, val_every=5, wandb='disabled', progress=False)
    checkpoint = Path(c.out_dir) / c.name / 'best.pt'
    if not checkpoint.exists(): train(c)
    rows = read_metrics(checkpoint.parent / 'metrics.csv')
    train_s, best = sum(r['seconds'] for r in rows), max((r for r in rows if r['val_cases'] > 0), key=lambda r: r['dice_mean'])
    results, no_et, fitted_shares = score_layouts(checkpoint, held_out)
    mean = lambda s, r: float(np.nanmean([d[r] for d, _ in results[s]]))
    table = '\n'.join(f"| {s} | {np.mean([t for _, t in results[s]]):.2f} s | "
                     + ' / '.join(f"{mean(s, r):.3f}" for r in REGIONS) + f" | {np.mean([mean(s, r) for r in REGIONS]):.3f} |"
                     for s in SETTINGS)
    gap = lambda a, b: max(abs(mean(a, r) - mean(b, r)) for r in REGIONS)
    case_gap = lambda a, b: max(abs(x[r] - y[r]) for (x, _), (y, _) in zip(results[a], results[b]) for r in REGIONS
                                if not (np.isnan(x[r]) or np.isnan(y[r])))
    fitted_share = float(np.mean(fitted_shares))
    no_et_scores = ', '.join(f"{s} {np.mean([d['ET'] for (d, _), e in zip(results[s], no_et) if e]):.2f}" for s in SETTINGS) if any(no_et) else 'n/a'
    text = f"""## Window layout, for a model trained the seed's way (half resolution)

Machine: {machine()}.
Command: `{command_line()}`; {args.cases} synthetic 240x240x155 mm cases resampled to 2 mm (120x120x78 voxels),
trained on 112x112x72 crops (the seed's 224x224x144 halved), {len(rows)} epochs, lr 1e-3, bf16: {train_s:.0f} s (training and
validation, metrics.csv); best
validation mean Dice {best['dice_mean']:.3f} (epoch {int(best['epoch'])}). Compared on {args.held_out} held-out cases (seed 1000).

| setting | model time per case | Dice TC / WT / ET | mean |
|---|---|---|---|
{table}

| Dice compared | largest difference of a region's mean | largest difference in one case |
|---|---|---|
| brain window vs seed windows fp32 (everything) | {gap('brain window', 'seed windows fp32'):.4f} | {case_gap('brain window', 'seed windows fp32'):.4f} |
| brain window vs seed windows (window layout, bf16) | {gap('brain window', 'seed windows'):.4f} | {case_gap('brain window', 'seed windows'):.4f} |
| fitted window vs brain window (fitting the window to the brain, bf16) | {gap('fitted window', 'brain window'):.4f} | {case_gap('fitted window', 'brain window'):.4f} |
| fitted window vs seed windows (window layout, bf16) | {gap('fitted window', 'seed windows'):.4f} | {case_gap('fitted window', 'seed windows'):.4f} |
| volume window vs seed windows (window layout, bf16) | {gap('volume window', 'seed windows'):.4f} | {case_gap('volume window', 'seed windows'):.4f} |
| seed windows vs seed windows fp32 (precision) | {gap('seed windows', 'seed windows fp32'):.4f} | {case_gap('seed windows', 'seed windows fp32'):.4f} |

Each roi window covers 87 % of a case along x and y and 92 % along z, as the seed's do at 1 mm; the brain
window is one of them, centred on the brain; the fitted window is the brain's box itself, {fitted_share:.0%} of
the roi's voxels on average; the volume window sees the whole 120x120x80 padded volume. Peak RSS {peak_rss_gb():.2f} GB.
{sum(no_et)} of the {args.held_out} held-out cases have no enhancing tumour; such a case scores ET Dice 1 only if no ET voxel
is predicted, else 0. Their mean ET Dice per setting: {no_et_scores}.
"""
    print(text)
    write_section('window_layout', text)


if __name__ == '__main__':
    main()
