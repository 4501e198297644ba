"""Bad scans (01_data's content checks): one fault at a time on a real case, and what each command does with it.

    python bench/faults.py --checkpoint runs/synthetic-cpu/best.pt [--out /tmp/bench-faults] [--case BraTS2021_00000]

The case (from $BRATS_SAMPLE_DATA/brats-real) is copied once per fault and broken in one way; then
`brats_check --full`, `brats_predict` (default: refuse), `brats_predict --allow-repairs` and
`brats_evaluate --checkpoint --split all` run on it, each in its own process. A command's outcome is its exit
status and what it said: an error (exit 1, the message's first line), a repair with a warning (exit 0 and a
REPAIRED line), or a result with no warning at all (exit 0, nothing said: the outcome the checks exist to rule
out). The NaN case, repaired, is compared with the clean case's prediction (Dice per region between the two
label maps). The checks' own time is measured on the twenty real cases (`check_content` on the loaded
arrays, in this process). Results: bench/RESULTS.md (faults).
"""
import argparse, json, shutil, subprocess, sys, time
from pathlib import Path

import nibabel as nib
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import command_line, machine, write_section  # noqa: E402
from real_cases import script  # noqa: E402

SUFFIX = {'FLAIR': '_flair', 'T1': '_t1', 'T1Gd': '_t1ce', 'T2': '_t2', 'label': '_seg'}


def load(folder: Path, key: str):
    f = next(folder.glob(f'*{SUFFIX[key]}.nii.gz'))
    return f, nib.load(f)


def save_like(f: Path, img, data, dtype=None):
    header = img.header.copy()
    if dtype is not None: header.set_data_dtype(dtype)
    nib.save(nib.Nifti1Image(np.asarray(data, dtype or np.float32), img.affine, header), f)


def change(key: str, how, dtype=None):
    "A fault: sequence `key`'s voxels replaced by how(voxels, folder)."
    def fault(folder: Path, other: Path):
        f, img = load(folder, key)
        save_like(f, img, how(np.asarray(img.dataobj).astype(np.float32), other), dtype or img.get_data_dtype())
    return fault


def nan_voxels(x, other, n=4000):
    "n NaN voxels at random places inside the brain (seed 0)."
    inside = np.flatnonzero(x > 0)
    x = x.copy(); x.flat[np.random.default_rng(0).choice(inside, n, replace=False)] = np.nan
    return x


def swap(a: str, b: str):
    def fault(folder: Path, other: Path):
        (fa, _), (fb, _) = load(folder, a), load(folder, b)
        tmp = fa.with_name('swap.tmp'); fa.rename(tmp); fb.rename(fa); tmp.rename(fb)
    return fault


def from_other(key: str):
    def fault(folder: Path, other: Path):
        shutil.copy(load(other, key)[0], load(folder, key)[0])
    return fault


def slab(x, other):
    "The field of view cut to a 30-slice slab (a wrong field of view)."
    x = x.copy(); keep = np.zeros(x.shape[2], bool); keep[60:90] = True; x[:, :, ~keep] = 0
    return x


def wrapped(x, other):
    "Intensities scaled past 32767 and stored as signed 16-bit: they wrap round."
    return (x * (40000 / np.percentile(x[x > 0], 99))).astype(np.int64).astype(np.int16)


def no_brain(folder: Path, other: Path):
    for key in ('FLAIR', 'T1', 'T1Gd', 'T2'): change(key, lambda x, o: np.zeros_like(x))(folder, other)


def unknown_label(folder: Path, other: Path):
    f, img = load(folder, 'label'); seg = np.asarray(img.dataobj).copy(); seg[seg == 4] = 3
    save_like(f, img, seg, np.uint8)


FAULTS = {  # name -> (what it is, how it is made)
    'clean': ('the case as it is', lambda folder, other: None),
    'nan_t1': ('4,000 NaN voxels in the T1 (0.05 % of the volume)', change('T1', nan_voxels, np.float32)),
    'blank_t1gd': ('T1Gd replaced by zeros', change('T1Gd', lambda x, o: np.zeros_like(x))),
    'slab_t2': ('T2 cut to a 30 mm slab (wrong field of view)', change('T2', slab)),
    'negative_t2': ('T2 negated (every intensity 0 or below)', change('T2', lambda x, o: -x)),
    'huge_t1': ('T1 times 10,000 (a scaling error)', change('T1', lambda x, o: x * 1e4, np.float32)),
    'wrapped_t1': ('T1 past 32767, stored as int16 (16-bit overflow)', change('T1', wrapped, np.int16)),
    'swap_flair_t2': ('FLAIR and T2 files swapped', swap('FLAIR', 'T2')),
    'swap_t1_t1gd': ('T1 and T1Gd files swapped', swap('T1', 'T1Gd')),
    'other_flair': ("FLAIR of another case (BraTS2021_00002)", from_other('FLAIR')),
    'no_brain': ('all four sequences zero (no brain)', no_brain),
    'unknown_label': ('label map with value 3 (not in BraTS 2021)', unknown_label),
}


