"""Plot the pretraining history stored in a model file (loss, uncertainty, c and d per epoch).

    python benchmarks/plot_pretraining.py [--model default] [--out docs/images/pretraining_history.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

try:
    import matplotlib
except ImportError:  # figures are optional: the package itself never plots
    raise SystemExit(f"{__file__} draws figures with matplotlib: pip install 'polysrl-sklearn[plots]'") from None

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from polysrl_sklearn.featurizer import resolve_pretrained  # noqa: E402
from polysrl_sklearn.network import load_checkpoint  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--out", type=Path, default=Path("docs/images/pretraining_history.png"))
    args = parser.parse_args()
    _, payload = load_checkpoint(resolve_pretrained(args.model))
    history = payload["history"]
    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    axes[0].plot(epochs, [h["contrastive"] for h in history], marker="o")
    axes[0].set_title("soft contrastive loss")
    axes[1].semilogy(epochs, [h["mean_uncertainty"] for h in history], marker="o", color="tab:orange")
    axes[1].set_title("mean uncertainty (training batches)")
    axes[2].plot(epochs, [h["c"] for h in history], marker="o", label="c")
    axes[2].plot(epochs, [h["d"] for h in history], marker="o", label="d")
    axes[2].legend()
    axes[2].set_title("soft threshold parameters")
    for ax in axes:
        ax.set_xlabel("epoch")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print("| epoch | loss | contrastive | KL | c | d | mean uncertainty | seconds |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for h in history:
        print(f"| {h['epoch']} | {h['loss']:.5f} | {h['contrastive']:.5f} | {h['kl']:.1f} | {h['c']:.2f} | "
              f"{h['d']:.2f} | {h['mean_uncertainty']:.3g} | {h['seconds']:.0f} |")
    print(f"total {sum(h['seconds'] for h in history) / 60:.1f} min; plot written to {args.out}")


if __name__ == "__main__":
    main()
