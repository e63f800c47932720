"""A cohort -> zea files, videos with frame indexes, QC and an HTML report, locally or on Dask.

Run it twice: the second run finds every output built from its source as it is now and redoes
nothing. Kill it half-way and run it again: it finishes what is left.

    python examples/cohort.py [FOLDER ...] [--out results/] [--probe L7] [--dask]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from sonobridge.pipeline.run import process

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", default=[HERE / "clarius"])
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--probe", default="L7", help="probe for captures that do not name one")
    parser.add_argument("--dask", action="store_true", help="run on a local Dask cluster of 2 processes")
    args = parser.parse_args()

    client = None
    if args.dask:
        from dask.distributed import Client, LocalCluster

        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=True))
    try:
        results = process(args.folders, args.out, executor=client, probe=args.probe)
    finally:
        if client is not None:
            client.close()
    for recording, stages in results.items():
        done = ", ".join(f"{stage}: {stages[stage]}" for stage in ("ingest", "qc") if stage in stages)
        print(f"{recording}: {done}")
    print(f"report: {args.out / 'sonobridge-report.html'}")


if __name__ == "__main__":
    main()
