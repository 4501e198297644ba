"""Predict one full 240x240x155 case on CPU: the project's default against the seed's inference settings.

    python bench/predict_cpu.py --checkpoint runs/synthetic-cpu/best.pt [--cases 4] [--out /tmp/bench-predict]

Every setting runs end to end (load the four NIfTI files -> RAS, 1 mm, normalise -> infer -> back to the
original grid -> label map written), each case in its own process so that peak memory (RSS) is that
setting's own:
- default: one 224x224x144 window over the brain's bounding box (zero outside), bf16 autocast where the CPU
  supports it, inference_mode, channels-last 3D, glibc malloc keeping freed blocks; what `brats_predict` does.
- default-fp32: the same in fp32 (separates precision from window layout).
- volume-window-bf16: one window of the whole volume padded to 240x240x160 (the previous default), bf16.
- seed-windows-bf16: the seed's 8 windows over the whole volume with the default's precision and settings.
- seed: the MONAI tutorial's inference: roi 224x224x144, overlap 0.5 (8 windows), fp32, torch.no_grad.
The model's share of the time is measured separately. Dice (TC, WT, ET) against the synthetic ground truth
shows whether the fast path changes the answer. Results go to bench/RESULTS.md (section predict_cpu).
"""
import argparse, json, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import peak_rss_gb  # noqa: E402


