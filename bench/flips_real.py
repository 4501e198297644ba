"""Flips at test time on real cases: `brats_evaluate` with and without `--tta`, same model, same rules.

    python bench/flips_real.py CHECKPOINT [--out /tmp/bench-flips]

CHECKPOINT: any `brats_train` checkpoint (the CPU default's best.pt is the one asked about). Every case with
expert labels under $BRATS_SAMPLE_DATA (brats-real/, brats2018-sample/) is scored twice with
`brats_evaluate --split all`: once as the checkpoint records (one pass), once with `--tta` (probabilities
averaged over the 8 flips of the three axes, 06_inference's `FLIPS`); the ET rules the checkpoint records
apply to both. Nothing is chosen on these cases: the table says what the flips are worth, and what they
cost in time. Results: bench/RESULTS.md (flips_real).
"""
import argparse, sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import command_line, machine, write_section  # noqa: E402
from real_cases import REGIONS, link_real_cases, row, run, scores, script  # noqa: E402


def evaluate(real: Path, checkpoint: str, folder: Path, *options) -> float:
    "`brats_evaluate` into `folder`, its log beside it; the seconds it took (real_cases' `run`)."
    return run([script('brats_evaluate'), real, '--checkpoint', checkpoint, '--split', 'all', '--output', folder,
                *options], folder.with_suffix('.log'))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('checkpoint')
    ap.add_argument('--out', default=None, help='working folder (default: a temporary folder)')
    args = ap.parse_args()
    from brats_nbdev.core import _sample_data_dir
    from brats_nbdev.data import find_cases
    from brats_nbdev.model import read_checkpoint
    samples = _sample_data_dir()
    if not samples: sys.exit('no real cases: set BRATS_SAMPLE_DATA to a folder with brats-real/ and brats2018-sample/')
    ckpt = read_checkpoint(args.checkpoint)
    out = Path(args.out or tempfile.mkdtemp(prefix='bench-flips-'))
    real = link_real_cases(samples, out / 'real')
    n = len(find_cases(real))
    plain = evaluate(real, args.checkpoint, out / 'plain')
    flipped = evaluate(real, args.checkpoint, out / 'tta', '--tta')
    one, eight = scores(out / 'plain'), scores(out / 'tta')
    gain = {r: eight[eight.region == r].dice.mean() - one[one.region == r].dice.mean() for r in REGIONS}
    head = ('| inference | Dice TC | WT | ET | mean | lesion-wise Dice (mean of regions) | cases | '
            'evaluation time (prediction and metrics) |')
    text = f"""## Flips at test time on real cases

Machine: {machine()}.
Command: `{command_line()}`; model: run `{ckpt.train_config.get('name')}` ({ckpt.pixdim[0]:g} mm,
trained {'on synthetic brains only' if ckpt.train_config.get('data_dir') is None else 'on a data set'}),
scored on the {n} real cases of $BRATS_SAMPLE_DATA with `brats_evaluate --split all`, the ET rules it records
applied to both rows; one run each. Nothing is chosen on these cases.

{head}
|---|---|---|---|---|---|---|---|
{row('one pass (the default)', one)[:-4]} | {plain:.0f} s |
{row('`--tta`: mean over the 8 flips', eight)[:-4]} | {flipped:.0f} s |

Flips change Dice by TC {gain['TC']:+.3f}, WT {gain['WT']:+.3f}, ET {gain['ET']:+.3f} at
{flipped / plain:.1f} times the evaluation time: within what one case moves, so `brats_evaluate` and
`brats_predict` keep one pass by default, and `--tta` stays for the spread it gives (`--uncertainty`).
"""
    print(text)
    write_section('flips_real', text)


if __name__ == '__main__':
    main()
