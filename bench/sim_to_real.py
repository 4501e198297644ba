"""Levers on the sim-to-real gap: variants of the CPU default, trained on synthetic brains only, scored on real cases.

    python bench/sim_to_real.py [--out /tmp/bench-sim] [--variants NAME ...]   (names: `VARIANTS` below)

Each variant is one `brats_train` run with no data set: the CPU default with the options in `VARIANTS` on top,
everything else equal. Its best checkpoint (chosen on its own synthetic validation cases) is scored with
`brats_evaluate --split all` on every real case of $BRATS_SAMPLE_DATA, with the ET rules such a model records.
Finished runs and evaluations in `--out` are reused, so a stopped bench goes on. Nothing is chosen on the real
cases by this script; the table says which lever moved what. Results: bench/RESULTS.md (sim_to_real).
"""
import argparse, re, sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import command_line, machine, read_section, write_section  # noqa: E402
from real_cases import dice_cells, evaluate, finished, link_real_cases, run, scores, script  # noqa: E402

VARIANTS = {  # name: (brats_train options on top of the CPU default, what it changes)
    'default': ([], 'the CPU default (anatomy-random brains, 112x112x72 crops, 30 epochs)'),
    'seed1': (['--seed', '1'], 'the same with seed 1: other synthetic brains, other initial weights'),
    'roi80-50ep': (['--roi', 80, 96, 80, '--epochs', 50],
                   'brain-sized 80x96x80 crops (about half the time a step), 50 epochs in about the same time'),
    'mixed': (['--synthetic-generator', 'anatomy-mixed'],
              'half the brains with random normal-tissue contrasts, half with the real ones (`anatomy-mixed`)'),
    'nnunet-augment': (['--augment', 'nnunet'],
                       "nnU-Net's intensity augmentation on top of the seed's (`--augment nnunet`)"),
    'fading': (['--synthetic-generator', 'anatomy-fading'],
               "edema brightest beside the core, fading to 25-80 % of that at its far edge (`anatomy-fading`)"),
    'ordered': (['--synthetic-generator', 'anatomy-ordered'],
                'random contrasts, but on FLAIR and T1Gd normal tissue stays darker than tumour (`anatomy-ordered`)'),
    'cases72-10ep': (['--synthetic-cases', 72, '--epochs', 10],
                     'three times as many synthetic brains, each seen a third as often (about as many steps)'),
    'cases72-30ep': (['--synthetic-cases', 72],
                     'three times as many synthetic brains, each seen as often: three times the steps and time'),
    'epochs15': (['--epochs', 15], 'half the epochs (the cosine schedule over 15): half the steps and time'),
    'regional': (['--synthetic-generator', 'anatomy-regional'],
                 'regions of normal brain up to about 20 % brighter or darker, per sequence (`anatomy-regional`)'),
    'fossa': (['--synthetic-generator', 'anatomy-fossa'],
              'cerebellum and brainstem brighter or darker on all sequences, enhancing tentorium (`anatomy-fossa`)'),
    'ordered-nnunet': (['--synthetic-generator', 'anatomy-ordered', '--augment', 'nnunet'],
                       "`ordered`'s sensitivity with `nnunet-augment`'s fewer false lesions: both at once"),
}


def cells(per_case) -> list:
    "`dice_cells`, then the false WT lesions per case."
    return dice_cells(per_case) + [f"{per_case[per_case['region'] == 'WT']['false_positives'].mean():.1f}"]


