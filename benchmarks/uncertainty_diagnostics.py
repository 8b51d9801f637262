"""Why does (or doesn't) a model's uncertainty track polymorphism? Geometry of the learned space.

Needs a *full* pretraining checkpoint (with the structure encoder), e.g. the
one ``polysrl pretrain --checkpoint PATH`` writes every epoch; the shipped
models keep only the stoichiometry encoder.

For every MP formula it embeds all polymorphs with the structure encoder and
the formula with the stoichiometry encoder, then prints:

* the soft-contrastive threshold distance ``d / c`` (a stoichiometry sample
  this close to a structure has match probability 1/2);
* the spread of polymorphs (RMS distance of a formula's structure vectors to
  their centroid) against the residual (RMS distance of the structure vectors
  to the formula's mean vector), for single-structure and polymorphic formulas;
* AUROC for "formula has >= 2 polymorphs" of the model's uncertainty and of
  the residual itself. If even the residual does not separate the groups, no
  variance head trained to cover the structures can.

Usage::

    python benchmarks/uncertainty_diagnostics.py --checkpoint runs/mp64.ckpt \\
        [--data PATH.jsonl.gz] [--cache-dir DIR] [--vectors-cache FILE.npz]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from polysrl_sklearn.corpus import corpus_from_mp_jsonl
from polysrl_sklearn.featurizer import PolySRLFeaturizer
from polysrl_sklearn.objectives import get_objective
from polysrl_sklearn.soft_contrastive import SoftContrastiveLoss


def structure_vectors(network, corpus, batch: int = 2048) -> np.ndarray:
    """Crystal vectors of every structure of ``corpus`` (eval mode, no gradients)."""
    network.eval()
    with torch.no_grad():
        return np.concatenate([
            network.structure(corpus.graphs.collate(np.arange(s, min(s + batch, len(corpus.names))))).numpy()
            for s in range(0, len(corpus.names), batch)])


def per_formula_rms(squared: np.ndarray, owner: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Root of the per-formula mean of ``squared`` (one value per structure)."""
    return np.sqrt(np.bincount(owner, weights=squared, minlength=len(counts)) / counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="full pretraining checkpoint")
    parser.add_argument("--data", default=None, help="MP structures .jsonl.gz (default: $POLYSRL_MP_STRUCTURES)")
    parser.add_argument("--cache-dir", default=None, help="crystal graph cache directory")
    parser.add_argument("--vectors-cache", default=None, help="npz to reuse/store the structure vectors")
    args = parser.parse_args()

    featurizer = PolySRLFeaturizer(pretrained=args.checkpoint).fit([])
    network = featurizer.network_
    if get_objective(network.config.objective).loss is not SoftContrastiveLoss:
        raise SystemExit(f"{args.checkpoint} was trained with {network.config.objective!r}, not a contrastive objective")
    corpus = corpus_from_mp_jsonl(args.data, None, network.config.cutoff, network.config.max_neighbors,
                                  cache_dir=args.cache_dir)
    cache = Path(args.vectors_cache) if args.vectors_cache else None
    if cache is not None and cache.exists():
        vectors = np.load(cache)["structure_vectors"]
    else:
        vectors = structure_vectors(network, corpus)
        if cache is not None:
            np.savez(cache, structure_vectors=vectors)
    owner = corpus.formula_of_structure
    counts = corpus.polymorph_counts
    features = featurizer.transform(corpus.formulas)  # mean vector, then the uncertainty
    means, uncertainty = features[:, :-1], features[:, -1]
    centroids = np.zeros_like(means)
    np.add.at(centroids, owner, vectors)
    centroids /= counts[:, None]
    spread = per_formula_rms(((vectors - centroids[owner]) ** 2).sum(1), owner, counts)
    residual = per_formula_rms(((vectors - means[owner]) ** 2).sum(1), owner, counts)
    polymorphic = counts >= 2
    threshold = (network.loss.log_d - network.loss.log_c).exp().item()

    print(f"{len(corpus.names)} structures, {len(counts)} formulas ({polymorphic.sum()} polymorphic); "
          f"F={network.config.hidden_dim}, structure pooling={network.config.structure_pooling}")
    print(f"soft-contrastive threshold d/c = {threshold:.3f}")
    print("| formulas | n | polymorph spread (RMS) | residual to mean vector (RMS) | mean uncertainty |")
    print("|---|---:|---:|---:|---:|")
    for name, mask in (("1 structure", ~polymorphic), (">= 2 polymorphs", polymorphic)):
        print(f"| {name} | {mask.sum()} | {spread[mask].mean():.3f} | {residual[mask].mean():.3f} | "
              f"{uncertainty[mask].mean():.3g} |")
    print(f"AUROC for >= 2 polymorphs: model uncertainty {roc_auc_score(polymorphic, uncertainty):.3f}; "
          f"residual {roc_auc_score(polymorphic, residual):.3f}")


if __name__ == "__main__":
    main()
