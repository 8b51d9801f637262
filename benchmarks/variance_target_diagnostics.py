"""How learnable is the variance-matching target? Why the uncertainty's polymorph AUROC stops near 0.65.

The variance stage (``--variance-matching W``, recipe ``chgnet_mt_variance``) pulls each
formula's mean log-variance towards ``log(spread + level)``: the spread of its polymorphs'
vectors in the structure space plus 1 % of the batch's structure variance
(:func:`polysrl_sklearn.variance_targets.spread_log_variance_target`). For the formulas held out of
pretraining this script computes that target from *all* their MP polymorphs (the structure
side of a full checkpoint: CHGNet vectors, standardised, through its trained projection; the
level from the whole corpus's variance) and prints:

* the AUROC of the target itself for ">= 2 polymorphs" against one (what a head that predicted
  the target exactly would reach);
* how many polymorphic formulas have a spread below the level, i.e. polymorphs that the
  structure space barely tells apart (their target is within log 2 of a single structure's);
* the AUROC of the model's uncertainty column, also with only the polymorphic formulas whose
  spread is above the level as positives, and its Spearman correlation with the target on the
  same formulas (how much of the target the head predicts from a composition).

Needs a full checkpoint of a ``chgnet`` structure side (``polysrl pretrain --checkpoint``; the
shipped files keep only the stoichiometry encoder), its exported model, and the CHGNet vectors
of the corpus in ``--cache-dir``.

Usage::

    python benchmarks/variance_target_diagnostics.py --checkpoint runs/C22.ckpt --model default \\
        [--data $POLYSRL_MP_STRUCTURES] [--cache-dir CACHE]
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict

import numpy as np
import torch
from scipy.stats import spearmanr

from polysrl_sklearn.chgnet_vectors import corpus_chgnet_vectors
from polysrl_sklearn.corpus import corpus_from_mp_jsonl
from polysrl_sklearn.featurizer import PolySRLFeaturizer
from polysrl_sklearn.network import load_checkpoint
from polysrl_sklearn.pretraining import standardise_columns
from polysrl_sklearn.validation import uncertainty_auroc
from polysrl_sklearn.variance_targets import SPREAD_LEVEL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="full checkpoint of a chgnet structure side")
    parser.add_argument("--model", default="default", help="the exported model of that run (name or file)")
    parser.add_argument("--data", default=os.environ.get("POLYSRL_MP_STRUCTURES"), help="MP JSON-lines structures")
    parser.add_argument("--cache-dir", default=None, help="crystal-graph and CHGNet-vector cache")
    parser.add_argument("--match-sample", type=int, default=0,
                        help="formulas per group checked with StructureMatcher (0: skip)")
    args = parser.parse_args()

    corpus = corpus_from_mp_jsonl(args.data, cache_dir=args.cache_dir, verbose=False)
    vectors = corpus_chgnet_vectors(args.data, corpus, args.cache_dir, None, verbose=False)
    network, payload = load_checkpoint(args.checkpoint)
    with torch.no_grad():
        space = network.structure_projection(torch.from_numpy(standardise_columns(vectors)).float()).numpy()
    level = SPREAD_LEVEL * space.var(axis=0).mean()
    members: dict[str, list[int]] = defaultdict(list)
    for structure, formula in enumerate(corpus.formula_of_structure):
        members[corpus.formulas[formula]].append(structure)
    held_out = [f for f in payload["held_out_formulas"] if f in members]
    spread = np.array([((space[members[f]] - space[members[f]].mean(axis=0)) ** 2).mean() for f in held_out])
    target = np.log(spread + level)
    polymorphic = np.array([len(members[f]) >= 2 for f in held_out])
    uncertainty = PolySRLFeaturizer(pretrained=args.model).fit([]).transform(held_out)[:, -1]

    print(f"{len(held_out)} held-out formulas, {polymorphic.mean():.1%} with >= 2 MP structures; "
          f"checkpoint {args.checkpoint}, model {args.model}\n")
    print("| measure (held-out formulas) | value |")
    print("|---|---:|")
    print(f"| AUROC of the target itself (all polymorphs) | {uncertainty_auroc(target, polymorphic):.3f} |")
    print(f"| polymorphic formulas whose spread is below the level | {np.mean(spread[polymorphic] < level):.1%} |")
    print(f"| AUROC of the model's uncertainty | {uncertainty_auroc(uncertainty, polymorphic):.3f} |")
    distinct = polymorphic & (spread >= level)
    keep = distinct | ~polymorphic
    print(f"| the same, polymorphic formulas with spread above the level against single-structure ones | "
          f"{uncertainty_auroc(uncertainty[keep], distinct[keep]):.3f} |")
    print(f"| Spearman(uncertainty, target), all | {spearmanr(uncertainty, target).statistic:.3f} |")
    print(f"| Spearman(uncertainty, target), polymorphic only | "
          f"{spearmanr(uncertainty[polymorphic], target[polymorphic]).statistic:.3f} |")
    if args.match_sample:
        below = [f for f, p, s in zip(held_out, polymorphic, spread) if p and s < level]
        above = [f for f, p, s in zip(held_out, polymorphic, spread) if p and s >= level]
        wanted = {f for group in (below, above) for f in _sample(group, args.match_sample)}
        structures = _structures(args.data, {corpus.names[i] for f in wanted for i in members[f]})
        print("\n| polymorphic held-out formulas | checked | all polymorphs one structure (StructureMatcher) |")
        print("|---|---:|---:|")
        for label, group in (("spread below the level", below), ("spread above the level", above)):
            picked = _sample(group, args.match_sample)
            same = [_all_match([structures[corpus.names[i]] for i in members[f]]) for f in picked]
            print(f"| {label} | {len(picked)} | {np.mean(same):.1%} |")


def _sample(group: list[str], n: int) -> list[str]:
    rng = np.random.default_rng(0)
    return [group[i] for i in sorted(rng.choice(len(group), min(n, len(group)), replace=False))]


def _structures(path: str, names: set[str]) -> dict:
    """The pymatgen structures of the MP entries ``names``, read from the JSON-lines file."""
    from polysrl_sklearn.corpus import iter_mp_lines
    from polysrl_sklearn.crystal_graph import structure_from_record

    found = {}
    for line in iter_mp_lines(path):
        record = json.loads(line)
        if record["material_id"] in names:
            found[record["material_id"]] = structure_from_record(record)
    return found


def _all_match(structures: list) -> bool:
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matcher = StructureMatcher()
    return all(matcher.fit(structures[0], other) for other in structures[1:])


if __name__ == "__main__":
    main()