def earlier_rows(names) -> dict:
    "Rows of this section as RESULTS.md holds them, by variant, for the variants in `names` (kept when not rerun)."
    rows = re.findall(r'^(\| ([\w-]+): .*)$', read_section('sim_to_real'), re.M)
    return {name: line for line, name in rows if name in names}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=None, help='working folder (default: a temporary folder)')
    ap.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    args = ap.parse_args()
    import os
    from brats_nbdev.core import _sample_data_dir
    from brats_nbdev.data import find_cases
    from brats_nbdev.train import CPU_SYNTHETIC_PRESET, read_metrics
    samples = _sample_data_dir()
    if not samples: sys.exit('no real cases: set BRATS_SAMPLE_DATA to a folder with brats-real/ and brats2018-sample/')
    out = Path(args.out or tempfile.mkdtemp(prefix='bench-sim-'))
    real = link_real_cases(samples, out / 'real')
    os.environ.setdefault('BRATS_NBDEV_CACHE', str(out / 'cache'))
    rows = {}
    for name in args.variants:
        options, what = VARIANTS[name]
        epochs = (int(options[options.index('--epochs') + 1]) if '--epochs' in options
                  else CPU_SYNTHETIC_PRESET['epochs'])
        run_dir = out / 'runs' / name
        if not finished(run_dir, epochs):
            resume = ['--resume'] if (run_dir / 'last.pt').exists() else []
            run([script('brats_train'), *resume, '--out-dir', out / 'runs', '--name', name, *options, '--no-progress',
                 '--wandb', 'disabled'], out / f'{name}.log')
        evaluate(real, run_dir / 'best.pt', 'all', out / 'eval' / name, out / f'eval-{name}.log')
        metrics = read_metrics(run_dir / 'metrics.csv')
        best = max((r for r in metrics if r['val_cases'] > 0), key=lambda r: r['dice_mean'])
        minutes = sum(r['seconds'] for r in metrics) / 60
        rows[name] = (f"| {name}: {what} | {best['dice_mean']:.3f} | " + ' | '.join(cells(scores(out / 'eval' / name)))
                      + f" | {minutes:.1f} min |")
        print(rows[name], flush=True)
    kept = earlier_rows([v for v in VARIANTS if v not in rows])
    rows = {**rows, **kept}
    table = '\n'.join(rows[v] for v in VARIANTS if v in rows)
    kept_note = (f"\nThe rows {', '.join(kept)} were not rerun by this command: they are kept from this section as"
                 " an earlier run of this script on the same machine wrote them." if kept else '')
    n = len(find_cases(real))
    text = f"""## Levers on the sim-to-real gap, measured

Machine: {machine()}.
Command: `{command_line()}`. Each row is one `brats_train` run with no data set (the CPU default with the row's
options), its best checkpoint scored with `brats_evaluate --split all` on the {n} real cases of $BRATS_SAMPLE_DATA
with the ET rules it records. "Synthetic validation" is the best mean Dice on its own 5 held-out synthetic cases
(14 for the rows with 72 brains; at 2 mm, without the ET rules), which chose the checkpoint; "false lesions" is
the mean number of predicted WT components per case that match no true lesion (BraTS 2023 lesion-wise).
Training time is the run's own epoch seconds.{kept_note}

| variant | synthetic validation | Dice TC | WT | ET | mean | lesion-wise Dice | false lesions | training time |
|---|---|---|---|---|---|---|---|---|
{table}

What the rows say (10 cases; one case moves a mean by about a tenth of its own score). Two seeds of the
default differ by at most 0.01 in each mean Dice, so that is the noise floor of a row. No lever closes the WT
(0.80) or ET (0.60) target. Fitting the synthetic brains better does not transfer: brain-sized crops bought 50
epochs and 0.08 more synthetic validation Dice, and lost 0.14 ET and 0.23 lesion-wise Dice on the real cases.
Mixed contrasts tie with the default. nnU-Net's augmentation draws the fewest false lesions (0.2 per case, the
best lesion-wise Dice) for 0.026 less WT.

Nor does training longer or shorter on these brains. Half the epochs (`epochs15`, 7 min) scored mean 0.581
(ET 0.459). Three times as many brains, each seen as often as the default's (`cases72-30ep`: three times the
steps, 44 min), fit the synthetic brains better (validation 0.605) and scored mean 0.620 on the real cases, WT
0.693: lower on BraTS2021_01476 (WT 0.695 against 0.890) and Brats18_2013_2_1 (0.579 against 0.714), and no
better on the two cases every row loses. Three times as many brains, each seen a third as often
(`cases72-10ep`, about the default's steps), scored 0.595. The default's 30 epochs sit at the top of these four:
compute is not what the CPU default lacks at 2 mm, and more of it on the same brains moves away from real ones.

WT is lost on the same two cases in every row. BraTS2021_00002's far edema is fainter than its near edema
(FLAIR 1.40 against 1.91 times normal brain) and is missed. Edema that fades with distance from the core, drawn
for it, scored lower on it (WT 0.426 against 0.512) and on the whole (0.624). Keeping FLAIR and T1Gd ordered, so
that tumour is always the brightest there, found more of its edema (WT 0.619) but marked 6.7 false lesions a
case (mean 0.586): with the measured ordering the model learns brightness, and real normal brain has bright
parts. nnU-Net's augmentation on top kept most of them (4.8 a case, mean 0.604): it does not undo what the
ordering teaches. A WT probability threshold chosen on 16 held-out synthetic brains is 0.5 (WT
0.731 there; 0.2-0.6 tried), and on the real cases 0.4-0.6 give WT 0.740-0.747: no lever either (measured by
hand on the default's probabilities, not rerun by this command).

BraTS2021_01480 is a faint small tumour (FLAIR 1.22 times normal brain). The default also marks a 65 mL region
more than 10 mm away, in the upper cerebellum, 7-20 % brighter than that case's cerebrum on all four sequences
(measured by hand), with enhancing stripes on T1Gd. Regions of normal brain brighter or darker per sequence
(`anatomy-regional`) gave the fewest false lesions (0.1 a case) but lower sensitivity (WT 0.71 against 0.77),
mean 0.550, and left that case as it was (WT 0.303). A posterior fossa drawn brighter or darker on all four
sequences at once, with an enhancing tentorium and folia (`anatomy-fossa`), scored mean 0.641 and did not
remove the region either (WT 0.314 on that case against 0.393). Dimming that case's fossa by hand to its
cerebrum's brightness cut the default's false voxels there from 85k to 53k: brightness is only part of what
the model reads there. Averaging the default's and the `fossa` model's probabilities gave mean 0.647 (TC 0.625,
WT 0.742, ET 0.572; measured by hand, not rerun by this command): two models trained on the same kind of brains
make the same mistakes.
"""
    print(text)
    write_section('sim_to_real', text)


if __name__ == '__main__':
    main()
