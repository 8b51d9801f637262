"""Every structure of a random share of the MP formulas, for a GPU call that cannot carry the whole file.

A device call carries at most 64 MiB with the repository; the MP structure file (46 MB) no
longer fits beside it. Sampling *formulas* (and keeping all of each one's polymorphs) keeps
the distribution of a training batch -- polymorphs per formula, atoms and bonds per structure
-- that of the whole corpus, so a step timed on the sample costs what it costs on the corpus
(``benchmarks/pretrain_speed.py --epoch-steps 389`` extrapolates to the whole corpus's epoch).

Usage::

    python benchmarks/gpu/sample_formulas.py $POLYSRL_MP_STRUCTURES .gpu/mp_quarter.jsonl.gz --share 0.25
"""

from __future__ import annotations

import argparse
import gzip
import json
import random


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="MP JSON-lines structures (.jsonl.gz)")
    parser.add_argument("target", help="where the sample goes (.jsonl.gz)")
    parser.add_argument("--share", type=float, default=0.25, help="share of the formulas kept")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with gzip.open(args.source, "rt") as handle:
        lines = handle.read().splitlines()
    formula_of_line = [json.loads(line)["formula"] for line in lines]
    formulas = sorted(set(formula_of_line))
    keep = set(random.Random(args.seed).sample(formulas, int(len(formulas) * args.share)))
    kept = [line for line, formula in zip(lines, formula_of_line) if formula in keep]
    with gzip.open(args.target, "wt", compresslevel=9) as handle:
        handle.write("\n".join(kept) + "\n")
    print(f"{len(keep)} of {len(formulas)} formulas, {len(kept)} of {len(lines)} structures -> {args.target}")


if __name__ == "__main__":
    main()
