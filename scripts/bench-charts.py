#!/usr/bin/env python3
"""bench-charts.py - the two charts of docs/performance.md, drawn as SVG from
the JSON that `tafel-bench ... --json` prints (scripts/bench-all.sh saves one
file per run).

    scripts/bench-charts.py RESULTS_DIR OUT_DIR

reads RESULTS_DIR/fanout-S*.json and RESULTS_DIR/writes-W*.json and writes
OUT_DIR/perf-fanout.svg (latency p50/p99 against subscribers) and
OUT_DIR/perf-writes.svg (acknowledged writes/s against writers). Plain SVG,
no plotting library: the figures come from the tool, the script only draws
them, so anyone can regenerate the charts from saved results.
"""
import glob
import json
import math
import os
import sys


def figure(result, name):
    for f in result.get("figures", []):
        if f["name"] == name:
            return f
    return None


def load(pattern, option):
    """[(x, result)] sorted by the scenario option `option`."""
    rows = []
    for path in glob.glob(pattern):
        with open(path, encoding="utf-8") as fh:
            result = json.load(fh)
        rows.append((result["options"][option], result))
    return sorted(rows, key=lambda r: r[0])


def nice_max(v):
    """A round axis maximum at or above v."""
    if v <= 0:
        return 1
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * exp >= v:
            return m * exp
    return 10 * exp


def fmt(v):
    """A value as a person reads it: 19,871 or 23.3 or 1.57."""
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def chart(title, xlabel, ylabel, xs, series, target=None, log_x=False, log_y=False):
    """An SVG line chart: xs are the x values, series [(name, colour, ys)];
    target (label, y) draws a dashed horizontal line. log_y spans whole
    1-2-5 steps, so values a hundred times apart stay readable."""
    w, h, left, right, top, bottom = 640, 380, 70, 150, 40, 50
    pw, ph = w - left - right, h - top - bottom
    values = [y for _, _, ys in series for y in ys if y is not None and y > 0]
    ymax = nice_max(max(values + ([target[1] * 1.1] if target else [])))
    steps = [m * 10 ** e for e in range(-3, 9) for m in (1, 2, 5)]
    ymin = max([v for v in steps if v <= min(values)] or [steps[0]]) if log_y else 0
    if log_y:
        ymax = min(v for v in steps if v >= ymax)
    ticks = [v for v in steps if ymin <= v <= ymax] if log_y else [ymax * i / 5 for i in range(6)]

    def px(x):
        if log_x:
            lo, hi = math.log10(xs[0]), math.log10(xs[-1])
            t = (math.log10(x) - lo) / (hi - lo) if hi > lo else 0.5
        else:
            t = (x - xs[0]) / (xs[-1] - xs[0]) if xs[-1] > xs[0] else 0.5
        return left + t * pw

    def py(y):
        if log_y:
            t = (math.log10(y) - math.log10(ymin)) / (math.log10(ymax) - math.log10(ymin))
        else:
            t = y / ymax
        return top + ph - t * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="22" text-anchor="middle" font-size="15">{title}</text>']
    for y in ticks:  # horizontal grid and y labels
        out.append(f'<line x1="{left}" y1="{py(y):.1f}" x2="{left + pw}" y2="{py(y):.1f}" '
                   'stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{fmt(y)}</text>')
    for x in xs:  # x ticks at the measured points
        out.append(f'<line x1="{px(x):.1f}" y1="{top + ph}" x2="{px(x):.1f}" y2="{top + ph + 5}" '
                   'stroke="black"/>')
        out.append(f'<text x="{px(x):.1f}" y="{top + ph + 18}" text-anchor="middle">{x:,}</text>')
    out.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="black"/>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="black"/>')
    out.append(f'<text x="{left + pw / 2}" y="{h - 10}" text-anchor="middle">{xlabel}</text>')
    out.append(f'<text x="16" y="{top + ph / 2}" text-anchor="middle" '
               f'transform="rotate(-90 16 {top + ph / 2})">{ylabel}</text>')
    if target:
        label, ty = target
        out.append(f'<line x1="{left}" y1="{py(ty):.1f}" x2="{left + pw}" y2="{py(ty):.1f}" '
                   'stroke="#c00" stroke-dasharray="6 4"/>')
        out.append(f'<text x="{left + pw + 6}" y="{py(ty) + 4:.1f}" fill="#c00">{label}</text>')
    for k, (name, colour, ys) in enumerate(series):
        pts = [(px(x), py(y)) for x, y in zip(xs, ys) if y is not None]
        if len(pts) > 1:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for (a, b), y in zip(pts, [y for y in ys if y is not None]):
            out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="4" fill="{colour}"/>')
            # The last point's label goes to its left, clear of the legend.
            last = a >= left + pw - 1
            out.append(f'<text x="{a - 6 if last else a + 6:.1f}" y="{b - 6:.1f}" '
                       f'text-anchor="{"end" if last else "start"}" fill="{colour}">{fmt(y)}</text>')
        ly = top + 10 + 18 * k
        out.append(f'<line x1="{left + pw + 10}" y1="{ly}" x2="{left + pw + 30}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{left + pw + 36}" y="{ly + 4}">{name}</text>')
    out.append("</svg>\n")
    return "\n".join(out)


def median_of(result, name):
    f = figure(result, name)
    return f["median"] if f else None


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    results, out_dir = sys.argv[1], sys.argv[2]
    fan = load(os.path.join(results, "fanout-S*.json"), "subscribers")
    if fan:
        xs = [x for x, _ in fan]
        rates = sorted({r["options"]["rate"] for _, r in fan})
        svg = chart(f"Fan-out latency, one writer at {'/'.join(map(str, rates))} writes/s",
                    "subscribers S (log scale)", "latency, ms (log scale)", xs,
                    [("p50", "#1f77b4", [median_of(r, "latency p50") for _, r in fan]),
                     ("p99", "#ff7f0e", [median_of(r, "latency p99") for _, r in fan])],
                    target=("p99 target", 20), log_x=True, log_y=True)
        with open(os.path.join(out_dir, "perf-fanout.svg"), "w", encoding="utf-8") as fh:
            fh.write(svg)
    wr = load(os.path.join(results, "writes-W*.json"), "writers")
    if wr:
        xs = [x for x, _ in wr]
        svg = chart("Durable writes: acknowledged writes/s against writers",
                    "writers W (one put in flight each)", "acknowledged writes/s", xs,
                    [("writes/s", "#2ca02c", [median_of(r, "acked writes per second")
                                              for _, r in wr])],
                    target=("target (W=100)", 50000))
        with open(os.path.join(out_dir, "perf-writes.svg"), "w", encoding="utf-8") as fh:
            fh.write(svg)


if __name__ == "__main__":
    main()
