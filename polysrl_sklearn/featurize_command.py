"""``polysrl featurize INPUT OUTPUT``: the command-line face of :func:`~polysrl_sklearn.featurize_job.featurize_file`.

Its arguments are declared here and registered by :mod:`polysrl_sklearn.cli`;
nothing heavy is imported until the command runs.
"""

from __future__ import annotations

import argparse
import sys

#: Rows per chunk by default (the value of :data:`polysrl_sklearn.featurize_job.DEFAULT_CHUNK_SIZE`,
#: repeated here so that ``polysrl --help`` imports nothing heavy; a test checks they agree).
DEFAULT_CHUNK_SIZE = 20_000


def add_featurize_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Declare ``polysrl featurize`` and its arguments on the ``polysrl`` sub-command parsers."""
    f = sub.add_parser("featurize", help="featurize a CSV or Parquet file of formulas into Parquet, in chunks "
                                         "(in this process or on a Dask cluster)",
                       description="Featurize the formula column of INPUT (CSV or Parquet) into OUTPUT (Parquet): "
                                   "the input columns, the features, polysrl_uncertainty and polysrl_error (the "
                                   "message of a row that could not be featurized, whose features are NaN). Chunks "
                                   "are written as part files in OUTPUT.parts/ and assembled at the end; an "
                                   "interrupted run continues with --resume.")
    f.add_argument("input", help="CSV (optionally .gz/.bz2) or Parquet file")
    f.add_argument("output", help="Parquet file to write")
    f.add_argument("--column", default="formula", help="the column of formulas (default: formula)")
    f.add_argument("--model", default="default",
                   help="a shipped model name (default: the shipped PolySRL model) or a model file path")
    f.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE,
                   help=f"rows per chunk and part file; memory grows with it, not with the input (default: "
                        f"{DEFAULT_CHUNK_SIZE})")
    f.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from OUTPUT.parts/ (same input, column, chunk size and model)")
    f.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    f.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the chunks on a Dask cluster: a scheduler address (tcp://host:8786), a scheduler "
                        "file (.json), or 'local' for a new LocalCluster of --workers processes; the workers "
                        "write the part files, so OUTPUT's folder must be shared with them (needs the dask extra)")
    f.add_argument("--workers", type=int, default=None, help="worker processes of --scheduler local (default: CPUs)")
    f.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    f.add_argument("--threads", type=int, default=None, help="torch CPU threads of this process")
    f.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    f.set_defaults(handler=featurize_command)
    return f


def featurize_command(args: argparse.Namespace) -> int:
    """Run the job; refuse a bad setup in one line; after Ctrl-C say how to resume and return 130."""
    from .cli import INTERRUPTED_EXIT_STATUS, resume_hint
    from .featurize_job import featurize_file, parts_folder
    from .model_files import ModelFileError
    from .resume import ResumeError

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        summary = featurize_file(args.input, args.output, column=args.column, pretrained=args.model,
                                 chunk_size=args.chunk_size, device=args.device, resume=args.resume,
                                 overwrite=args.overwrite, scheduler=args.scheduler, workers=args.workers,
                                 progress=args.progress)
    except (FileNotFoundError, FileExistsError, KeyError, ValueError, ImportError, ResumeError,
            ModelFileError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise SystemExit(f"polysrl featurize: {message}") from None
    except KeyboardInterrupt:
        parts = parts_folder(args.output)
        print(f"\ninterrupted: the finished chunks are safe in {parts}; resume with: "
              f"{resume_hint(getattr(args, 'argv', None) or sys.argv[1:])}", file=sys.stderr)
        return INTERRUPTED_EXIT_STATUS
    reused = f"; {summary.reused_chunks} of {summary.chunks} chunks from the interrupted run" if summary.reused_chunks else ""
    print(f"wrote {summary.rows} rows to {summary.output} in {summary.seconds:.1f} s "
          f"({summary.errors} with an error{reused})")
    return 0
