import gzip
import json

import numpy as np
import pytest
import torch
from conftest import prototype_structures

from polysrl_sklearn.cli import main
from polysrl_sklearn.corpus import corpus_from_mp_jsonl
from polysrl_sklearn.network import load_checkpoint
from polysrl_sklearn.pretrain_command import split_holdout


def write_jsonl(path, structures):
    with gzip.open(path, "wt") as handle:
        for i, s in enumerate(structures):
            handle.write(json.dumps({
                "material_id": f"mp-{i}", "formula": s.composition.reduced_formula, "nsites": len(s),
                "lattice": list(s.lattice.abc) + list(s.lattice.angles), "species": [x.symbol for x in s.species],
                "frac_coords": s.frac_coords.tolist()}) + "\n")


def run(tmp_path, name, epochs, resume=False, extra=()):
    args = ["pretrain", "--data", str(tmp_path / "mp.jsonl.gz"), "--checkpoint", str(tmp_path / f"{name}.ckpt"),
            "--export", str(tmp_path / f"{name}.pt"), "--epochs", str(epochs), "--hidden-dim", "8",
            "--batch-size", "4", "--holdout", "0", "--n-jobs", "1", "--cache-dir", str(tmp_path / "cache"),
            "--device", "cpu", "--seed", "3"]
    assert main(args + (["--resume"] if resume else []) + list(extra)) == 0


@pytest.mark.slow
def test_pretrain_checkpoints_resume_and_export(tmp_path):
    write_jsonl(tmp_path / "mp.jsonl.gz", prototype_structures())
    corpus = corpus_from_mp_jsonl(tmp_path / "mp.jsonl.gz", n_jobs=1, cutoff=6.0, verbose=False)
    assert len(corpus.names) == len(prototype_structures())
    assert (corpus.polymorph_counts >= 2).sum() == 3  # ZnS, NaCl and C
    run(tmp_path, "straight", 2)
    run(tmp_path, "split", 1)  # "interrupted" after one epoch
    _, first = load_checkpoint(tmp_path / "split.ckpt")
    assert len(first["history"]) == 1
    run(tmp_path, "split", 2, resume=True)
    straight, a = load_checkpoint(tmp_path / "straight.ckpt")
    resumed, b = load_checkpoint(tmp_path / "split.ckpt")
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    for (k, v), (_, w) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.allclose(v, w), k
    exported, payload = load_checkpoint(tmp_path / "straight.pt")
    assert len(payload["history"]) == 2 and "optimizer" not in payload
    assert (tmp_path / "straight.pt").stat().st_size < (tmp_path / "straight.ckpt").stat().st_size
    # `polysrl export` of the full checkpoint keeps the history and the corpus description
    assert main(["export", str(tmp_path / "straight.ckpt"), str(tmp_path / "again.pt")]) == 0
    _, again = load_checkpoint(tmp_path / "again.pt")
    assert again["corpus"] == payload["corpus"] and again["corpus"]["structures"] == len(corpus.names)
    assert payload["corpus"]["file"] == "mp.jsonl.gz"
    assert len(again["history"]) == 2
    # snapshots every 2 epochs of a 3-epoch run: only epoch 2, equal to the 2-epoch run's export
    run(tmp_path, "snap", 3, extra=["--export-every", "2"])
    assert sorted(p.name for p in tmp_path.glob("snap_e*.pt")) == ["snap_e2.pt"]
    snapshot, snap_payload = load_checkpoint(tmp_path / "snap_e2.pt")
    assert len(snap_payload["history"]) == 2 and "optimizer" not in snap_payload
    for (k, v), (_, w) in zip(exported.stoichiometry.state_dict().items(),
                              snapshot.stoichiometry.state_dict().items()):
        assert torch.allclose(v, w), k


def test_export_every_needs_a_positive_step_and_an_export_path(tmp_path):
    base = ["pretrain", "--data", str(tmp_path / "absent.jsonl.gz"), "--checkpoint", str(tmp_path / "c.ckpt")]
    with pytest.raises(SystemExit, match="--export-every K needs"):
        main(base + ["--export-every", "2"])
    with pytest.raises(SystemExit, match="--export-every K needs"):
        main(base + ["--export-every", "0", "--export", str(tmp_path / "m.pt")])


def test_holdout_split_is_seeded_fraction():
    formulas = [f"X{i}" for i in range(1000)]
    a, b = split_holdout(formulas, 0.05, 0), split_holdout(formulas, 0.05, 0)
    assert a.sum() == 50 and np.array_equal(a, b)
    assert not np.array_equal(a, split_holdout(formulas, 0.05, 1))


def test_uncertainty_diagnostics_script_on_a_tiny_checkpoint(tmp_path, monkeypatch, capsys):
    import runpy
    import sys
    from pathlib import Path

    write_jsonl(tmp_path / "mp.jsonl.gz", prototype_structures())
    run(tmp_path, "tiny", 1)
    script = Path(__file__).parents[1] / "benchmarks" / "uncertainty_diagnostics.py"
    monkeypatch.setattr(sys, "argv", [str(script), "--checkpoint", str(tmp_path / "tiny.ckpt"), "--data",
                                      str(tmp_path / "mp.jsonl.gz"), "--cache-dir", str(tmp_path / "cache"),
                                      "--vectors-cache", str(tmp_path / "vectors.npz")])
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    single = next(line for line in out.splitlines() if line.startswith("| 1 structure |"))
    assert single.split("|")[3].strip() == "0.000"  # one structure: no spread around its own centroid
    assert "AUROC for >= 2 polymorphs" in out and (tmp_path / "vectors.npz").exists()
