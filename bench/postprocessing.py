"""ET post-processing chosen on synthetic cases the model never trained on.

    python bench/postprocessing.py CHECKPOINT [--out /tmp/bench-post] [--cases 16]

CHECKPOINT: a model trained with `brats_train` and no data set (the CPU default: anatomy-random brains at 2 mm).
Held-out cases: `--cases` anatomy-random brains at 1 mm, drawn with seed 1 (training draws seed 0), so none was
trained on. Each case is predicted once without post-processing (`predict_case` with the checkpoint's options,
both ET rules off); every pair of `et_min_enhancement` (06_inference's `relabel_unenhancing_et`) and
`et_min_voxels` (`relabel_small_et`), applied in that order as `predict_case` does, is then scored by ET Dice
(MONAI's `compute_dice`, 1 when prediction and label are both empty, as BraTS scores it). The best pair is
06_inference's `SYNTHETIC_POSTPROCESSING`. With $BRATS_SAMPLE_DATA the same grid is scored on the real cases
too, for information: they choose nothing. Results: bench/RESULTS.md (postprocessing).
"""
import argparse, sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import command_line, machine, write_section  # noqa: E402

RATIOS = (0, 1.1, 1.2, 1.25, 1.3, 1.35, 1.4, 1.5)
MIN_VOXELS = (0, 50, 100, 200, 500)


def predictions(model, options, cases, folder: Path):
    "Per case: regions without post-processing, true regions, raw T1Gd; kept in `folder` for a rerun."
    import numpy as np, nibabel as nib
    from tqdm import tqdm
    from brats_nbdev.data import case_image
    from brats_nbdev.inference import predict_case
    from brats_nbdev.transforms import labels_to_regions
    folder.mkdir(parents=True, exist_ok=True)
    for case in tqdm(cases, desc=folder.name):
        file = folder / f'{case.id}.npz'
        if not file.exists():
            regions = predict_case(model, case.as_dict(), **options)['regions']
            truth = np.asarray(labels_to_regions(np.asarray(nib.load(case.label).dataobj), case.convention))
            np.savez_compressed(file, regions=regions, truth=truth.astype(bool))
        saved = np.load(file)
        yield saved['regions'], saved['truth'], case_image(case)[2]


def sweep(found) -> 'pd.DataFrame':
    "Mean ET Dice for every (ratio, min voxels) pair over the cases in `found`."
    import numpy as np, pandas as pd, torch
    from monai.metrics import compute_dice
    from brats_nbdev.inference import relabel_small_et, relabel_unenhancing_et
    scores = {}
    for regions, truth, t1gd in found:
        y = torch.as_tensor(truth[2])[None, None]
        for ratio in RATIOS:
            enhancing = relabel_unenhancing_et(regions, t1gd, ratio)
            for n in MIN_VOXELS:
                et = torch.as_tensor(relabel_small_et(enhancing, n)[2])[None, None]
                scores.setdefault((ratio, n), []).append(float(compute_dice(et, y, ignore_empty=False)))
    table = pd.Series({k: np.mean(v) for k, v in scores.items()}).unstack()
    table.index.name, table.columns.name = 'et_min_enhancement', 'et_min_voxels'
    return table


def markdown(table) -> str:
    head = '| `et_min_enhancement` \\ `et_min_voxels` | ' + ' | '.join(map(str, table.columns)) + ' |'
    rows = [f"| {'off' if r == 0 else r} | " + ' | '.join(f'{v:.3f}' for v in table.loc[r]) + ' |' for r in table.index]
    return '\n'.join([head, '|' + '---|' * (len(table.columns) + 1), *rows])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('checkpoint')
    ap.add_argument('--out', default=None, help='working folder (default: a temporary folder)')
    ap.add_argument('--cases', type=int, default=16)
    args = ap.parse_args()
    import numpy as np
    from brats_nbdev.cli import checkpoint_inference
    from brats_nbdev.core import _sample_data_dir
    from brats_nbdev.data import find_cases
    from brats_nbdev.inference import SYNTHETIC_POSTPROCESSING
    from brats_nbdev.model import read_checkpoint
    from brats_nbdev.synthetic import write_synthetic_dataset
    ckpt = read_checkpoint(args.checkpoint)
    if ckpt.train_config.get('data_dir', '') is not None:
        sys.exit(f'{args.checkpoint}: not a model trained on synthetic brains only (brats_train with no data set)')
    out = Path(args.out or tempfile.mkdtemp(prefix='bench-post-'))
    data = out / 'heldout'
    if not (data / 'dataset.json').exists():
        write_synthetic_dataset(data, cases=args.cases, shape=(240, 240, 155), seed=1, vary_geometry=False,
                                generator=ckpt.train_config['synthetic_generator'], spacing=1.0)
    model, options = ckpt.network(), checkpoint_inference(ckpt, et_min_enhancement=0, et_min_voxels=0)
    synthetic = sweep(predictions(model, options, find_cases(data), out / 'pred-heldout'))
    best = synthetic.stack().idxmax()
    print(synthetic.round(3))
    real_text = ''
    samples = _sample_data_dir()
    if samples:
        real = find_cases(samples / 'brats-real') + find_cases(samples / 'brats2018-sample')
        table = sweep(predictions(model, options, real, out / 'pred-real'))
        print(table.round(3))
        real_text = f"""
On the {len(real)} real cases ($BRATS_SAMPLE_DATA), the same grid, for information only (nothing is chosen on
them): ET Dice {table.loc[0, 0]:.3f} without either rule, {table.loc[best]:.3f} with the synthetic choice,
{table.max().max():.3f} at the real cases' own best pair.

{markdown(table)}
"""
    without_et = sum(not np.load(f)['truth'][2].any() for f in (out / 'pred-heldout').glob('*.npz'))
    chosen = dict(zip(('et_min_enhancement', 'et_min_voxels'), (float(best[0]), int(best[1]))))
    match = 'matches' if chosen == SYNTHETIC_POSTPROCESSING else f'DIFFERS from {SYNTHETIC_POSTPROCESSING}'
    text = f"""## ET post-processing chosen on held-out synthetic cases

Machine: {machine()}.
Command: `{command_line()}`; model: the CPU default's run `{ckpt.train_config.get('name')}`
({ckpt.train_config['synthetic_generator']} brains at {ckpt.pixdim[0]:g} mm). {args.cases} held-out
{ckpt.train_config['synthetic_generator']} brains at 1 mm (seed 1; training used seed 0), each predicted once,
then every pair of rules applied: mean ET Dice (1 where prediction and label are both empty). Without either
rule, the model's ET covers most of the core (not for want of resolution: see "What 2 mm costs").

{markdown(synthetic)}

Best pair: `et_min_enhancement` {chosen['et_min_enhancement']:g}, `et_min_voxels` {chosen['et_min_voxels']}
(ET Dice {synthetic.loc[best]:.3f} against {synthetic.loc[0, 0]:.3f} without); it {match}
`SYNTHETIC_POSTPROCESSING`, which `brats_predict` and `brats_evaluate` apply to models trained on synthetic
brains only. {without_et} of the held-out cases have no ET: the size rule matters most there, where one speck scores 0.
{real_text}"""
    print(text)
    write_section('postprocessing', text)


if __name__ == '__main__':
    main()
