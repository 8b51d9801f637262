"""``polysrl pretrain``: the command-line face of :func:`~polysrl_sklearn.pretraining.pretrain`.

Its arguments are declared here and registered by :mod:`polysrl_sklearn.cli`; torch, pandas
and pymatgen are imported only when the command runs, so that ``polysrl --help`` answers at once.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from .ddp import DistributedContext

from .recipes import (
    ARCHITECTURE_FIELDS,
    DEFAULT_RECIPE,
    ELEMENT_STATISTICS_HEADS,
    PRECISIONS,
    RECIPES,
    TARGET_REDUCTIONS,
    TRAINABLE_PARTS,
    TRAINING_FIELDS,
    get_recipe,
)
from .structure_encoders import STRUCTURE_ENCODERS


def split_holdout(formulas: list[str], fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of held-out formulas (a seeded random ``fraction``)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    mask = np.zeros(len(formulas), dtype=bool)
    mask[rng.permutation(len(formulas))[: int(round(fraction * len(formulas)))]] = True
    return mask


def snapshot_path(export: str | Path, epoch: int) -> Path:
    """Where ``--export-every`` writes the snapshot of ``epoch``: ``model.pt`` -> ``model_e12.pt``."""
    export = Path(export)
    return export.with_name(f"{export.stem}_e{epoch}{export.suffix}")


def pretrain_command(args: argparse.Namespace) -> int:
    """Pretrain on the MP JSON-lines corpus; write checkpoints; optionally export.

    Refuses with a one-line reason (``SystemExit``) a ``--resume`` whose
    checkpoint is unreadable, or of another corpus, model or optimisation
    setting; says so when the checkpoint does not exist yet (a new run
    starts, so the same command both starts and continues a run). Ctrl-C
    prints where the last finished epoch's checkpoint is and how to resume,
    and returns 130.

    Under ``torchrun`` (``torchrun --nproc_per_node=N -m polysrl_sklearn.cli
    pretrain ...``) it trains data-parallel over the N processes
    (:mod:`polysrl_sklearn.ddp`): rank 0 builds the corpus graphs first (the
    others read its cache), computes CHGNet vectors, writes the checkpoint and
    the export and prints; the other ranks print nothing on stdout.
    """
    import contextlib
    import io

    from .ddp import distributed_from_environment

    with distributed_from_environment(args.device) as context:
        quiet = context is not None and not context.is_main
        with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
            return _pretrain(args, context)


def _pretrain(args: argparse.Namespace, context: DistributedContext | None) -> int:
    """:func:`pretrain_command` in one process, or as one rank of ``context``."""
    import numpy as np
    import pandas as pd
    import torch

    from .cli import INTERRUPTED_EXIT_STATUS, resume_hint
    from .corpus import (
        corpus_from_mp_jsonl,
        corpus_from_property_table,
        formula_corpus_from_mp_jsonl,
        with_formula_targets,
    )
    from .ddp import main_first, main_then_broadcast
    from .model_files import ModelFileError
    from .network import ModelConfig, PolySRLNetwork, save_checkpoint
    from .objectives import get_objective
    from .pretraining import TrainingSettings, pretrain
    from .resume import ResumeError
    from .structure_encoders import get_structure_encoder

    main = context is None or context.is_main
    if args.resume and not Path(args.checkpoint).is_file() and main:
        print(f"polysrl pretrain: --resume: no checkpoint at {args.checkpoint} yet; starting a new run",
              file=sys.stderr, flush=True)
    if args.export_every is not None and (args.export_every < 1 or not args.export):
        raise SystemExit("--export-every K needs K >= 1 and --export PATH (snapshots are named after it)")
    # every recipe setting that has a flag and was given overrides the recipe
    overrides = {key: getattr(args, key) for key in ARCHITECTURE_FIELDS + TRAINING_FIELDS
                 if getattr(args, key, None) is not None}
    recipe = get_recipe(args.recipe).replace(**overrides)
    if recipe.train_only != "all" and not args.init_from:
        raise SystemExit(f"polysrl pretrain: training only the {recipe.train_only.replace('_', ' ')} needs "
                         "--init-from, the full checkpoint of the pretrained network it continues")
    if recipe.variance_anchor > 0 and not args.init_from:
        raise SystemExit("polysrl pretrain: --variance-anchor adds the stage-start network's own log-variance to "
                         "the variance targets; it needs --init-from, the full checkpoint of a pretrained network")
    error_stage = args.objective == "error_variance"
    if recipe.variance_error > 0 and not error_stage:
        raise SystemExit("polysrl pretrain: --variance-error is the scale of the error_variance objective's error "
                         "term; give --objective error_variance too")
    if args.variance_error_floor is not None and not error_stage:
        raise SystemExit("polysrl pretrain: --variance-error-floor belongs to the error_variance objective's error "
                         "term; give --objective error_variance too")
    if args.anchor_from and recipe.variance_anchor <= 0 and not error_stage:
        raise SystemExit("polysrl pretrain: --anchor-from names the network whose log-variance --variance-anchor "
                         "adds to the variance targets; give --variance-anchor S > 0 too")
    if error_stage and (not args.init_from or recipe.train_only != "variance_head" or not args.property_table):
        raise SystemExit("polysrl pretrain --objective error_variance is a variance stage of a pretrained network: "
                         "it needs --init-from MODEL, --train-only variance_head (or a recipe that sets it) and "
                         "--property-table CSV (the property whose head's errors the uncertainty learns)")
    if args.cuda_graphs:  # before the corpus is loaded, which takes minutes
        from .graphed_steps import graphable_problems
        from .pretraining import resolve_device

        device = resolve_device(args.device) if context is None else context.training_device(args.device)
        problems = graphable_problems(args.objective, device, context is not None, recipe.variance_mixtures,
                                      recipe.variance_anchor, recipe.element_statistics)
        if problems:
            raise SystemExit("polysrl pretrain --cuda-graphs: " + "; ".join(problems))
    torch.set_num_threads(args.threads) if args.threads else None
    started = time.time()
    objective = get_objective(args.objective)
    from_targets = objective.pretrains_from == "targets"
    stored_held_out = None
    if error_stage:  # the pretraining formulas of the model it continues, with the property where known
        stored_held_out = held_out_of(args.init_from)
        compositions, values, reductions = property_columns(args)
        corpus = with_formula_targets(formula_corpus_from_mp_jsonl(args.data, args.limit), compositions, values,
                                      reductions)
    elif from_targets:
        if not args.property_table:
            raise SystemExit("--objective supervised needs --property-table CSV (e.g. mp-non-metals.csv)")
        if len(args.property_table) != 1:
            raise SystemExit("--objective supervised pretrains on one property: give one --property-table")
        table = pd.read_csv(args.property_table[0], nrows=args.limit)
        corpus = corpus_from_property_table(table[args.composition_column[0]].tolist(),
                                            table[args.target_column[0]].to_numpy())
    else:
        with main_first(context):  # rank 0 builds the graph cache, the other ranks read it
            corpus = corpus_from_mp_jsonl(args.data, args.limit, recipe.cutoff, recipe.max_neighbors, args.n_jobs,
                                          args.cache_dir, verbose=main)
        if recipe.multitask_weight > 0:
            if not args.property_table:
                raise SystemExit("--multitask-weight needs --property-table CSV (e.g. mp-non-metals.csv)")
            compositions, values, reductions = property_columns(args)
            corpus = with_formula_targets(corpus, compositions, values, reductions)
            known = np.isfinite(corpus.targets.reshape(len(corpus.formulas), -1)).sum(axis=0)
            print(f"multi-task targets ({', '.join(args.target_column)}) for {', '.join(map(str, known))} of "
                  f"{len(corpus.formulas)} formulas (held-out formulas' targets are not trained on)", flush=True)
    held_out = (split_holdout(corpus.formulas, args.holdout, args.seed) if stored_held_out is None
                else np.isin(corpus.formulas, stored_held_out))
    train_corpus = corpus.subset_formulas(~held_out)
    graph_seconds = time.time() - started
    print(f"corpus: {len(corpus.names)} structures, {len(corpus.formulas)} formulas "
          f"({int((corpus.polymorph_counts >= 2).sum())} polymorphic); dropped "
          f"{ {k: len(v) for k, v in corpus.dropped.items()} }; held out {int(held_out.sum())} formulas; "
          f"graphs ready in {graph_seconds:.0f} s", flush=True)
    structure_vectors = None
    if get_structure_encoder(recipe.structure_encoder).external and objective.uses_structures:
        all_vectors = main_then_broadcast(context, lambda: external_structure_vectors(args, corpus))
        structure_vectors = all_vectors[np.flatnonzero(~held_out[corpus.formula_of_structure])]
    config = ModelConfig(**recipe.architecture(), objective=args.objective,
                         structure_target_dim=0 if structure_vectors is None else int(structure_vectors.shape[1]),
                         property_count=corpus.property_count)
    torch.manual_seed(args.seed)
    network = PolySRLNetwork(config)
    settings = TrainingSettings(**recipe.training(), seed=args.seed, precision=args.precision,
                                cuda_graphs=args.cuda_graphs)
    held = [f for f, h in zip(corpus.formulas, held_out) if h] if stored_held_out is None else stored_held_out
    corpus_file = args.property_table[0] if from_targets and not error_stage else args.data
    corpus_info = {"file": Path(corpus_file or "").name, "limit": args.limit,
                   "structures": len(corpus.names), "formulas": len(corpus.formulas), "dropped": corpus.dropped}
    if args.init_from:
        corpus_info["initialised_from"] = initialise_from(network, args.init_from, held,
                                                          only_stoichiometry=error_stage)
    anchor_encoder = None
    if args.anchor_from:
        anchor_encoder, corpus_info["anchored_to"] = anchor_from(args.anchor_from, held)

    def export(path: str | Path, network: PolySRLNetwork, history: list[dict]) -> None:
        save_checkpoint(path, network, extra={
            "history": history, "settings": settings.__dict__, "held_out_formulas": held,
            "corpus": corpus_info, "graph_seconds": graph_seconds})

    def export_snapshot(epoch: int, network: PolySRLNetwork, history: list[dict]) -> None:
        if epoch % args.export_every == 0:
            export(snapshot_path(args.export, epoch), network, history)

    try:
        history = pretrain(network, train_corpus, settings, args.device, args.checkpoint,
                           resume=args.resume, verbose=main, structure_vectors=structure_vectors,
                           cache_dir=args.cache_dir, distributed=context, anchor_encoder=anchor_encoder,
                           extra={"held_out_formulas": held, "corpus": corpus_info},
                           on_epoch_end=export_snapshot if args.export_every else None)
    except (ResumeError, ModelFileError) as exc:
        raise SystemExit(f"polysrl pretrain: {exc}") from None
    except KeyboardInterrupt:
        checkpoint = Path(args.checkpoint)
        if checkpoint.is_file() and (args.resume or checkpoint.stat().st_mtime >= started):
            print(f"\ninterrupted: the checkpoint of the last finished epoch is safe in {checkpoint}; "
                  f"resume with: {resume_hint(getattr(args, 'argv', None) or sys.argv[1:])}", file=sys.stderr)
        else:
            print("\ninterrupted before the first epoch finished; no checkpoint was written",
                  file=sys.stderr)
        return INTERRUPTED_EXIT_STATUS
    if args.export and main:
        export(args.export, network, history)
        print(f"exported stoichiometry encoder to {args.export}")
    print(json.dumps(history[-1], default=float))
    return 0


def property_columns(args: argparse.Namespace) -> tuple[list[str], np.ndarray, list[str]]:
    """The compositions of every ``--property-table`` row and their targets, one column per table.

    Returns the tables' composition cells in order, an array (rows, tables)
    holding each row's property in its table's column and NaN in the others
    (one table: a vector), and each table's ``--target-reduce``.
    """
    import numpy as np
    import pandas as pd

    tables = args.property_table
    columns = {}
    for option in ("composition_column", "target_column", "target_reduce"):
        given = getattr(args, option)
        if len(given) not in (1, len(tables)):
            raise SystemExit(f"--{option.replace('_', '-')} takes one value or one per --property-table "
                             f"({len(tables)}); got {len(given)}")
        columns[option] = given * len(tables) if len(given) == 1 else given
    compositions: list[str] = []
    blocks = []
    for i, path in enumerate(tables):
        table = pd.read_csv(path)
        for option in ("composition_column", "target_column"):
            if columns[option][i] not in table.columns:
                raise SystemExit(f"--property-table {path} has no column {columns[option][i]!r} "
                                 f"(columns: {', '.join(map(str, table.columns))})")
        compositions += table[columns["composition_column"][i]].tolist()
        block = np.full((len(table), len(tables)), np.nan)
        block[:, i] = table[columns["target_column"][i]].to_numpy(dtype=float)
        blocks.append(block)
    values = np.concatenate(blocks)
    return compositions, values[:, 0] if len(tables) == 1 else values, columns["target_reduce"]


def anchor_from(path: str, held_out_formulas: list[str]) -> tuple:
    """The stoichiometry encoder of the model file at ``path``, as ``--anchor-from``'s anchor.

    Raises SystemExit, naming the file, if it cannot be read or held out other
    formulas than this run. Returns the encoder and what the run records about it.
    """
    from .model_files import ModelFileError
    from .network import load_checkpoint

    try:
        source, payload = load_checkpoint(path)
    except (ModelFileError, FileNotFoundError) as exc:
        raise SystemExit(f"polysrl pretrain --anchor-from: {exc}") from None
    stored = payload.get("held_out_formulas")
    if stored is None or sorted(stored) != sorted(held_out_formulas):
        raise SystemExit(f"polysrl pretrain --anchor-from {path}: it must have held out the same formulas as this "
                         "run (its file lists none, or others); use a model of the same --data, --limit, --holdout "
                         "and --seed")
    return source.stoichiometry, {"file": Path(path).name, "epochs": len(payload.get("history", []))}


def held_out_of(path: str) -> list[str]:
    """The held-out formulas stored in the model file or checkpoint at ``path`` (SystemExit naming it if none)."""
    from .model_files import ModelFileError
    from .validation import held_out_formulas

    try:
        return held_out_formulas(path)
    except (ModelFileError, FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"polysrl pretrain --init-from: {exc}") from None


def initialise_from(network, path: str, held_out_formulas: list[str], only_stoichiometry: bool = False) -> dict:
    """Load the weights of the full checkpoint at ``path`` into ``network`` (``--init-from``).

    With ``only_stoichiometry`` (a stage that reads no structure) only the stoichiometry
    encoder is loaded, so a model file (which lacks the structure side) will do.
    Raises SystemExit, naming the checkpoint, if it held out other formulas or its
    weights do not fit ``network`` exactly (an exported model lacks the structure side).
    Returns what the run records about it: the file name and the epochs it had trained.
    """
    from .model_files import ModelFileError
    from .network import load_checkpoint

    try:
        source, payload = load_checkpoint(path)
    except (ModelFileError, FileNotFoundError) as exc:
        raise SystemExit(f"polysrl pretrain --init-from: {exc}") from None
    stored = payload.get("held_out_formulas")
    if stored is not None and sorted(stored) != sorted(held_out_formulas):
        raise SystemExit(f"polysrl pretrain --init-from {path}: it held out other formulas than this run; "
                         "use the --data, --limit, --holdout and --seed it was trained with")
    try:
        if only_stoichiometry:
            network.stoichiometry.load_state_dict(source.stoichiometry.state_dict())
        else:
            network.load_state_dict(source.state_dict())
    except RuntimeError as exc:
        reason = " ".join(str(exc).split())[:300]
        raise SystemExit(f"polysrl pretrain --init-from {path}: its weights do not fit this run's model "
                         f"(a full checkpoint of the same recipe is needed; {reason})") from None
    return {"file": Path(path).name, "epochs": len(payload.get("history", []))}


def external_structure_vectors(args: argparse.Namespace, corpus) -> np.ndarray:
    """CHGNet vectors of every structure of an MP corpus, in corpus order, cached under ``--cache-dir``."""
    from .chgnet_vectors import corpus_chgnet_vectors

    return corpus_chgnet_vectors(args.data, corpus, args.cache_dir, args.limit, verbose=True)


def add_pretrain_parser(sub: argparse._SubParsersAction, full: bool = True) -> argparse.ArgumentParser:
    """Declare ``polysrl pretrain`` and its arguments on the ``polysrl`` sub-command parsers.

    With ``full`` the objective choices are listed (it imports torch); without it the parser
    accepts the same arguments but lists no names, which keeps ``polysrl --help`` fast.
    """
    objectives: list[str] | None = None
    structures_env = "POLYSRL_MP_STRUCTURES"
    if full:
        from .corpus import MP_STRUCTURES_ENV as structures_env
        from .objectives import OBJECTIVES

        objectives = list(OBJECTIVES)
    p = sub.add_parser("pretrain", help="contrastive pretraining on MP structures")
    p.add_argument("--data", default=None,
                   help=f"MP structures .jsonl.gz (default: ${structures_env})")
    p.add_argument("--checkpoint", default="polysrl_pretrain.ckpt",
                   help="full checkpoint written every epoch (resumable)")
    p.add_argument("--resume", action="store_true",
                   help="continue from --checkpoint if it exists (it must be of the same corpus, model and "
                        "settings; only --epochs may grow); a new run starts, with a notice, if it does not")
    p.add_argument("--export", default=None, help="write the small stoichiometry-only model here")
    p.add_argument("--export-every", type=int, default=None, metavar="K",
                   help="also export a snapshot every K epochs, next to --export (model.pt -> model_e12.pt)")
    p.add_argument("--recipe", default=DEFAULT_RECIPE, choices=list(RECIPES),
                   help="architecture and optimisation settings: "
                        + "; ".join(f"{name}: {recipe.description}" for name, recipe in RECIPES.items())
                        + f" (default: {DEFAULT_RECIPE})")
    p.add_argument("--paper", dest="recipe", action="store_const", const="paper",
                   help="alias of --recipe paper")
    p.add_argument("--objective", default="polysrl", choices=objectives)
    p.add_argument("--property-table", nargs="+", default=None, metavar="CSV",
                   help="CSV(s) of compositions and a DFT property: --objective supervised's target (one table), or "
                        "--multitask-weight's heads (one head per table)")
    p.add_argument("--composition-column", nargs="+", default=["composition"], metavar="COLUMN",
                   help="composition column of each --property-table (one name: the same in all)")
    p.add_argument("--target-column", nargs="+", default=["band_gap"], metavar="COLUMN",
                   help="property column of each --property-table (one name: the same in all)")
    p.add_argument("--target-reduce", nargs="+", default=["mean"], choices=list(TARGET_REDUCTIONS),
                   help="how the rows of one formula become its multi-task target, per table: their mean or their "
                        "lowest value (e.g. the ground-state formation energy)")
    p.add_argument("--hidden-dim", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--max-polymorphs", type=int, default=None, help="default: the recipe's")
    p.add_argument("--cutoff", type=float, default=None, help="crystal-graph radius in Angstrom (default: the recipe's)")
    p.add_argument("--max-neighbors", type=int, default=None, help="default: the recipe's")
    p.add_argument("--structure-encoder", default=None, choices=list(STRUCTURE_ENCODERS),
                   help="structure side (default: the recipe's, graph_network); *_frozen: joint warm-up, then "
                        "cached; chgnet: CHGNet vectors (extra 'chgnet')")
    p.add_argument("--warmup-epochs", type=int, default=None,
                   help="frozen structure sides: joint epochs before caching (default: the recipe's)")
    p.add_argument("--refresh-every", type=int, default=None,
                   help="frozen structure sides: a joint epoch and a new cache every K epochs (0: never)")
    p.add_argument("--init-from", default=None, metavar="CHECKPOINT",
                   help="start from the weights of this full checkpoint (same architecture, corpus and held-out "
                        "formulas); a new run: new optimiser, epochs counted from 0 (--objective error_variance: a "
                        "model file will do, only its stoichiometry encoder is read)")
    p.add_argument("--train-only", default=None, choices=list(TRAINABLE_PARTS),
                   help="train every parameter, or only the variance head (the mean vectors stay exactly as "
                        "they are; needs --init-from); default: the recipe's (all, but variance_head for "
                        "chgnet_mt_variance)")
    p.add_argument("--precision", default="fp32", choices=list(PRECISIONS),
                   help="CUDA arithmetic: fp32, tf32 matrix products, or bf16 autocast")
    p.add_argument("--cuda-graphs", action="store_true",
                   help="on CUDA, replay each step from one captured CUDA graph (padded batches; objectives "
                        "polysrl and polysrl_nosample, one process; a seeded run differs from an eager one)")
    p.add_argument("--element-features", default=None, choices=["matscholar", "magpie", "both"],
                   help="element input table (default: the recipe's, matscholar)")
    p.add_argument("--element-skip", action=argparse.BooleanOptionalAction, default=None,
                   help="fraction-pooled input-feature skip into the mean vector")
    p.add_argument("--positive-weight", type=float, default=None, help="weight of positive pairs (paper: 1)")
    p.add_argument("--polymorph-spread", type=float, default=None,
                   help="weight of the polymorph-spread likelihood term (paper: 0)")
    p.add_argument("--variance-matching", type=float, default=None,
                   help="weight of the term matching each formula's log-variance to its polymorphs' spread (paper: 0)")
    p.add_argument("--variance-count", type=float, default=None,
                   help="with --variance-matching: levels each further polymorph in the batch adds to the target "
                        "(0: the spread alone)")
    p.add_argument("--variance-mixtures", type=float, default=None,
                   help="weight of the variance target of synthetic doped/alloyed mixtures of a batch's formulas "
                        "(their parents' polymorphs together; 0: off; eager steps only)")
    p.add_argument("--variance-anchor", type=float, default=None,
                   help="with --variance-matching and --init-from: scale of the starting network's own log-variance "
                        "(centred on the batch) added to every variance target (0: off; eager steps only)")
    p.add_argument("--anchor-from", default=None, metavar="MODEL",
                   help="with --variance-anchor (or --objective error_variance): take the anchor's log-variance from "
                        "this model file (same held-out formulas) instead of the starting network")
    p.add_argument("--variance-error", type=float, default=None,
                   help="with --objective error_variance: scale of the property head's centred log squared error "
                        "added to each formula's stage-start log-variance (0: off); that stage takes its "
                        "held-out formulas from --init-from, not from --holdout and --seed")
    p.add_argument("--variance-error-floor", type=float, default=None,
                   help="with --objective error_variance: added to each squared error of the property head before "
                        "its log, in the property's unit squared (default 1e-4)")
    p.add_argument("--decorrelation", type=float, default=None,
                   help="weight of the VICReg-style variance-covariance penalty (paper: 0)")
    p.add_argument("--beta", type=float, default=None, help="KL weight (default: the recipe's)")
    p.add_argument("--multitask-weight", type=float, default=None,
                   help="weight of an auxiliary L1 head on --property-table's --target-column (0: off)")
    p.add_argument("--element-statistics", type=float, default=None,
                   help="weight of an auxiliary head that reconstructs each formula's 132 Magpie statistics "
                        "(standardised) from its mean vector, so the features keep their input's chemistry "
                        "(0: off; polysrl objectives, eager steps only)")
    p.add_argument("--element-statistics-head", default=None, choices=ELEMENT_STATISTICS_HEADS,
                   help="how the mean vector reconstructs them: 'linear', a head on the whole vector (default), or "
                        "'coordinates', its first 132 coordinates one-to-one (needs --hidden-dim >= 132)")
    p.add_argument("--lr-schedule", default=None, choices=["constant", "cosine"])
    p.add_argument("--holdout", type=float, default=0.05, help="fraction of formulas held out")
    p.add_argument("--limit", type=int, default=None, help="use only the first N structures")
    p.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "polysrl"))
    p.add_argument("--n-jobs", type=int, default=-1)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=pretrain_command)
    return p
