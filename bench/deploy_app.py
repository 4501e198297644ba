"""The MONAI Deploy application (15_deploy_app) against `brats_predict` on the same DICOM study: time and memory.

    python bench/deploy_app.py [--checkpoint runs/default/best.pt] [--out /tmp/bench-deploy-app] [--repeats 2]

The study: `write_study` (12_clinical) of the first real BraTS 2017-2021 case under $BRATS_SAMPLE_DATA (seed 0,
the project's clinical protocol, with its localiser, ADC, 2D T1Gd and subtraction beside the four sequences).
`brats_export CHECKPOINT APP --format monai-deploy` writes the application; then, alternating, `python APP -i STUDY
-o OUT` and `brats_predict CHECKPOINT STUDY OUT`, each in its own process: wall time (the SDK's start-up included)
and peak RSS of that process. Once more each with one ITK thread, to check that the label maps are equal voxel for
voxel. Without --checkpoint, an untrained network of the CPU default's architecture and 2 mm grid is timed (the
weights do not change the time). Results: bench/RESULTS.md (deploy_app).
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import command_line, machine, timed, write_section  # noqa: E402
from real_cases import link_real_cases, script  # noqa: E402


def labels(out: Path) -> tuple:
    import nibabel as nib
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    report = json.loads((folder / 'report.json').read_text())
    return np.asarray(nib.load(folder / f'{folder.name}.nii.gz').dataobj), report['seconds']


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--checkpoint', default=None, help="the model (default: an untrained CPU-default network)")
    ap.add_argument('--out', default=None, help='working folder (default: a temporary folder)')
    ap.add_argument('--repeats', type=int, default=2)
    args = ap.parse_args()
    from brats_nbdev.clinical import write_study
    from brats_nbdev.core import _sample_data_dir
    from brats_nbdev.data import find_cases
    from brats_nbdev.model import build_model, save_checkpoint
    samples = _sample_data_dir()
    if samples is None: sys.exit('bench/deploy_app.py: no sample data ($BRATS_SAMPLE_DATA or shared/data)')
    work = Path(args.out or tempfile.mkdtemp(prefix='bench-deploy-app-')); work.mkdir(parents=True, exist_ok=True)
    case = find_cases(link_real_cases(samples, work / 'real'))[0]
    study = work / 'study'
    if not (study / 'truth.json').exists(): write_study(case, study, seed=0)
    checkpoint = args.checkpoint
    if checkpoint is None:
        import torch
        torch.manual_seed(0)
        checkpoint = save_checkpoint(build_model(), work / 'untrained.pt', config={}, train_config={'pixdim': [2.0] * 3})
    timed([script('brats_export'), checkpoint, work / 'app', '--format', 'monai-deploy'], work / 'export.log')
    commands = {'MONAI Deploy app': lambda out: [sys.executable, work / 'app', '-i', study, '-o', out],
                'brats_predict': lambda out: [script('brats_predict'), checkpoint, study, out]}
    runs = {name: [] for name in commands}
    for r in range(args.repeats):
        for name, cmd in commands.items():
            out = work / f"{name.split()[0]}-{r}"
            seconds, rss = timed(cmd(out), work / f"{out.name}.log")
            _, stages = labels(out)
            runs[name].append({'seconds': seconds, 'rss_gb': rss, 'study_seconds': stages['total']})
            print(name, r, f"{seconds:.1f} s", f"{rss:.2f} GB", flush=True)
    one = {**os.environ, 'ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS': '1'}
    same = {}
    for name, cmd in commands.items():
        out = work / f"{name.split()[0]}-one-thread"
        timed(cmd(out), work / f"{out.name}.log", env=one)
        same[name] = labels(out)[0]
    a, b = same.values()
    equal = bool(a.shape == b.shape and np.array_equal(a, b))
    default_a, default_b = labels(work / 'MONAI-0')[0], labels(work / 'brats_predict-0')[0]
    agree = float((default_a == default_b).mean())
    (work / 'results.json').write_text(json.dumps({'runs': runs, 'equal_one_thread': equal, 'agree': agree}, indent=1))
    rows = ['| command | wall time per study | of which the study itself | start-up and the rest | peak RSS |',
            '|---|---|---|---|---|']
    for name, rs in runs.items():
        s, t = np.mean([x['seconds'] for x in rs]), np.mean([x['study_seconds'] for x in rs])
        rows.append(f"| {name} | {s:.1f} s | {t:.1f} s | {s - t:.1f} s | {max(x['rss_gb'] for x in rs):.2f} GB |")
    text = f"""## The MONAI Deploy application against `brats_predict`

Machine: {machine()}.
Command: `{command_line()}`; study: `write_study` of {case.id} (seed 0, the clinical protocol, 8 series);
model: {'the untrained CPU-default network (2 mm)' if args.checkpoint is None else args.checkpoint}.
Means over {args.repeats} runs of each, alternating, each in its own process; "the study itself" is `total` in
the study's report.json (reading, registration, brain, resampling, prediction, writing the label map);
the rest is the process starting (imports, holoscan, the model), and for the app its SDK operators and SEG writer.

{chr(10).join(rows)}

Label maps, both with one ITK thread: {'equal voxel for voxel' if equal else 'NOT equal'}. With the default
threads, registration's multithreaded metric differs in the last bits between any two runs; the two label maps
then agree on {100 * agree:.4f} % of the T1Gd's voxels.
"""
    write_section('deploy_app', text)


if __name__ == '__main__':
    main()
