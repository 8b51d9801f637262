"""Command line: ``polysrl pretrain``, ``benchmark``, ``export`` and ``featurize``.

The parser and ``main`` are here, with the ``benchmark`` and ``export`` commands;
``pretrain`` and ``featurize`` are declared in :mod:`polysrl_sklearn.pretrain_command` and
:mod:`polysrl_sklearn.featurize_command`. torch, pandas and pymatgen are imported inside the
sub-commands, so that ``polysrl --help`` answers at once.
"""

from __future__ import annotations

import argparse
import functools
import shlex
import sys
from collections.abc import Collection
from pathlib import Path

from .featurize_command import add_featurize_parser
from .pretrain_command import add_pretrain_parser

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_EXIT_STATUS = 130
COMMANDS = ("pretrain", "benchmark", "export", "featurize")


def resume_hint(argv: list[str]) -> str:
    """The command line that resumes the run of ``argv`` (``argv`` plus ``--resume``)."""
    return shlex.join(["polysrl", *argv, *([] if "--resume" in argv else ["--resume"])])


def export_command(args: argparse.Namespace) -> int:
    """Write the small stoichiometry-only model of a full (resumable) checkpoint."""
    from .model_files import ModelFileError
    from .network import load_checkpoint, save_checkpoint

    try:
        network, payload = load_checkpoint(args.checkpoint)
    except (ModelFileError, FileNotFoundError) as exc:
        raise SystemExit(f"polysrl export: {exc}") from None
    keep = {k: payload[k] for k in ("history", "settings", "held_out_formulas", "corpus", "graph_seconds")
            if k in payload}
    if args.delta_of is None:
        save_checkpoint(args.output, network, extra=keep)
    else:
        from .model_files import write_delta
        from .network import CHECKPOINT_FORMAT

        complete = Path(f"{args.output}.complete.tmp")
        save_checkpoint(complete, network, extra=keep)
        try:
            counts = write_delta(complete, args.delta_of, args.output, CHECKPOINT_FORMAT)
        except (ModelFileError, FileNotFoundError) as exc:
            raise SystemExit(f"polysrl export --delta-of: {exc}") from None
        finally:
            complete.unlink(missing_ok=True)
        print(f"{counts['stored']} weight tensors stored, {counts['shared']} taken from {args.delta_of}")
    print(f"exported {args.checkpoint} ({network.config.objective}, F={network.config.hidden_dim}, "
          f"{len(payload.get('history', []))} epochs) to {args.output}")
    return 0


