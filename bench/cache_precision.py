"""Does caching images in float16 change learning? The CPU preset (`brats_train` with no data set) with the
cache in float16 (the default) and in float32, each for two seeds; the difference between the precisions
at one seed is set against the difference between the seeds at one precision.

    python bench/cache_precision.py [--seeds 0 1] [--out /tmp/bench-precision]

Every run is the same command but for `--cache-dtype` and `--seed` (the seed draws the synthetic cases, the
split, the initial weights and the augmentation), run one after the other with nothing else running.
Results go to bench/RESULTS.md (section cache_precision).
"""
import argparse, os, subprocess, sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    ap.add_argument('--out', default=None)
    args = ap.parse_args()
    from common import command_line, machine, write_section
    from brats_nbdev.train import read_metrics
    out = Path(args.out or tempfile.mkdtemp(prefix='bench-precision-'))
    env = {**os.environ, 'BRATS_NBDEV_CACHE': str(out / 'cache')}
    runs = {}
    for seed in args.seeds:
        for dtype in ('float16', 'float32'):
            name = f'{dtype}-seed{seed}'
            res = subprocess.run([str(Path(sys.executable).parent / 'brats_train'), '--out-dir', str(out / 'runs'),
                                  '--name', name, '--seed', str(seed), '--cache-dtype', dtype, '--no-progress',
                                  '--wandb', 'disabled'], capture_output=True, text=True, env=env)
            if res.returncode: sys.exit(res.stdout[-2000:] + res.stderr[-3000:])
            runs[(dtype, seed)] = read_metrics(out / 'runs' / name / 'metrics.csv')
            print(name, max(r['dice_mean'] for r in runs[(dtype, seed)]), flush=True)
    best = lambda rows: max(rows, key=lambda r: r['dice_mean'])
    lines = []
    for (dtype, seed), rows in runs.items():
        b = best(rows)
        lines.append(f"| {dtype} | {seed} | {b['dice_TC']:.3f} | {b['dice_WT']:.3f} | {b['dice_ET']:.3f} | "
                     f"{b['dice_mean']:.3f} | {int(b['epoch'])} | {rows[-1]['train_loss']:.4f} |")
    gap = lambda a, b: max(abs(x['train_loss'] - y['train_loss']) for x, y in zip(runs[a], runs[b]))
    diffs = [f"| float16 vs float32, seed {s} | {gap(('float16', s), ('float32', s)):.4f} | "
             f"{abs(best(runs[('float16', s)])['dice_mean'] - best(runs[('float32', s)])['dice_mean']):.3f} |"
             for s in args.seeds]
    diffs += [f"| seed {args.seeds[0]} vs seed {args.seeds[1]}, {d} | "
              f"{gap((d, args.seeds[0]), (d, args.seeds[1])):.4f} | "
              f"{abs(best(runs[(d, args.seeds[0])])['dice_mean'] - best(runs[(d, args.seeds[1])])['dice_mean']):.3f} |"
              for d in ('float16', 'float32')] if len(args.seeds) > 1 else []
    text = f"""## Cached images in float16 against float32

Machine: {machine()}.
Command: `{command_line()}`: `brats_train --seed S --cache-dtype D` with no data set (the CPU preset: 24
synthetic cases, roi 64, 30 epochs), for each seed and type.

| cache | seed | TC | WT | ET | mean (best epoch) | best epoch | last training loss |
|---|---|---|---|---|---|---|---|
{chr(10).join(lines)}

| compared | largest training-loss difference over the epochs | best mean Dice difference |
|---|---|---|
{chr(10).join(diffs)}
"""
    write_section('cache_precision', text)


if __name__ == '__main__':
    main()
