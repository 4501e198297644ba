"""The front-page picture: a full-size synthetic brain on MNI152 anatomy (a seed no training run draws), its
ground truth and a trained model's prediction, each region on the sequence where it is read.

    python docs/make_figure.py --checkpoint runs/synthetic-cpu/best.pt   # writes nbs/images/synthetic_prediction.png
"""
import argparse
from pathlib import Path

import matplotlib
matplotlib.use('Agg')
import numpy as np

from brats_nbdev.cli import checkpoint_inference
from brats_nbdev.data import find_cases
from brats_nbdev.inference import predict_case
from brats_nbdev.model import read_checkpoint
from brats_nbdev.synthetic import write_synthetic_dataset
from brats_nbdev.visualize import load_case_arrays, region_figure

OUT = Path(__file__).resolve().parent.parent / 'nbs' / 'images' / 'synthetic_prediction.png'

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--checkpoint', required=True)
    ap.add_argument('--data', default='/tmp/brats-figure')
    args = ap.parse_args()
    (case,) = find_cases(write_synthetic_dataset(args.data, cases=1, shape=(240, 240, 155), layout='brats2021', seed=7,
                                                 vary_geometry=False, progress=False, generator='anatomy'))
    ckpt = read_checkpoint(args.checkpoint)  # predicted at the checkpoint's own spacing and roi, as brats_predict does
    pred = predict_case(ckpt.network(), case.as_dict(), **checkpoint_inference(ckpt))
    pred_file = Path(args.data) / 'prediction.nii.gz'
    import nibabel as nib
    nib.save(nib.Nifti1Image(pred['labels'], pred['affine']), pred_file)
    image, truth, predicted = load_case_arrays(case, pred_file)
    fig = region_figure(image, truth, predicted, title='synthetic brain on MNI152 anatomy, 240x240x155: ground truth (top), prediction of the CPU default model (bottom)')
    fig.savefig(OUT, dpi=55)
    print(f'wrote {OUT} ({OUT.stat().st_size // 1024} KB)')
