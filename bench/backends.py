"""Predict full 240x240x155 cases with each backend: PyTorch (bf16 and fp32), ONNX Runtime and TorchScript.

    python bench/backends.py --checkpoint runs/synthetic-cpu/best.pt [--cases 3] [--out /tmp/bench-backends]

The checkpoint is exported with `export_model` (12_export) to ONNX and TorchScript; then, in one warm process
(each backend first predicts one case that is not timed), every case goes end to end through `predict_case`
and `write_prediction`: the four NIfTI files read, preprocessed, one 224x224x144 window over the brain, back on
the original grid, the label map written. Dice is against the synthetic ground truth and against PyTorch fp32's
label maps. Results go to bench/RESULTS.md (section backends).
"""
import argparse, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import command_line, machine, write_section  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--checkpoint', required=True)
    ap.add_argument('--cases', type=int, default=3)
    ap.add_argument('--out', default=None)
    args = ap.parse_args()
    import nibabel as nib, numpy as np
    from brats_nbdev.core import keep_freed_memory
    from brats_nbdev.data import REGIONS, find_cases
    from brats_nbdev.export import ExportedNetwork, export_model
    from brats_nbdev.inference import predict_case
    from brats_nbdev.metrics import region_metrics
    from brats_nbdev.model import read_checkpoint
    from brats_nbdev.predict import write_prediction
    from brats_nbdev.synthetic import write_synthetic_dataset
    from brats_nbdev.transforms import labels_to_regions
    keep_freed_memory()
    out = Path(args.out or tempfile.mkdtemp(prefix='bench-backends-'))
    data = write_synthetic_dataset(out / 'data', cases=args.cases + 1, shape=(240, 240, 155), layout='brats2021',
                                   seed=11, vary_geometry=False, progress=False)
    cases = find_cases(data)
    ckpt = read_checkpoint(args.checkpoint)
    backends = {'torch bf16 (default)': (ckpt.network(), 'auto'), 'torch fp32': (ckpt.network(), 'fp32'),
                'onnxruntime fp32': (ExportedNetwork(export_model(ckpt, out / 'model.onnx', 'onnx')), 'fp32'),
                'torchscript fp32': (ExportedNetwork(export_model(ckpt, out / 'model.ts', 'torchscript')), 'fp32')}
    results, labels = {}, {}
    for name, (model, amp) in backends.items():
        options = dict(amp=amp, pixdim=ckpt.pixdim, divisor=ckpt.divisor)
        predict_case(model, cases[0].as_dict(), **options)  # warm-up, not timed
        times, dice, maps = [], [], []
        for case in cases[1:]:
            start = time.perf_counter()
            pred = predict_case(model, case.as_dict(), **options)
            write_prediction(pred, case, out / name.split()[0] / name.split()[1])
            times.append(time.perf_counter() - start)
            truth = labels_to_regions(np.asarray(nib.load(case.label).dataobj), case.convention)
            dice.append([region_metrics(pred['regions'][i], truth[i])['dice'] for i in range(3)])
            maps.append(pred['regions'])
        results[name], labels[name] = (np.mean(times), np.mean(dice, 0)), maps
        print(name, results[name], flush=True)
    ref = labels['torch fp32']
    agree = lambda name: min(region_metrics(a[i], b[i])['dice'] for a, b in zip(labels[name], ref) for i in range(3))
    rows = '\n'.join(f"| {n} | {t:.2f} s | " + ' / '.join(f'{d:.3f}' for d in dice) + f" | {agree(n):.4f} |"
                     for n, (t, dice) in results.items())
    text = f"""## Backends for one full case (warm process)

Machine: {machine()}.
Command: `{command_line()}`; {args.cases} synthetic 240x240x155 cases timed after one warm-up case, end to end
(read, preprocess, one 224x224x144 window over the brain, back to the original grid, written).

| backend | whole case | Dice TC / WT / ET vs ground truth | lowest region Dice vs torch fp32 |
|---|---|---|---|
{rows}
"""
    print(text)
    write_section('backends', text)


if __name__ == '__main__':
    main()
