"""``python -m bench`` (``make bench``): measure the local stack against DESIGN.md's bars.

Default: one round with 200 photos through the pipeline and the 45 fruit photos for training (about
4-6 minutes on 2 cores). ``--scale`` repeats the round with 50, 200 and 1000 photos (training and
pipeline alike) to show how each figure grows. Prints a table, writes JSON to bench/results/, and exits
1 when a bar fails.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.report import Bar, Check, figure, machine, table, write_json
from bench.run import Plan, run


def bars(figures: dict[str, Any]) -> list[Bar | Check]:
    vision, pipe, runs = figures["localvision"], figures["pipeline"], figures["retrain"]
    burst, paced = pipe["burst"], pipe["paced"]
    out: list[Bar | Check] = []
    if vision["trainingImages"] == 45:
        out.append(Bar("localvision: training, 45 photos", vision["trainingSeconds"], 30.0, "s"))
    out += [
        Bar("localvision: classify 1024x768 JPEG, p50", vision["classifyLatency"]["p50"], 0.050, "ms"),
        Bar("localvision: RSS after training", vision["memoryAfterTrainingMB"]["rss"], 600.0, "MB"),
        Bar("pipeline / localvision throughput", pipe["ratio"], 0.7, "x", at_most=False),
        Bar("pipeline: blob -> result p95 (paced)", paced["latency"]["p95"], 2.0, "s"),
    ]
    for label, phase in (("burst", burst), ("paced", paced)):
        ok = (
            phase["documents"] == phase["images"] and phase["wrongEtag"] == 0 and phase["errorDocuments"] == 0
        )
        out.append(
            Check(
                f"pipeline ({label}): one ok document per image",
                ok,
                f"{phase['documents']}/{phase['images']} documents, {phase['wrongEtag']} wrong ETag, "
                f"{phase['errorDocuments']} errors",
            )
        )
    nothing, six = runs["nothingNew"], runs["sixNew"]
    out.append(
        Check(
            "retrain with nothing new: no training",
            nothing["status"] == "skipped" and nothing["iteration"] is None,
            f"{nothing['status']}, {nothing['sync']['uploaded']} uploaded",
        )
    )
    out.append(
        Check(
            "retrain with 6 new: uploads only the 6",
            six["status"] == "succeeded" and six["sync"]["uploaded"] == 6,
            f"{six['status']}, uploaded {six['sync']['uploaded']} of {six['sync']['listed']} listed",
        )
    )
    return out


def figures_rows(figures: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    vision, pipe, runs = figures["localvision"], figures["pipeline"], figures["retrain"]
    burst, paced, alone = pipe["burst"], pipe["paced"], pipe["localvisionAlone"]
    rows = [
        figure(f"localvision: training, {vision['trainingImages']} photos", vision["trainingSeconds"], "s"),
        figure("localvision: classify p95", vision["classifyLatency"]["p95"], "ms"),
        figure("localvision: requests/s, concurrency 1", vision["throughput"][1]["perSecond"], "/s"),
        figure("localvision: requests/s, concurrency 4", vision["throughput"][4]["perSecond"], "/s"),
        figure(f"pipeline: burst of {burst['images']}, photos/s", burst["perSecond"], "/s"),
        figure(f"localvision alone, same photos, {alone['concurrency']} threads", alone["perSecond"], "/s"),
        figure("pipeline burst latency p50", burst["latency"]["p50"], "s"),
        figure("pipeline burst latency p95", burst["latency"]["p95"], "s"),
        figure("pipeline burst latency max", burst["latency"]["max"], "s"),
        figure(f"pipeline paced ({paced['rate']:.1f}/s) latency p50", paced["latency"]["p50"], "s"),
        figure("pipeline paced latency max", paced["latency"]["max"], "s"),
    ]
    for stage, values in burst["stages"].items():
        rows.append(figure(f"  burst stage {stage}, mean", values["mean"], "ms"))
    for stage, values in paced["stages"].items():
        if stage in ("poll_delay", "queue_wait", "attempt_total"):
            rows.append(figure(f"  paced stage {stage}, mean", values["mean"], "ms"))
    for key, label in (("first", "first cycle"), ("nothingNew", "nothing new"), ("sixNew", "6 new photos")):
        rows.append(figure(f"retrain: {label} ({runs[key]['status']})", runs[key]["seconds"], "s"))
    rows.append(figure("localvision RSS at the end", figures["memoryAtEndMB"]["localvision"]["rss"], "MB"))
    rows.append(figure("devhost RSS at the end", figures["memoryAtEndMB"]["devhost"]["rss"], "MB"))
    return rows


def scale_rows(rounds: dict[int, dict[str, Any]]) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    sizes = sorted(rounds)
    pick = {
        "training time (s)": lambda f: f"{f['localvision']['trainingSeconds']:.1f}",
        "RSS after training (MB)": lambda f: f"{f['localvision']['memoryAfterTrainingMB']['rss']:.0f}",
        "classify p50 (ms)": lambda f: f"{f['localvision']['classifyLatency']['p50'] * 1000:.1f}",
        "localvision req/s c=1": lambda f: f"{f['localvision']['throughput'][1]['perSecond']:.1f}",
        "localvision req/s c=4": lambda f: f"{f['localvision']['throughput'][4]['perSecond']:.1f}",
        "pipeline photos/s (burst)": lambda f: f"{f['pipeline']['burst']['perSecond']:.1f}",
        "localvision alone photos/s": lambda f: f"{f['pipeline']['localvisionAlone']['perSecond']:.1f}",
        "ratio pipeline/localvision": lambda f: f"{f['pipeline']['ratio']:.2f}",
        "burst latency p95 (s)": lambda f: f"{f['pipeline']['burst']['latency']['p95']:.2f}",
        "paced latency p95 (s)": lambda f: f"{f['pipeline']['paced']['latency']['p95']:.2f}",
        "retrain first cycle (s)": lambda f: f"{f['retrain']['first']['seconds']:.1f}",
        "retrain nothing new (s)": lambda f: f"{f['retrain']['nothingNew']['seconds']:.1f}",
        "retrain 6 new (s)": lambda f: f"{f['retrain']['sixNew']['seconds']:.1f}",
        "  of which sync (s)": lambda f: f"{f['retrain']['sixNew']['steps'].get('sync', float('nan')):.0f}",
        "localvision RSS at end (MB)": lambda f: f"{f['memoryAtEndMB']['localvision']['rss']:.0f}",
    }
    header = ("figure", *(f"{n} photos" for n in sizes))
    return header, [(label, *(fn(rounds[n]) for n in sizes)) for label, fn in pick.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200, help="photos dropped at once (default 200)")
    parser.add_argument("--training", type=int, default=45, help="training photos (default 45: the set)")
    parser.add_argument("--paced", type=int, default=100, help="photos dropped one by one (default 100)")
    parser.add_argument(
        "--scale", nargs="?", const="50,200,1000", metavar="SIZES",
        help="repeat with these sizes for photos and training (default 50,200,1000)",
    )  # fmt: skip
    parser.add_argument("--workdir", type=Path, help="keep the stack's data and logs here (default: temp)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s"
    )
    logging.getLogger("azure").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-") as temp:
        workdir = args.workdir or Path(temp)
        if args.scale:
            sizes = [int(s) for s in args.scale.split(",")]
            rounds = {
                n: run(Plan(images=n, training=n, paced=min(n, args.paced)), workdir / f"scale-{n}")
                for n in sizes
            }
            header, rows = scale_rows(rounds)
            print(table(rows, header))
            checks = [c for n in sizes for c in bars(rounds[n]) if not isinstance(c, Bar) or n == 200]
            path = write_json("scale", {"rounds": {str(n): f for n, f in rounds.items()}}, checks)
        else:
            figures = run(Plan(args.images, args.training, args.paced), workdir / "round")
            checks = bars(figures)
            print(table([c.row() for c in checks], ("bar", "measured", "bar", "result")))
            print()
            print(table(figures_rows(figures), ("figure", "measured", "", "")))
            path = write_json("bench", figures, checks)
    info = machine()
    print(f"\nmachine: {info['nproc']} cores, {info['memoryMB']} MB, {info['cpu']}; JSON: {path}")
    failed = [c.name for c in checks if not c.passed]
    if failed:
        print("FAILED: " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