def run_one(checkpoint: str, case_dir: str, out_dir: str, setting: str) -> dict:
    "Predict one case with one setting; in a fresh process (called through --worker)."
    import nibabel as nib, numpy as np, torch
    from monai.data import MetaTensor
    from monai.inferers import sliding_window_inference
    from brats_nbdev.data import find_cases, REGIONS
    from brats_nbdev.inference import predict_probabilities
    from brats_nbdev.metrics import region_metrics
    from brats_nbdev.model import load_model
    from brats_nbdev.predict import write_prediction
    from brats_nbdev.transforms import infer_transforms, invert_transforms, labels_to_regions, regions_to_labels
    from brats_nbdev.core import keep_freed_memory
    if setting != 'seed': keep_freed_memory()  # as brats_predict does; the tutorial's code does not
    start = time.perf_counter()
    (case,) = find_cases(case_dir)
    model = load_model(checkpoint).eval()
    pre = infer_transforms()
    data = pre({k: v for k, v in case.as_dict().items() if k != 'label'})
    x = data['image'][None]
    t0 = time.perf_counter()
    if setting == 'default': probs = predict_probabilities(model, x)[0][0]
    elif setting == 'default-fp32': probs = predict_probabilities(model, x, amp='fp32')[0][0]
    elif setting == 'volume-window-bf16':
        padded = tuple(-(-n // 8) * 8 for n in x.shape[2:])
        probs = predict_probabilities(model, x, roi=padded, overlap=0, crop_to_brain=False)[0][0]
    elif setting == 'seed-windows-bf16': probs = predict_probabilities(model, x, crop_to_brain=False)[0][0]
    else:
        with torch.no_grad(): probs = sliding_window_inference(x, (224, 224, 144), 1, model, overlap=0.5).sigmoid()[0]
    model_s = time.perf_counter() - t0
    data['pred'] = MetaTensor(probs.float(), meta=data['image'].meta, applied_operations=data['image'].applied_operations)
    regions = np.asarray(invert_transforms(pre, nearest=False)(data)['pred']) > 0.5
    write_prediction({'labels': regions_to_labels(regions, case.convention)}, case, out_dir)
    total = time.perf_counter() - start
    truth = labels_to_regions(np.asarray(nib.load(case.label).dataobj), case.convention)
    dice = {r: region_metrics(regions[i], truth[i])['dice'] for i, r in enumerate(REGIONS)}
    return {'total_s': total, 'model_s': model_s, 'peak_rss_gb': peak_rss_gb(), 'dice': dice}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--checkpoint', required=True)
    ap.add_argument('--cases', type=int, default=4)
    ap.add_argument('--out', default=None)
    ap.add_argument('--worker', nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(run_one(args.checkpoint, *args.worker))); return
    from common import command_line, machine, write_section
    from brats_nbdev.synthetic import write_synthetic_dataset
    out = Path(args.out or tempfile.mkdtemp(prefix='bench-predict-'))
    data = write_synthetic_dataset(out / 'data', cases=args.cases, shape=(240, 240, 155), layout='brats2021', seed=7,
                                   vary_geometry=False, progress=False)
    results = {'default': [], 'default-fp32': [], 'volume-window-bf16': [], 'seed-windows-bf16': [], 'seed': []}
    for case_dir in sorted(p for p in data.iterdir() if p.is_dir()):
        for setting in results:
            res = subprocess.run([sys.executable, __file__, '--checkpoint', args.checkpoint, '--worker', str(case_dir),
                                  str(out / setting), setting], capture_output=True, text=True)
            if res.returncode: sys.exit(res.stderr[-2000:])
            results[setting].append(json.loads(res.stdout.strip().splitlines()[-1]))
            print(setting, case_dir.name, results[setting][-1], flush=True)
    mean = lambda s, k: sum(r[k] for r in results[s]) / len(results[s])
    dice = lambda s, reg: sum(r['dice'][reg] for r in results[s]) / len(results[s])
    rows = '\n'.join(f"| {s} | {mean(s, 'total_s'):.1f} s | {mean(s, 'model_s'):.1f} s | {max(r['peak_rss_gb'] for r in results[s]):.2f} GB | "
                     + ' / '.join(f"{dice(s, r):.3f}" for r in ('TC', 'WT', 'ET')) + ' |' for s in results)
    gap = lambda a, b: max(abs(dice(a, r) - dice(b, r)) for r in ('TC', 'WT', 'ET'))
    case_gap = lambda a, b: max(abs(x['dice'][r] - y['dice'][r]) for x, y in zip(results[a], results[b]) for r in ('TC', 'WT', 'ET'))
    text = f"""## Predicting one full case on CPU

Machine: {machine()}.
Command: `{command_line()}`; {args.cases} synthetic 240x240x155 cases (BraTS 2018-2021 layout, 1 mm), each setting in
its own process; times are means over the cases, end to end from the NIfTI files to the written label map.

| setting | whole case | model only | peak RSS | Dice TC / WT / ET |
|---|---|---|---|---|
{rows}

default: one 224x224x144 window over the brain's bounding box, bf16 autocast, inference_mode, channels-last 3D,
glibc malloc keeping freed blocks (`brats_predict`'s defaults).
default-fp32: the same in fp32.
volume-window-bf16: one window of the whole volume (240x240x160, the previous default), bf16.
seed-windows-bf16: the seed's 8 windows with the default's bf16, inference_mode and channels-last.
seed: roi 224x224x144, overlap 0.5 (8 windows), fp32, no_grad (the MONAI tutorial).
Speed-up of the whole case: {mean('seed', 'total_s') / mean('default', 'total_s'):.1f}x.

| Dice compared | largest difference of a region's mean | largest difference in one case |
|---|---|---|
| default vs seed (everything) | {gap('default', 'seed'):.4f} | {case_gap('default', 'seed'):.4f} |
| default vs default-fp32 (precision, one window) | {gap('default', 'default-fp32'):.4f} | {case_gap('default', 'default-fp32'):.4f} |
| seed-windows-bf16 vs seed (precision, 8 windows) | {gap('seed-windows-bf16', 'seed'):.4f} | {case_gap('seed-windows-bf16', 'seed'):.4f} |
| default vs seed-windows-bf16 (window layout: brain window) | {gap('default', 'seed-windows-bf16'):.4f} | {case_gap('default', 'seed-windows-bf16'):.4f} |
| volume-window-bf16 vs seed-windows-bf16 (window layout: whole volume) | {gap('volume-window-bf16', 'seed-windows-bf16'):.4f} | {case_gap('volume-window-bf16', 'seed-windows-bf16'):.4f} |
"""
    print(text)
    write_section('predict_cpu', text)


if __name__ == '__main__':
    main()