def benchmark_command(args: argparse.Namespace) -> int:
    """Run the representation-learning benchmark and print a markdown table."""
    import pandas as pd
    import torch

    from .benchmark import (
        FEATURIZER_METHODS,
        MAGPIE,
        combine_runs,
        markdown_table,
        pool_seed_runs,
        run_benchmark,
        run_matbench,
        with_heads,
    )
    from .datasets import MATBENCH_MP_TASKS, MATBENCH_TASKS, TASKS
    from .featurizer import SHIPPED_MODELS

    if args.replace_with and not args.table_from:
        raise SystemExit("--replace-with needs --table-from")
    if args.pool_seeds and not args.table_from:
        raise SystemExit("--pool-seeds needs --table-from")
    if args.table_from:
        merge = pool_seed_runs if args.pool_seeds else combine_runs
        results = merge([pd.read_csv(path) for path in args.table_from])
        if args.replace_with:
            results = combine_runs([results, merge([pd.read_csv(path) for path in args.replace_with])])
        if args.head:  # only the rows of these heads, in this order
            results = with_heads(results)
            results = pd.concat([results[results["head"] == head] for head in dict.fromkeys(args.head)],
                                ignore_index=True)
        if args.methods:  # only the rows of these methods, each head's in this order
            missing = [method for method in args.methods if method not in set(results["method"])]
            if missing:
                raise SystemExit(f"--methods {' '.join(missing)}: no rows of that method in the --table-from "
                                 f"files (their methods: {', '.join(dict.fromkeys(results['method']))})")
            results = with_heads(results)
            results = pd.concat([results[(results["head"] == head) & (results["method"] == method)]
                                 for head in dict.fromkeys(results["head"]) for method in dict.fromkeys(args.methods)],
                                ignore_index=True)
        print(markdown_table(results))
        if args.csv:
            results.to_csv(args.csv, index=False)
        return 0
    if args.transfer_only:
        args.transfer = True
    tasks = args.tasks if args.tasks is not None else list(TASKS)
    methods = args.methods or [MAGPIE, *FEATURIZER_METHODS]
    bad_matbench = sorted(set(args.matbench or []) - set(MATBENCH_TASKS + MATBENCH_MP_TASKS))
    if bad_matbench:
        raise SystemExit(f"unknown matbench task {bad_matbench}; choose from {list(MATBENCH_TASKS + MATBENCH_MP_TASKS)}")
    if not args.matbench and (args.fold_log or sorted(args.folds) != list(range(5))):
        raise SystemExit("--folds and --fold-log apply to the Matbench tasks; name them with --matbench")
    known = {MAGPIE, *FEATURIZER_METHODS, *SHIPPED_MODELS}
    unknown_methods = {m for m in set(methods) - known if not Path(m).is_file()}
    unknown = sorted(set(tasks) - set(TASKS)) + sorted(unknown_methods)
    if unknown:
        raise SystemExit(f"unknown task/method {unknown}; tasks: {list(TASKS)}; "
                         f"methods: {[MAGPIE, *FEATURIZER_METHODS]}, a shipped model name "
                         f"{list(SHIPPED_MODELS)} or a checkpoint file")
    torch.set_num_threads(args.threads) if args.threads else None
    heads = list(dict.fromkeys(args.head or ["paper"]))
    results = run_benchmark(tasks, methods, args.seeds, args.data_dir, log=lambda line: print(line, flush=True),
                            transfer=args.transfer, transfer_epochs=args.transfer_epochs, device=args.device,
                            heads=heads, representation=not args.transfer_only)
    if args.matbench:
        results = pd.concat([results, run_matbench(args.matbench, methods, folds=args.folds, data_dir=args.data_dir,
                                                   seeds=args.seeds, heads=heads, fold_log=args.fold_log)],
                            ignore_index=True)
    results = with_heads(results).assign(seeds=len(args.seeds), seed_ids=" ".join(map(str, args.seeds)))
    if "seconds" in results:
        for head in heads:
            print(f"{head} head: {results.loc[results['head'] == head, 'seconds'].sum():.0f} s in all")
    folds = f"5 folds (Matbench: {len(args.folds)})" if args.matbench else "5 folds"
    print(f"\nMAE mean (std) over {len(args.seeds)} seeds x {folds}; frozen features under the head in "
          "brackets, and '+TL' = fine-tuned (x10 for formation_enthalpy, metallic, seebeck; zt: MAE of ZT from "
          "predicted properties)")
    print(markdown_table(results))
    if args.csv:
        results.to_csv(args.csv, index=False)
    return 0


