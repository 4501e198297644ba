"""Time to quality of `brats_train` with no data set (the CPU synthetic preset), and the model's Dice on
synthetic cases it never saw.

    python bench/train_synthetic.py [--out /tmp/bench-train] [any brats_train option...]

Trains exactly as `brats_train` does (same defaults; extra options are passed through), then:
- reads the run's metrics: wall time until the validation mean Dice first reaches 0.8 and 0.85;
- scores the best checkpoint on 8 fresh synthetic cases (another seed, so none was seen in training);
- writes the figures to bench/RESULTS.md (section train_synthetic).
"""
import argparse, os, sys, tempfile, time
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import command_line, machine, time_to_targets, write_section
from brats_nbdev.cli import train_parser
from brats_nbdev.core import keep_freed_memory, resolve_amp
from brats_nbdev.data import find_cases
from brats_nbdev.model import load_model
from brats_nbdev.synthetic import write_synthetic_dataset
from brats_nbdev.train import TrainConfig, default_config, read_metrics, train, validate
from brats_nbdev.transforms import make_dataset, make_loader, val_transforms


def held_out_dice(checkpoint, c: TrainConfig, folder: Path) -> tuple[dict, dict, int]:
    "Dice of the checkpoint on 8 synthetic cases drawn with another seed: all, those with ET, and how many lack ET."
    root = write_synthetic_dataset(folder, cases=8, shape=c.synthetic_shape, layout='msd', seed=c.seed + 1000, progress=False)
    items = [x.as_dict() for x in find_cases(root)]
    with_et = [i for i in items if (np.asarray(nib.load(i['label']).dataobj) == 3).any()]
    cpu, model = torch.device('cpu'), load_model(checkpoint)
    score = lambda its: validate(model, make_loader(make_dataset(its, val_transforms(c.pixdim), cache='none')), cpu,
                                 resolve_amp(c.amp, cpu), c.roi, overlap=c.overlap)
    return score(items), score(with_et), len(items) - len(with_et)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=None, help='folder for the run and the data (default: a temporary folder)')
    args, rest = ap.parse_known_args()
    out = Path(args.out or tempfile.mkdtemp(prefix='bench-train-'))
    os.environ.setdefault('BRATS_NBDEV_CACHE', str(out / 'cache'))
    settings = {k: v for k, v in vars(train_parser().parse_args(rest)).items() if v is not None and k != 'config'}
    c = default_config(True, **{'out_dir': str(out / 'runs'), 'wandb': 'disabled', **settings})
    keep_freed_memory()  # as brats_train does
    start = time.time()
    result = train(c)
    total = time.time() - start
    reached = time_to_targets(read_metrics(result['metrics']), (0.8, 0.85))
    fresh, fresh_et, no_et = held_out_dice(result['checkpoint'], c, out / 'held-out')
    best = result['best_row']
    no_et_score = f"{(8 * fresh['ET'] - (8 - no_et) * fresh_et['ET']) / no_et:.2f}" if no_et else 'n/a'
    when = lambda t: f"epoch {reached[str(t)][0]}, {reached[str(t)][1]:.0f} s" if str(t) in reached else 'not reached'
    text = f"""## Learning on CPU: `brats_train` with no data set

Machine: {machine()}.
Command: `{command_line()}` (the defaults of `brats_train` without `--data-dir`: {c.synthetic_cases} synthetic
{'x'.join(map(str, c.synthetic_shape))} mm cases, roi {'x'.join(map(str, c.roi))}, lr {c.lr:g}, {c.epochs} epochs, precision {resolve_amp(c.amp, torch.device('cpu'))}).

| measure | value |
|---|---|
| whole run (data generation, caching, training, validation, files) | {total:.0f} s |
| validation mean Dice >= 0.80 first reached | {when(0.8)} |
| validation mean Dice >= 0.85 first reached | {when(0.85)} |
| best validation Dice (epoch {int(best['epoch'])}, {int(best['val_cases'])} cases) TC / WT / ET / mean | {best['dice_TC']:.3f} / {best['dice_WT']:.3f} / {best['dice_ET']:.3f} / {best['dice_mean']:.3f} |
| best checkpoint on 8 unseen synthetic cases (seed {c.seed + 1000}) TC / WT / ET / mean | {fresh['TC']:.3f} / {fresh['WT']:.3f} / {fresh['ET']:.3f} / {fresh['mean']:.3f} |
| the same, only the {8 - no_et} of them with an enhancing tumour | {fresh_et['TC']:.3f} / {fresh_et['WT']:.3f} / {fresh_et['ET']:.3f} / {fresh_et['mean']:.3f} |

Seconds are training plus validation time per epoch, summed (the `seconds` column of metrics.csv).
{no_et} of the 8 unseen cases have no enhancing tumour (the generator leaves it out in 10 % of cases). A
case without ET in the ground truth scores ET Dice 1 if the prediction has no ET voxel either, else 0 (BraTS's
rule); here those {no_et} cases scored {no_et_score} on ET on average, which is what separates the two rows.
"""
    print(text)
    write_section('train_synthetic', text)


if __name__ == '__main__':
    main()
