#!/usr/bin/env python3
"""Draws latency (p50 and p99) against offered load from `rocketws-admin bench --mode sweep --json` files.

usage: plot-latency.py OUT.png SWEEP.json [SWEEP.json ...]
Each file is one sweep (its "label" names the line, e.g. "before (main)" and "after"). The x axis is the
offered rate in msg/s on a log scale; the burst, which has no offered rate, is drawn at the rate it reached
(emits/s) and marked "burst". Also prints the figures as a Markdown table for the README.
Needs matplotlib: `python3 -m venv /tmp/plot-venv && /tmp/plot-venv/bin/pip install matplotlib`.
"""
import json
import sys


def load(path):
    with open(path) as f:
        sweep = json.load(f)
    points = []
    for step in sweep["steps"]:
        burst = step.get("offered_rate") is None
        rate = step["emits_per_second"] if burst else step["offered_rate"]
        points.append((step["step"], rate, step["p50_ms"], step["p99_ms"], step["subscribers"],
                       step["deliveries_per_second"], step["lost"] + step["duplicated"], burst))
    return sweep.get("label", path), points


def table(sweeps):
    print("| load | subscribers | " + " | ".join(f"{label} p50 / p99 ms" for label, _ in sweeps) + " |")
    print("|---|---|" + "---|" * len(sweeps))
    for i, point in enumerate(sweeps[0][1]):
        cells = []
        for _, points in sweeps:
            name, rate, p50, p99, subs, deliv, bad, burst = points[i]
            extra = f" ({deliv / 1e6:.2f} M deliveries/s)" if burst else ""
            cells.append(f"{p50:.2f} / {p99:.2f}{extra}" + (f", {bad} lost+dup" if bad else ""))
        print(f"| {point[0]} | {point[4]} | " + " | ".join(cells) + " |")


def plot(out, sweeps):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=110)
    colors = ["tab:red", "tab:blue", "tab:green", "tab:purple"]
    for (label, points), color in zip(sweeps, colors):
        paced = [p for p in points if not p[7]]
        rates = [p[1] for p in paced]
        ax.plot(rates, [p[2] for p in paced], "o-", color=color, label=f"{label} p50")
        ax.plot(rates, [p[3] for p in paced], "s--", color=color, label=f"{label} p99")
        # The burst has no offered rate: drawn apart, at the rate it reached.
        bursts = [p for p in points if p[7]]
        ax.plot([p[1] for p in bursts], [p[2] for p in bursts], "*", ms=11, color=color)
        ax.plot([p[1] for p in bursts], [p[3] for p in bursts], "*", ms=11, color=color, mfc="none")
        for name, rate, p50, p99, *_ , burst in points:
            if burst or name == "idle":
                ax.annotate(name, (rate, p99), textcoords="offset points", xytext=(4, 6), fontsize=8, color=color)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered load (msg/s; burst: as fast as accepted)")
    ax.set_ylabel("latency, publish to receipt (ms)")
    ax.set_title("RocketWS fan-out latency against load (rocketws-admin bench --mode sweep)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    sweeps = [load(path) for path in argv[2:]]
    table(sweeps)
    plot(argv[1], sweeps)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
