"""Clinical studies (12_clinical): generated DICOM studies with known answers, and the raw TCGA-FG-6692 study.

    python bench/clinical.py --checkpoint runs/segresnet/best.pt [--out /tmp/bench-clinical] [--cohorts brats africa]
                             [--protocols clinical iso] [--pydicom-seg-python PYTHON]
                             [--brainles-python /path/to/venv/bin/python]

Generated studies: `write_study` (12_clinical) makes a DICOM study of each real case with an expert label
(cohort brats: the ten BraTS 2017-2021 cases; africa: the ten BraTS-Africa 2023 cases), seed = the case's
index: each sequence moved by a random rigid motion (up to 4 degrees and 4 mm per axis) and acquired on the
grids of `STUDY_PROTOCOL` (T2 0.45 mm in plane, 4 mm slices; FLAIR and T1 5 mm axial, tilted; T1Gd 3D coronal
1 mm), with a localiser, an ADC, a 2D T1Gd and a subtraction beside them. Each study is segmented by
`brats_predict CHECKPOINT STUDY OUT` in its own process (wall time and peak RSS of that process), and the
case itself, BraTS-ready, by `brats_predict CHECKPOINT CASE OUT`. On the T1Gd's own grid: the registration
error of each sequence (mean distance over the brain between the recovered and the true registration), the
Dice of the clinical path's label map against the BraTS-ready path's (taken through the T1Gd's known motion),
and each against the expert label taken the same way.

TCGA-FG-6692: `brats_predict CHECKPOINT native/ OUT --keep-preprocessed` on the four raw NIfTI sequences, then
against what BraTS-Toolkit made of the study: its NiftyReg co-registration matrices (mean distance over
HD-BET's T1Gd brain), HD-BET's brain mask on the T1Gd (Dice), and the majority vote of five BraTS 2020
algorithms, taken from atlas space to the T1Gd's grid through NiftyReg's atlas matrix (Dice; not an expert
label). Writes nbs/images/clinical_tcga.png.

BrainLes preprocessing (`--brainles-python`: a Python with brainles-preprocessing installed) is tried on the
same study, offline, as its README runs it. Results: bench/RESULTS.md (clinical).
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import command_line, machine, read_section, timed, write_section  # noqa: E402
from real_cases import link_real_cases, script  # noqa: E402

REGIONS = ('TC', 'WT', 'ET')
ROOT = Path(__file__).resolve().parent.parent


def dice(a, b) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return 1.0 if not a.any() and not b.any() else 2 * (a & b).sum() / (a.sum() + b.sum())


def on_grid(label_file, grid, matrix):
    "A label map taken onto `grid` (a SimpleITK image) through a 4x4 RAS matrix, nearest neighbour, nibabel order."
    import SimpleITK as sitk
    from brats_nbdev.clinical import resample
    return sitk.GetArrayFromImage(resample(sitk.ReadImage(str(label_file), sitk.sitkUInt8), grid, matrix,
                                           nearest=True)).transpose(2, 1, 0)


PROTOCOLS = ('clinical', 'iso')  # STUDY_PROTOCOL as it is, or every sequence 3D at 1 mm (no thick slices)


def protocol(name: str) -> dict:
    from brats_nbdev.clinical import STUDY_PROTOCOL
    if name == 'clinical': return STUDY_PROTOCOL
    return {m: dict(spec, pixel=1.0, thickness=1.0, gap=0.0, MRAcquisitionType='3D') for m, spec in STUDY_PROTOCOL.items()}


def source_alignment(case) -> dict:
    "Each sequence's registration to the T1Gd on the BraTS-ready case itself: how far its own sequences sit from MI's optimum."
    import SimpleITK as sitk
    from brats_nbdev.clinical import register_rigid
    from brats_nbdev.clinical import mean_displacement, world_points
    images = {m: sitk.ReadImage(str(f), sitk.sitkFloat32) for m, f in case.images.items()}
    found = {m: register_rigid(images['T1Gd'], images[m]) for m in ('T1', 'T2', 'FLAIR')}
    brain = world_points(sitk.Cast(images['T1Gd'] != 0, sitk.sitkUInt8), step=3)
    return {**found, 'offset_mm': {m: mean_displacement(v, np.eye(4), brain) for m, v in found.items()}}


def generated(case, i: int, args, work: Path, name: str, source: dict) -> dict:
    "One generated study (protocol `name`) through both paths; the row of measures."
    import nibabel as nib
    import SimpleITK as sitk
    from brats_nbdev.clinical import find_series, mean_displacement, read_volume, world_points, write_study
    from brats_nbdev.data import BRATS2021
    from brats_nbdev.transforms import labels_to_regions
    study = work / f'studies-{name}' / case.id
    if not (study / 'truth.json').exists(): write_study(case, study, seed=i, protocol=protocol(name))
    truth = json.loads((study / 'truth.json').read_text())
    seconds, rss = timed([script('brats_predict'), args.checkpoint, study, work / f'clinical-{name}'],
                         work / f'{case.id}-{name}.log')
    if not (work / 'ready' / f'{case.id}.nii.gz').exists():
        timed([script('brats_predict'), args.checkpoint, Path(case.images['T1Gd']).parent, work / 'ready'],
              work / f'{case.id}-ready.log')
    out = next(p for p in (work / f'clinical-{name}').iterdir() if p.name.startswith(case.id))
    report = json.loads((out / 'report.json').read_text())
    native = sitk.ReadImage(str(out / f'{out.name}.nii.gz'))
    t1gd = next(s for s in find_series(study)[0] if s.uid == report['series']['T1Gd']['uid'])
    brain = world_points(sitk.Cast(read_volume(t1gd) > 0, sitk.sitkUInt8), step=3)
    motion = truth['motion']['T1Gd']
    clinical = labels_to_regions(sitk.GetArrayFromImage(native).transpose(2, 1, 0), BRATS2021)
    ready = labels_to_regions(on_grid(work / 'ready' / f'{case.id}.nii.gz', native, motion), case.convention)
    expert = labels_to_regions(on_grid(case.label, native, motion), case.convention)
    found = {m: report['registration_to_t1gd'][m]['matrix'] for m in ('T1', 'T2', 'FLAIR')}
    optimum = {m: np.linalg.inv(truth['motion'][m]) @ source[m] @ np.asarray(truth['motion']['T1Gd']) for m in found}
    return {'case': case.id, 'cohort': args.cohort_of[case.id], 'protocol': name, 'seconds': seconds, 'rss_gb': rss,
            'stages': report['seconds'],
            'registration_mm': {m: mean_displacement(found[m], truth['registration'][m], brain) for m in found},
            'registration_vs_optimum_mm': {m: mean_displacement(found[m], optimum[m], brain) for m in found},
            'source_offset_mm': source['offset_mm'],
            'clinical_vs_ready': [dice(a, b) for a, b in zip(clinical, ready)],
            'clinical_vs_expert': [dice(a, b) for a, b in zip(clinical, expert)],
            'ready_vs_expert': [dice(a, b) for a, b in zip(ready, expert)]}


def tcga(samples: Path, args, work: Path) -> dict:
    "The raw study through `brats_predict`, against BraTS-Toolkit's registration, brain mask and fused segmentation."
    import SimpleITK as sitk
    from brats_nbdev.clinical import mean_displacement, world_points
    from brats_nbdev.data import BRATS2021
    from brats_nbdev.transforms import labels_to_regions
    root, out = samples / 'raw-tcga-fg-6692', work / 'tcga'
    seconds, rss = timed([script('brats_predict'), args.checkpoint, root / 'native', out, '--keep-preprocessed'],
                         work / 'tcga.log')
    (result,) = [p for p in out.iterdir() if p.is_dir()]
    report = json.loads((result / 'report.json').read_text())
    native = sitk.ReadImage(str(result / f'{result.name}.nii.gz'))
    toolkit = root / 'brats-toolkit'
    hdbet = sitk.GetArrayFromImage(sitk.ReadImage(str(next((toolkit / 'hdbet-masks-native').glob('*_t1c.nii.gz'))))).transpose(2, 1, 0)
    brain = world_points(sitk.ReadImage(str(next((toolkit / 'hdbet-masks-native').glob('*_t1c.nii.gz')))), step=2)
    registration = {m: mean_displacement(report['registration_to_t1gd'][m]['matrix'],
                                         np.loadtxt(toolkit / 'niftyreg' / f'co__t1c__{k}.txt'), brain)
                    for m, k in (('T1', 't1'), ('T2', 't2'), ('FLAIR', 'flair'))}
    mask = on_grid(result / 'brats_ready' / f'{result.name}_brain.nii.gz', native, np.eye(4))
    to_native = np.linalg.inv(np.loadtxt(toolkit / 'niftyreg' / 'atlas__t1c.txt'))  # NiftyReg: atlas world -> T1Gd world
    ours = labels_to_regions(sitk.GetArrayFromImage(native).transpose(2, 1, 0), BRATS2021)
    fusion = labels_to_regions(on_grid(toolkit / 'segmentations' / 'fusion_mav.nii.gz', native, to_native), BRATS2021)
    algorithms = {}
    for f in sorted((toolkit / 'segmentations').glob('*-20.nii.gz')):  # each BraTS 2020 algorithm against the fusion
        theirs = labels_to_regions(on_grid(f, native, to_native), BRATS2021)
        algorithms[f.name.split('-')[0]] = [dice(a, b) for a, b in zip(theirs, fusion)]
    figure(root, result, native, ours, fusion)
    return {'seconds': seconds, 'rss_gb': rss, 'stages': report['seconds'], 'registration_mm': registration,
            'brain_dice': dice(mask, hdbet), 'vs_fusion': [dice(a, b) for a, b in zip(ours, fusion)],
            'algorithms_vs_fusion': algorithms, 'steps': report['steps'], 'regions_ml': report['regions_ml']}


def figure(root: Path, result: Path, native, ours, fusion):
    "The study's T1Gd (its own grid) at the slice of largest tumour: our regions beside the fusion's."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import nibabel as nib
    from brats_nbdev.visualize import legend, overlay_rgb
    t1gd = nib.load(next((root / 'native').glob('*_t1c.nii.gz')))
    canonical = nib.as_closest_canonical(t1gd)
    flip = lambda v: np.asarray(nib.orientations.apply_orientation(v, nib.orientations.ornt_transform(
        nib.io_orientation(t1gd.affine), nib.io_orientation(canonical.affine))))
    image = np.asarray(canonical.dataobj, np.float32)
    k = int(np.argmax(flip(ours[1]).sum((0, 1)) + flip(fusion[1]).sum((0, 1))))
    show = lambda v: np.flipud(v[..., k].T)[:, ::-1]  # 09_visualize's view: anterior up, patient's right on the left
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.6), dpi=80)
    axes[0].imshow(show(image), cmap='gray'); axes[0].set_title('T1Gd as acquired (5.5 mm slices)')
    for ax, (name, regions) in zip(axes[1:], (('CPU default model', ours), ('fusion of five BraTS 2020 algorithms', fusion))):
        ax.imshow(overlay_rgb(show(image), {r: show(flip(regions[i])) for i, r in enumerate(REGIONS)}))
        ax.set_title(name)
    for ax in axes: ax.axis('off')
    legend(fig); fig.tight_layout(rect=(0, 0.06, 1, 1))
    path = ROOT / 'nbs' / 'images' / 'clinical_tcga.png'
    fig.savefig(path); print(f"wrote {path}")


def brainles(python: str, samples: Path, work: Path) -> str:
    "Run BrainLes preprocessing's README pipelines on the raw study offline; what happened, in a sentence each."
    code = f'''
import time
from pathlib import Path
root, out = Path({str(samples / "raw-tcga-fg-6692" / "native")!r}), Path({str(work / "brainles")!r})
out.mkdir(parents=True, exist_ok=True)
f = lambda k: str(next(root.glob(f"*_{{k}}.nii.gz")))
from brainles_preprocessing.modality import Modality, CenterModality
from brainles_preprocessing.registration import ANTsRegistrator
from brainles_preprocessing.brain_extraction import HDBetExtractor
from brainles_preprocessing.preprocessor import AtlasCentricPreprocessor, NativeSpacePreprocessor
center = CenterModality(modality_name="t1c", input_path=f("t1c"), raw_bet_output_path=out / "t1c_bet.nii.gz")
moving = [Modality(modality_name=k, input_path=f(k), raw_bet_output_path=out / f"{{k}}_bet.nii.gz") for k in ("t1", "t2", "fla")]
for name, kind in (("atlas-centric", AtlasCentricPreprocessor), ("native-space", NativeSpacePreprocessor)):
    start = time.time()
    try:
        kind(center_modality=center, moving_modalities=moving, registrator=ANTsRegistrator(),
             brain_extractor=HDBetExtractor(), use_gpu=False).run()
        print(f"RESULT {{name}}: ran in {{time.time() - start:.0f}} s")
    except BaseException as e:
        print(f"RESULT {{name}}: stopped after {{time.time() - start:.0f}} s: {{type(e).__name__}}: {{str(e)[:160]}}")
'''
    res = subprocess.run([python, '-c', code], capture_output=True, text=True, timeout=1800, cwd=work)  # its logs go there
    (work / 'brainles.log').write_text(res.stdout + res.stderr)
    return '\n'.join(f"- {l[7:]}" for l in res.stdout.splitlines() if l.startswith('RESULT')) or \
        f"- did not start: {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else res.returncode}"


def generated_table(rows: list, name: str) -> list:
    "The lines of one protocol's table of generated studies, and its targets."
    if not rows: return []
    f3, seq = (lambda v: f'{v:.3f}'), ('T1', 'T2', 'FLAIR')
    title = ('as `STUDY_PROTOCOL` acquires them (thick 2D slices, 0.45 mm T2)' if name == 'clinical' else
             'every sequence acquired 3D at 1 mm instead (the same motion, no thick slices)')
    lines = ['', f"### {len(rows)} generated DICOM studies, {title}", '',
             '| case | registration error T1 / T2 / FLAIR (mm) | from MI\'s optimum (mm) | clinical vs BraTS-ready, '
             'TC / WT / ET | clinical vs expert (mean) | BraTS-ready vs expert (mean) | seconds | peak RSS GB |',
             '|' + '---|' * 8]
    for r in rows:
        mm = lambda key: ' / '.join(f"{r[key][m]:.2f}" for m in seq)
        lines.append(f"| {r['case']} | {mm('registration_mm')} | {mm('registration_vs_optimum_mm')} | "
                     f"{' / '.join(map(f3, r['clinical_vs_ready']))} | {np.mean(r['clinical_vs_expert']):.3f} | "
                     f"{np.mean(r['ready_vs_expert']):.3f} | {r['seconds']:.1f} | {r['rss_gb']:.2f} |")
    reg = np.array([[r['registration_mm'][m] for m in seq] for r in rows])
    opt = np.array([[r['registration_vs_optimum_mm'][m] for m in seq] for r in rows])
    src = np.array([[r['source_offset_mm'][m] for m in seq] for r in rows])
    vs = np.array([r['clinical_vs_ready'] for r in rows])
    stages = {k: np.mean([r['stages'][k] for r in rows]) for k in rows[0]['stages']}
    return lines + ['', '| measure | target | measured |', '|---|---|---|',
        f"| registration error, worst sequence of any study | <= 1 mm | {reg.max():.2f} mm (mean {reg.mean():.2f}) |",
        f"| the same, from the optimum of the case's own sequences | | {opt.max():.2f} mm (mean {opt.mean():.2f}) |",
        *(f"| Dice clinical vs BraTS-ready, {r}: mean (worst case) | >= {0.95 if r == 'WT' else 0.90} | "
          f"{vs[:, i].mean():.3f} ({vs[:, i].min():.3f}) |" for i, r in enumerate(REGIONS)),
        f"| whole study to DICOM SEG, `brats_predict` process | <= 60 s | mean {np.mean([r['seconds'] for r in rows]):.1f} s, "
        f"worst {max(r['seconds'] for r in rows):.1f} s |",
        f"| peak RSS of that process | <= 4 GB | worst {max(r['rss_gb'] for r in rows):.2f} GB |",
        f"| mean Dice against the expert label (mean of regions): clinical path, BraTS-ready path | | "
        f"{np.mean([r['clinical_vs_expert'] for r in rows]):.3f}, {np.mean([r['ready_vs_expert'] for r in rows]):.3f} |", '',
        'Mean seconds per stage (report.json): ' + ', '.join(f"{k} {v:.1f}" for k, v in stages.items()) +
        '; the rest of the process is starting Python and importing torch, MONAI, SimpleITK and highdicom. '
        f"The BraTS-ready cases' own sequences sit {src.mean():.2f} mm (mean; worst {src.max():.2f} mm) from where "
        "this registration puts them on the T1Gd, which bounds what the error against the nominal truth can show."]


def pydicom_seg_check(python: str, work: Path) -> str:
    "Read the first generated study's SEG with pydicom-seg (which needs pydicom < 3: its own Python), against our labels."
    import SimpleITK as sitk
    from brats_nbdev.data import BRATS2021
    from brats_nbdev.transforms import labels_to_regions
    out = sorted(p for p in (work / 'clinical-clinical').iterdir() if p.is_dir())[0]
    ours = [int(r.sum()) for r in labels_to_regions(sitk.GetArrayFromImage(sitk.ReadImage(str(out / f'{out.name}.nii.gz'))), BRATS2021)]
    code = (f"import pydicom, pydicom_seg, numpy as np; r = pydicom_seg.SegmentReader().read(pydicom.dcmread("
            f"{str(out / f'{out.name}_seg.dcm')!r})); print(pydicom.__version__, [int(np.asarray(r.segment_data(n)).sum()) "
            "for n in sorted(r.available_segments)])")
    res = subprocess.run([python, '-c', code], capture_output=True, text=True)
    if res.returncode: return f"pydicom-seg could not read {out.name}_seg.dcm: {res.stderr.strip().splitlines()[-1]}"
    version, counts = res.stdout.split(' ', 1)
    return (f"pydicom-seg (0.4.1, with pydicom {version}: it does not import with pydicom 3) reads {out.name}_seg.dcm: "
            f"segment voxels {counts.strip()}, the label map's TC, WT, ET {ours}.")


def section(rows: list, t: dict|None, brainles_lines: str|None, args) -> str:
    "The clinical section of bench/RESULTS.md."
    f3 = lambda v: f'{v:.3f}'
    lines = [f"## Clinical studies: from the scanner's series to a DICOM SEG (12_clinical)", '',
             f"Machine: {machine()}.", f"Command: `{command_line().replace(' --from-results', '')}`; checkpoint: the CPU default "
             "(`brats_train` with no data set: synthetic brains only, 2 mm).", '']
    for name in PROTOCOLS:
        lines += generated_table([r for r in rows if r['protocol'] == name], name)
    if rows:
        lines += ['', "Settings: the registration's (50,000 samples of the T1Gd's head and 6 mm around it, Mattes MI, "
                  "three levels) were chosen on studies generated from synthetic brains (02_synthetic, seeds 500-502), "
                  "whose sequences are aligned by construction (error there: mean 0.35 mm, worst 0.87 mm). Nine "
                  "variants (200,000 samples, 64 bins, fixed and moving swapped, a fourth level, less smoothing, "
                  "smaller steps, a 12 mm margin, B-spline interpolation) were tried on four BraTS-Africa studies, not "
                  "on the cases above: none brought the worst error under 1.45 mm (current: 1.60 mm there). "
                  "The error that is left comes from the thick slices: the same motions on 1 mm acquisitions leave "
                  "0.18 mm at worst from the optimum of the case's own sequences."]
    if args.pydicom_seg_python and rows:
        lines += ['', pydicom_seg_check(args.pydicom_seg_python, args.work)]
    if t:
        reg = t['registration_mm']
        lines += ['', '### TCGA-FG-6692, the raw study (skull on, 5.5 mm slices, two oblique geometries)', '',
                  'Against what BraTS-Toolkit made of the same study; the fusion is an algorithms\' majority vote, not '
                  'an expert label.', '', '| measure | value |', '|---|---|',
                  f"| co-registration against NiftyReg's (mean distance over HD-BET's brain) | T1 {reg['T1']:.2f} mm, "
                  f"T2 {reg['T2']:.2f} mm, FLAIR {reg['FLAIR']:.2f} mm |",
                  f"| brain mask (deepbet on the T1) against HD-BET's on the T1Gd, Dice | {t['brain_dice']:.3f} |",
                  f"| regions against the fusion of five BraTS 2020 algorithms, Dice TC / WT / ET | "
                  f"{' / '.join(map(f3, t['vs_fusion']))} |",
                  f"| each of the five algorithms against that fusion, Dice TC / WT / ET (for scale) | " +
                  '; '.join(f"{k} {' / '.join(map(f3, v))}" for k, v in t['algorithms_vs_fusion'].items()) + ' |',
                  f"| regions (ml) | " + ', '.join(f"{k} {v}" for k, v in t['regions_ml'].items()) + ' |',
                  f"| `brats_predict` process: seconds, peak RSS | {t['seconds']:.1f} s, {t['rss_gb']:.2f} GB |",
                  f"| stages (s) | " + ', '.join(f"{k} {v}" for k, v in t['stages'].items()) + ' |',
                  '', 'Steps: ' + '; '.join(t['steps']) + '. Figure: nbs/images/clinical_tcga.png.']
    if not brainles_lines and '### BrainLes' in (old := read_section('clinical')):  # not rerun: kept, and said so
        kept = old.split('### BrainLes', 1)[1].strip()
        lines += ['', '### BrainLes ' + kept.split('\n', 1)[0], '', '(Not rerun with this run: from the run before, '
                  'which gave `--brainles-python`.)', kept.split('\n', 1)[1].strip()]
    if brainles_lines:
        lines += ['', '### BrainLes preprocessing on the same study, offline', '',
                  'brainles-preprocessing 0.6 (pip, with torch 2.13.0 CPU; 1.9 GB venv), its README\'s two '
                  'pipelines with ANTs registration and HD-BET:', '', brainles_lines]
    return '\n'.join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--checkpoint', required=True, help="the model (brats_train's best.pt)")
    ap.add_argument('--out', default=None, help='working folder (default: a temporary folder)')
    ap.add_argument('--cohorts', nargs='+', default=['brats'], choices=['brats', 'africa'])
    ap.add_argument('--brainles-python', default=None, help='a Python with brainles-preprocessing installed')
    ap.add_argument('--no-tcga', action='store_true')
    ap.add_argument('--pydicom-seg-python', default=None, help='a Python with pydicom-seg (and pydicom<3) installed')
    ap.add_argument('--protocols', nargs='+', default=list(PROTOCOLS), choices=PROTOCOLS)
    ap.add_argument('--from-results', action='store_true', help="rewrite the section from --out's results.json")
    args = ap.parse_args()
    from brats_nbdev.core import _sample_data_dir
    from brats_nbdev.data import find_cases
    samples = _sample_data_dir()
    if samples is None: sys.exit('bench/clinical.py: no sample data ($BRATS_SAMPLE_DATA or shared/data)')
    work = args.work = Path(args.out or tempfile.mkdtemp(prefix='bench-clinical-'))
    work.mkdir(parents=True, exist_ok=True)
    cases, args.cohort_of = [], {}
    if 'brats' in args.cohorts:
        for c in find_cases(link_real_cases(samples, work / 'real')): cases.append(c); args.cohort_of[c.id] = 'BraTS 2017-2021'
    if 'africa' in args.cohorts:
        for c in find_cases(samples / 'brats-africa'): cases.append(c); args.cohort_of[c.id] = 'BraTS-Africa'
    if args.from_results:
        saved = json.loads((work / 'results.json').read_text())
        return write_section('clinical', section(saved['rows'], saved['tcga'], saved.get('brainles'), args))
    rows = []
    for i, case in enumerate(cases):
        source = source_alignment(case)
        for name in args.protocols:
            rows.append(generated(case, i, args, work, name, source))
            print(case.id, name, f"{rows[-1]['seconds']:.1f} s", np.round(rows[-1]['clinical_vs_ready'], 3), flush=True)
    t = None if args.no_tcga else tcga(samples, args, work)
    lines = brainles(args.brainles_python, samples, work) if args.brainles_python else None
    (work / 'results.json').write_text(json.dumps({'rows': rows, 'tcga': t, 'brainles': lines}, indent=1))
    write_section('clinical', section(rows, t, lines, args))


if __name__ == '__main__':
    main()
