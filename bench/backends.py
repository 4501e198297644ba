"""Predict full-size cases with each backend and precision, each in its own process, and from the shell.

    python bench/backends.py --checkpoint runs/synthetic-cpu/best.pt [--cases 3] [--real 3] [--out /tmp/bench-backends]

The checkpoint is exported with `export_model` (13_export) to ONNX, TorchScript and OpenVINO IR, and to an int8
OpenVINO IR (NNCF, calibrated on 3 synthetic cases of another seed, as `brats_export --int8` does by default).
Each setting then runs in a fresh process: one warm-up case, not timed, then every case end to end through
`predict_case` and `write_prediction` (the four NIfTI files read, preprocessed, the window(s) over the brain,
back on the original grid, the label map written), with its peak RSS. Cases: `--cases` synthetic 240x240x155
cases with their ground truth, and the first `--real` real cases of $BRATS_SAMPLE_DATA (or shared/data) if
present, for agreement only (the CPU model never saw a real tumour). Dice is against the ground truth
(synthetic) and against torch fp32's label maps (all cases). Last, `brats_predict` from the shell: `--help`,
and one real case with the checkpoint and with the fastest export. Results: bench/RESULTS.md (backends).
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import command_line, machine, write_section  # noqa: E402

SETTINGS = {  # name: (model file, backend, amp, one window fitted to the brain)
    'torch bf16 (default)': ('model.pt', 'torch', 'auto', False),
    'torch fp32': ('model.pt', 'torch', 'fp32', False),
    'torch bf16, fitted window': ('model.pt', 'torch', 'auto', True),
    'torchscript fp32': ('model.ts', 'torch', 'fp32', False),
    'onnxruntime fp32': ('model.onnx', 'onnxruntime', 'fp32', False),
    'openvino bf16': ('model.xml', 'openvino', 'auto', False),
    'openvino int8': ('int8.xml', 'openvino', 'auto', False),
    'openvino int8, fitted window': ('int8.xml', 'openvino', 'auto', True),
}


def run_one(name: str, out: Path, checkpoint: str, cases: list):
    "In this process: predict every case of `cases` with setting `name`; write times, RSS and label maps."
    from brats_nbdev.core import keep_freed_memory
    from brats_nbdev.data import find_cases
    from brats_nbdev.export import ExportedNetwork
    from brats_nbdev.inference import predict_case
    from brats_nbdev.model import read_checkpoint
    from brats_nbdev.predict import write_prediction
    keep_freed_memory()
    file, backend, amp, fit = SETTINGS[name]
    ckpt = read_checkpoint(checkpoint)
    model = ckpt.network() if file == 'model.pt' else ExportedNetwork(out / file, backend, amp)
    options = dict(amp=amp, pixdim=ckpt.pixdim, divisor=ckpt.divisor, fit_window=fit)
    # synthetic and real cases may share ids (BraTS2021_00000): cases are told apart by their folders
    found = {str(Path(c.images['FLAIR']).parent): c for root in {Path(f).parent for f in cases} for c in find_cases(root)}
    chosen = [found[f] for f in cases]
    predict_case(model, chosen[0].as_dict(), **options)  # warm-up, not timed
    times, folder = [], out / 'labels' / name
    for case in chosen[1:]:
        start = time.perf_counter()
        write_prediction(predict_case(model, case.as_dict(), **options), case, folder / source(case))
        times.append(time.perf_counter() - start)
    (out / 'labels' / f'{name}.json').write_text(json.dumps({'times': times, 'rss': high_water_gb()}))


def high_water_gb() -> float:
    "This process's peak RSS since it started (VmHWM; ru_maxrss would include the parent's, which forked it)."
    kb = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM'))
    return kb / 2**20


def source(case) -> str:
    "The data set a case comes from (the folder above its own): where its predictions are written."
    return Path(case.images['FLAIR']).parent.parent.name


def shell_seconds(args: list, repeats: int = 3) -> float:
    "Median wall-clock seconds of a command, run `repeats` times."
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--checkpoint', required=True)
    ap.add_argument('--cases', type=int, default=3, help='timed synthetic cases (one more is the warm-up)')
    ap.add_argument('--real', type=int, default=3, help='real cases of the sample data to add (0: none)')
    ap.add_argument('--out', default=None)
    ap.add_argument('--one', help=argparse.SUPPRESS)  # internal: run one setting in this process
    ap.add_argument('--case-files', nargs='*', help=argparse.SUPPRESS)
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix='bench-backends-'))
    if args.one: return run_one(args.one, out, args.checkpoint, args.case_files)
    import nibabel as nib, numpy as np
    from brats_nbdev.core import _sample_data_dir
    from brats_nbdev.data import find_cases
    from brats_nbdev.export import export_model
    from brats_nbdev.metrics import region_metrics
    from brats_nbdev.model import read_checkpoint
    from brats_nbdev.synthetic import write_synthetic_dataset
    from brats_nbdev.transforms import labels_to_regions
    data = out / 'data'
    if not (data / 'dataset.json').exists() and not any(data.glob('*/*_flair.nii.gz')):
        write_synthetic_dataset(data, cases=args.cases + 1, shape=(240, 240, 155), layout='brats2021', seed=11,
                                vary_geometry=False, progress=False)
    synthetic = find_cases(data)[:args.cases + 1]
    samples = _sample_data_dir()
    real = find_cases(samples / 'brats-real')[:args.real] if samples and args.real else []
    cases = synthetic + real
    ckpt = read_checkpoint(args.checkpoint)
    (out / 'model.pt').unlink(missing_ok=True); os.symlink(Path(args.checkpoint).resolve(), out / 'model.pt')
    exported = {}
    for file, fmt, int8 in (('model.onnx', 'onnx', False), ('model.ts', 'torchscript', False),
                            ('model.xml', 'openvino', False), ('int8.xml', 'openvino', True)):
        if (out / f'{file}.json').exists(): continue  # exported by an earlier run into --out
        start = time.perf_counter()
        export_model(ckpt, out / file, fmt, int8=int8)
        exported[file] = time.perf_counter() - start
    files = [str(Path(c.images['FLAIR']).parent) for c in cases]  # BraTS layout: a case is its folder
    results = {}
    for name in SETTINGS:
        subprocess.run([sys.executable, __file__, '--checkpoint', args.checkpoint, '--out', str(out), '--one', name,
                        '--case-files', *files], check=True)
        results[name] = json.loads((out / 'labels' / f'{name}.json').read_text())
        print(name, results[name], flush=True)
    scored = cases[1:]
    label = lambda name, c: np.asarray(nib.load(out / 'labels' / name / source(c) / f'{c.id}.nii.gz').dataobj)
    regions = lambda name, c: labels_to_regions(label(name, c), c.convention)
    truth = {c.label: labels_to_regions(np.asarray(nib.load(c.label).dataobj), c.convention) for c in scored}
    synthetic_ids = {c.label for c in synthetic[1:]}  # a case's label file names it uniquely
    rows = []
    for name, r in results.items():
        dice = np.array([[region_metrics(regions(name, c)[i], truth[c.label][i])['dice'] for i in range(3)]
                         for c in scored if c.label in synthetic_ids])
        ref = [region_metrics(regions(name, c)[i], regions('torch fp32', c)[i])['dice'] for c in scored for i in range(3)]
        fp32 = np.array([[region_metrics(regions('torch fp32', c)[i], truth[c.label][i])['dice'] for i in range(3)]
                         for c in scored if c.label in synthetic_ids])
        synth_t = [t for t, c in zip(r['times'], scored) if c.label in synthetic_ids]
        real_t = [t for t, c in zip(r['times'], scored) if c.label not in synthetic_ids]
        real_s = f'{np.mean(real_t):.2f} s' if real_t else 'n/a'
        rows.append(f"| {name} | {np.mean(synth_t):.2f} s | {real_s} | {r['rss']:.2f} GB | "
                    + ' / '.join(f'{d:.3f}' for d in dice.mean(0))
                    + f" | {abs(dice.mean() - fp32.mean()):.4f} | {min(ref):.4f} |")
    fastest = min((n for n in SETTINGS if SETTINGS[n][0] != 'model.pt'), key=lambda n: np.mean(results[n]['times']))
    one = Path((real or synthetic)[-1].images['FLAIR']).parent
    script = str(Path(sys.executable).parent / 'brats_predict')
    fastest_file, fastest_backend, _, fastest_fit = SETTINGS[fastest]
    roi = ['--roi', '224', '224', '144']  # the window the warm-process runs use (not this checkpoint's 64^3 crops)
    shell = {
        'brats_predict --help': shell_seconds([script, '--help']),
        'brats_predict best.pt CASE OUT (default)': shell_seconds([script, args.checkpoint, str(one), str(out / 'shell'),
                                                                   *roi]),
        f'brats_predict {fastest_file} CASE OUT{" --fit-window" if fastest_fit else ""} ({fastest})': shell_seconds(
            [script, str(out / fastest_file), str(one), str(out / 'shell'), '--backend', fastest_backend, *roi]
            + (['--fit-window'] if fastest_fit else [])),
    }
    shell_rows = '\n'.join(f'| `{k}` | {v:.2f} s |' for k, v in shell.items())
    text = f"""## Backends and precisions for one full case

Machine: {machine()}.
Command: `{command_line()}`; each setting in its own process: one warm-up case, then {len(synthetic) - 1} synthetic
240x240x155 cases (BraTS 2021 layout, seed 11) and {len(real)} real BraTS cases, end to end (read, preprocess, the
window(s) over the brain, back to the original grid, written). The real cases are timed and compared with torch
fp32 only: this CPU model, trained on synthetic phantoms, does not segment real tumours (section "Real tumours").
Exports took {', '.join(f'{k} {v:.0f} s' for k, v in exported.items()) or 'no time: reused from --out'} (int8: NNCF on 3 synthetic calibration cases).

| setting | synthetic case | real case | peak RSS | Dice TC / WT / ET vs ground truth (synthetic) | mean Dice vs fp32's, difference | lowest region Dice vs torch fp32 (all cases) |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

From the shell, one real case ({one.name}), median of 3 runs (every run imports torch and MONAI afresh):

| command | seconds |
|---|---|
{shell_rows}
"""
    print(text)
    write_section('backends', text)


if __name__ == '__main__':
    main()
