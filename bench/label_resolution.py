"""What 2 mm costs before any model: the real expert labels taken to 2 mm and back, scored against themselves.

    python bench/label_resolution.py [--pixdim 2]

The CPU default trains and predicts at 2 mm and writes 1 mm label maps (`brats_predict` interpolates its
probabilities linearly back to the case's grid, then thresholds at 0.5). A model that drew every 2 mm target
perfectly would still miss what 2 mm cannot hold, so the Dice of the round trip is the ceiling of any 2 mm model:

- *as trained*: the label map resampled to 2 mm with nearest neighbour (what `preprocess_transforms` gives
  training), its regions taken back to 1 mm as a prediction is, thresholded;
- *soft*: each region smoothed first ([1/4, 1/2, 1/4] per axis: the share of each 2 mm voxel it covers),
  then the same way: the best a 2 mm model's probabilities could hold.

Real cases: every case with expert labels under $BRATS_SAMPLE_DATA (brats-real/, brats2018-sample/).
Results: bench/RESULTS.md (label_resolution).
"""
import argparse, sys
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).parent))
from common import command_line, machine, write_section  # noqa: E402

REGIONS = ('TC', 'WT', 'ET')


def dice(pred: np.ndarray, true: np.ndarray) -> float:
    "Dice of two masks; 1 where both are empty (the BraTS convention for a case with no ET)."
    total = pred.sum() + true.sum()
    return 1.0 if total == 0 else float(2 * (pred & true).sum() / total)


def round_trip(regions, label_1mm, pixdim: float, smooth: bool) -> np.ndarray:
    "Regions (3, H, W, D) on the 1 mm grid of `label_1mm`, taken to `pixdim` and back, thresholded at 0.5."
    from monai.data import MetaTensor
    from monai.transforms import ResampleToMatch, Spacing
    values = regions.float().numpy()
    if smooth:
        for axis in (1, 2, 3): values = ndimage.convolve1d(values, [0.25, 0.5, 0.25], axis=axis, mode='constant')
    coarse = Spacing(pixdim=(pixdim,) * 3, mode='bilinear')(MetaTensor(torch.from_numpy(values), meta=label_1mm.meta))
    back = ResampleToMatch(mode='bilinear')(coarse, img_dst=label_1mm)
    return np.asarray(back) > 0.5


def nearest_round_trip(label_1mm, convention, pixdim: float) -> np.ndarray:
    "The label map as training sees it (nearest neighbour at `pixdim`), its regions back on the 1 mm grid."
    from monai.transforms import ResampleToMatch, Spacing
    from brats_nbdev.transforms import labels_to_regions
    from monai.data import MetaTensor
    coarse = Spacing(pixdim=(pixdim,) * 3, mode='nearest')(label_1mm)
    regions = MetaTensor(labels_to_regions(coarse, convention).float(), meta=coarse.meta)
    back = ResampleToMatch(mode='bilinear')(regions, img_dst=label_1mm)
    return np.asarray(back) > 0.5


def main():
    from tqdm.auto import tqdm
    from brats_nbdev.core import _sample_data_dir
    from brats_nbdev.data import find_cases
    from brats_nbdev.transforms import labels_to_regions
    from monai.transforms import LoadImage, Orientation
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--pixdim', type=float, default=2.0)
    args = ap.parse_args()
    samples = _sample_data_dir()
    if samples is None: sys.exit('no real cases: set $BRATS_SAMPLE_DATA to the folder that holds brats-real/')
    cases = find_cases(samples / 'brats-real') + find_cases(samples / 'brats2018-sample')
    rows = []
    for case in tqdm(cases, desc='cases'):
        label = Orientation(axcodes='RAS', labels=None)(LoadImage(image_only=True, ensure_channel_first=True)(case.label))
        truth = np.asarray(labels_to_regions(label, case.convention.roles()))
        trained = nearest_round_trip(label, case.convention.roles(), args.pixdim)
        soft = round_trip(labels_to_regions(label, case.convention.roles()), label, args.pixdim, smooth=True)
        rows.append((case.id, truth.sum(axis=(1, 2, 3)),
                     [dice(trained[r], truth[r]) for r in range(3)], [dice(soft[r], truth[r]) for r in range(3)]))
    lines = ['| case | voxels TC | WT | ET | as trained: Dice TC | WT | ET | soft: Dice TC | WT | ET |',
             '|---|---|---|---|---|---|---|---|---|---|']
    for cid, voxels, d_trained, d_soft in rows:
        lines.append(f'| {cid} | ' + ' | '.join(f'{int(v)}' for v in voxels) + ' | '
                     + ' | '.join(f'{d:.3f}' for d in d_trained + d_soft) + ' |')
    mean_trained = np.mean([r[2] for r in rows], axis=0); mean_soft = np.mean([r[3] for r in rows], axis=0)
    lines.append('| **mean** | | | | ' + ' | '.join(f'**{d:.3f}**' for d in list(mean_trained) + list(mean_soft)) + ' |')
    table = '\n'.join(lines)
    print(table)
    write_section('label_resolution', f"""## What {args.pixdim:g} mm costs before any model: expert labels there and back

Machine: {machine()}.
Command: `{command_line()}`; {len(rows)} real BraTS cases with expert labels ($BRATS_SAMPLE_DATA). Each label map
taken to {args.pixdim:g} mm and back to its own 1 mm grid as `brats_predict` takes a prediction (regions interpolated
linearly, thresholded at 0.5), scored with Dice against itself: the ceiling of a model that trains and predicts at
{args.pixdim:g} mm. *As trained*: the label map resampled with nearest neighbour, as training sees it; *soft*: each region
smoothed first to the share of each coarse voxel it covers, the best a coarse model's probabilities could hold.
Mean TC, WT, ET as trained {np.mean(mean_trained):.3f}, soft {np.mean(mean_soft):.3f}.

{table}
""")


if __name__ == '__main__':
    main()