def outcome(res, kind: str) -> str:
    "What a command did: error (its message's first line), repaired (warned), or a result with no warning."
    text = res.stdout + res.stderr
    if 'Traceback' in text: return f"**traceback** (exit {res.returncode})"
    if res.returncode:
        said = [l.strip() for l in text.splitlines() if l.strip().startswith(('FAILED', '- ')) and 'problem(s)' not in l]
        line = said[0] if said else (text.strip().splitlines() or ['(nothing said)'])[-1]
        message = line.split(': ', 1)[-1]
        return f"error: {message if len(message) < 100 else message[:97] + '...'}"
    if 'REPAIRED' in text: return 'repaired, warned: ' + next(l for l in text.splitlines() if 'REPAIRED' in l).split(': ', 1)[1]
    return 'no problems found' if kind == 'check' else 'result, no warning'


def dice(a, b) -> float: return 2 * np.sum(a & b) / max(np.sum(a) + np.sum(b), 1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--checkpoint', required=True)
    p.add_argument('--out', default='/tmp/bench-faults')
    p.add_argument('--case', default='BraTS2021_00000')
    a = p.parse_args()
    from brats_nbdev.core import _sample_data_dir
    from brats_nbdev.data import MODALITIES, case_image, check_content, find_cases
    from brats_nbdev.transforms import labels_to_regions
    samples, out = _sample_data_dir(), Path(a.out)
    if samples is None: sys.exit('$BRATS_SAMPLE_DATA (or ../shared/data) not found: the faults are made on a real case')
    source, other = samples / 'brats-real' / a.case, samples / 'brats-real' / 'BraTS2021_00002'
    shutil.rmtree(out, ignore_errors=True)
    rows, seconds = [], {}
    for name, (what, make) in FAULTS.items():
        data = out / name / 'data'; shutil.copytree(source, data / a.case); make(data / a.case, other)
        run = lambda *args: subprocess.run([script(args[0]), *map(str, args[1:])], capture_output=True, text=True)
        start = time.perf_counter()
        results = {'check': run('brats_check', data, '--full'),
                    'predict': run('brats_predict', a.checkpoint, data, out / name / 'refuse'),
                    'repair': run('brats_predict', a.checkpoint, data, out / name / 'repair', '--allow-repairs'),
                    'evaluate': run('brats_evaluate', data, '--checkpoint', a.checkpoint, '--split', 'all',
                                    '--output', out / name / 'evaluation')}
        seconds[name] = time.perf_counter() - start
        rows.append((name, what, {k: outcome(r, k) for k, r in results.items()}))
        print(name, json.dumps(rows[-1][2], indent=1), flush=True)
    label = lambda name: np.asarray(nib.load(out / name / 'repair' / f'{a.case}.nii.gz').dataobj)
    nan_dice = [dice(x, y) for x, y in zip(labels_to_regions(label('nan_t1'), 'brats2021'),
                                           labels_to_regions(label('clean'), 'brats2021'))]
    cost = []
    cases = find_cases(samples / 'brats-real') + find_cases(samples / 'brats2018-sample') + find_cases(samples / 'brats-africa')
    for case in cases:
        image = case_image(case); start = time.perf_counter()
        check_content(image, [case.images[m] for m in MODALITIES]); cost.append(time.perf_counter() - start)
    section(a, rows, nan_dice, cost, len(cases))


def section(a, rows, nan_dice, cost, n):
    lines = [f"## Bad scans: one fault at a time (01_data's content checks)\n",
             f"`{command_line()}` on {machine()}. Each fault made on a copy of the real case {a.case} "
             "(`$BRATS_SAMPLE_DATA/brats-real`); the checkpoint is the CPU default (`brats_train` with no data). "
             "Each cell: what the command did (error and its message, repair with its warning, or a result with "
             "no warning).\n",
             "| fault | brats_check --full | brats_predict | brats_predict --allow-repairs | brats_evaluate --checkpoint |",
             "|---|---|---|---|---|"]
    for name, what, o in rows:
        lines.append(f"| {what} | " + ' | '.join(o[k].replace('|', '/') for k in ('check', 'predict', 'repair', 'evaluate')) + ' |')
    lines += ['', f"The NaN case, repaired, against the clean case's prediction: Dice TC {nan_dice[0]:.3f}, "
                  f"WT {nan_dice[1]:.3f}, ET {nan_dice[2]:.3f} (target: each at least 0.95).",
              "brats_predict does not read label maps: the unknown label value is brats_check's and brats_evaluate's to refuse.",
              f"The content checks' time per case (`check_content` on the four loaded sequences, {n} real cases): "
              f"mean {1000 * np.mean(cost):.0f} ms, worst {1000 * np.max(cost):.0f} ms."]
    write_section('faults', '\n'.join(lines))


if __name__ == '__main__': main()