class UnbrokenWordsHelpFormatter(argparse.HelpFormatter):
    """argparse's help layout, except that a line never breaks inside a hyphenated word
    ("log-variance", "1-50"), so help texts read (and match their sources) as written."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def build_parser(full: Collection[str] = COMMANDS) -> argparse.ArgumentParser:
    """The ``polysrl`` argument parser.

    Parameters
    ----------
    full : collection of str, default=all commands
        Sub-commands built with their complete help and choices, which need
        heavier imports (objective names: torch; task names: pandas). The
        others accept the same arguments but list no names, which keeps
        ``polysrl --help`` fast.
    """
    task_help = matbench_help = ""
    heads: tuple[str, ...] | None = None
    if "benchmark" in full:
        from .datasets import MATBENCH_MP_TASKS, MATBENCH_TASKS, TASKS
        from .evaluation import HEADS as heads

        task_help = f"; one or more of: {' '.join(TASKS)}"
        matbench_help = f"; one or more of: {' '.join(MATBENCH_TASKS + MATBENCH_MP_TASKS)}"
    parser = argparse.ArgumentParser(prog="polysrl", description=__doc__.splitlines()[0],
                                     formatter_class=UnbrokenWordsHelpFormatter)
    # every sub-command's parser gets the same help layout
    sub = parser.add_subparsers(dest="command", required=True, parser_class=functools.partial(
        argparse.ArgumentParser, formatter_class=UnbrokenWordsHelpFormatter))
    add_pretrain_parser(sub, full="pretrain" in full)
    b = sub.add_parser("benchmark", help="5-fold CV of frozen features + an evaluation head on the wet-lab tasks")
    b.add_argument("--tasks", nargs="*", default=None,
                   help=f"default: all wet-lab tasks ('--tasks' alone: none){task_help}")
    b.add_argument("--matbench", nargs="*", default=None,
                   help="also these Matbench DFT tasks: CrabNet's folds (e.g. jdft2d phonons dielectric), "
                        f"seeded 72/8/20 folds for mp_gap and mp_e_form{matbench_help}")
    b.add_argument("--methods", nargs="*", default=None,
                   help="default: magpie and every shipped model; a checkpoint path benchmarks that model; "
                        "with --table-from: only these methods' rows, in this order")
    b.add_argument("--head", action="append", choices=heads, default=None,
                   help="evaluation head on the frozen features, repeatable (default: paper; with --table-from: "
                        "print only these heads' rows): 'paper' = the "
                        "paper's 3-layer LeakyReLU MLP on L1 loss, lr 1e-3, 300 epochs (PolySRLRegressor with "
                        "finetune=False; standardised features); 'mlp' = sklearn MLPRegressor; "
                        "'rf' = RandomForestRegressor(n_estimators=500)")
    b.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    b.add_argument("--folds", nargs="+", type=int, choices=range(5), default=[0, 1, 2, 3, 4],
                   help="with --matbench: run only these folds (default: all five)")
    b.add_argument("--fold-log", default=None, metavar="CSV",
                   help="with --matbench: append each finished fold to this file, and take the folds it already "
                        "holds from it instead of running them again (an interrupted run resumes)")
    b.add_argument("--data-dir", default=None, help="shared data folder (default: $POLYSRL_DATA_DIR)")
    b.add_argument("--threads", type=int, default=None)
    b.add_argument("--transfer", action="store_true",
                   help="also fine-tune each encoder (PolySRLRegressor; lr picked on an inner split)")
    b.add_argument("--transfer-only", action="store_true",
                   help="fine-tuning runs only (no frozen-feature runs); the table then sits beside the paper's "
                        "Table 2 PolySRL row")
    b.add_argument("--transfer-epochs", type=int, default=300, help="paper: 500")
    b.add_argument("--device", default="auto")
    b.add_argument("--csv", default=None, help="also write the results here")
    b.add_argument("--table-from", nargs="+", default=None, metavar="CSV",
                   help="run nothing: print the table of saved --csv results; a later file's (task, method, head) "
                        "rows replace an earlier file's")
    b.add_argument("--pool-seeds", action="store_true",
                   help="with --table-from: pool runs made with different seeds (mean and std over all their "
                        "folds) instead of replacing rows")
    b.add_argument("--replace-with", nargs="+", default=None, metavar="CSV",
                   help="with --table-from: these runs replace the (task, method, head) rows they share with it, "
                        "e.g. a method re-run after its model changed")
    b.set_defaults(handler=benchmark_command)
    e = sub.add_parser("export", help="small stoichiometry-only model from a full checkpoint")
    e.add_argument("checkpoint", help="a full checkpoint (or a model file)")
    e.add_argument("output")
    e.add_argument("--delta-of", default=None, metavar="BASE",
                   help="store only the weights that differ from the model file BASE, which must be in OUTPUT's "
                        "folder and is read whenever OUTPUT is loaded (e.g. a variance stage on its first stage)")
    e.set_defaults(handler=export_command)
    add_featurize_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``polysrl`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(full=[command] if command in COMMANDS else []).parse_args(argv)
    args.argv = argv
    threads = _torch_threads()
    try:
        return args.handler(args)
    finally:
        # ``--threads`` is for this command: a caller's process (a notebook, a test run) keeps its setting
        if threads is not None:
            sys.modules["torch"].set_num_threads(threads)


def _torch_threads() -> int | None:
    """torch's intra-op thread count, if torch is imported (the command line imports it lazily)."""
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None


if __name__ == "__main__":
    sys.exit(main())
