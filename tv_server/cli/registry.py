"""`legaltv registry synth`: fill a data dir with a synthetic box registry for benchmarks."""

from __future__ import annotations

import argparse
import time

from device_registry import synth
from tv_server.cli.context import ProgressBar, add_common, run
from tv_server.demo import ensure_regions


def register(sub) -> None:
    """Add this module's commands; each parser sets `handler=` with set_defaults."""
    reg = sub.add_parser("registry", help="registry tools")
    reg_actions = reg.add_subparsers(dest="action", required=True)
    parser = reg_actions.add_parser("synth", help="fill the data dir with a synthetic registry")
    add_common(parser)
    parser.add_argument("--boxes", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.set_defaults(handler=cmd_synth)


def cmd_synth(args: argparse.Namespace) -> int:
    if not 1 <= args.boxes <= 5_000_000:
        raise ValueError("--boxes must be between 1 and 5000000")
    started = time.perf_counter()

    async def work(db):
        await ensure_regions(db)
        return await synth.synthesize(db, args.boxes, args.seed, progress=ProgressBar())

    summary = run(args, work)
    print(
        f"synthetic registry: {summary['boxes']} boxes, {summary['households']} households"
        f" over {summary['villages']} villages, {summary['usage_events']} usage events"
        f" in {time.perf_counter() - started:.1f} s"
    )
    return 0
