"""bench/results.svg: each row's ratio ours / competitor against its target, hand-written SVG.

One line per row (the table's order): a bar on a log axis from 1 (parity) to the ratio, green
when the row meets its target, red when it does not, grey for rows without a target; the
target as a black tick on the row; the floor / competitor ratio (what the engine calls alone
would give) as a hollow diamond; the ratio written at the bar's end.
"""

from __future__ import annotations

import math
from html import escape

W, LEFT, RIGHT, TOP, ROW_H = 860, 150, 70, 46, 24
MET, MISSED, INFO = "#2e8b57", "#cc3333", "#9a9a9a"


def svg(rows) -> str:
    rows = [r for r in rows if not r.skipped and r.ours and r.theirs]
    vals = [r.ratio for r in rows] + [r.target_ratio for r in rows if r.target_ratio]
    vals += [r.floor_median / r.theirs_median for r in rows if r.floor_median]
    lo = 10 ** math.floor(math.log10(min(vals + [0.5])))
    hi = 10 ** math.ceil(math.log10(max(vals + [2.0])))
    height = TOP + ROW_H * len(rows) + 56

    def x(v: float) -> float:
        v = min(max(v, lo), hi)
        return LEFT + (W - LEFT - RIGHT) * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" viewBox="0 0 {W} {height}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{height}" fill="white"/>',
           '<text x="10" y="18" font-size="14" font-weight="bold">ratio ours / competitor per row '
           '(log scale; left of 1: ours is faster)</text>']
    # the axis: decades and their 2 and 5
    decade = lo
    bottom = TOP + ROW_H * len(rows)
    while decade <= hi * 1.0001:
        for m in (1, 2, 5):
            v = decade * m
            if v > hi * 1.0001:
                break
            xv = x(v)
            out.append(f'<line x1="{xv:.1f}" y1="{TOP - 6}" x2="{xv:.1f}" y2="{bottom}" stroke="'
                       f'{"#bbbbbb" if m == 1 else "#e6e6e6"}"/>')
            out.append(f'<text x="{xv:.1f}" y="{bottom + 16}" text-anchor="middle" fill="#555">{v:g}</text>')
        decade *= 10
    out.append(f'<line x1="{x(1):.1f}" y1="{TOP - 6}" x2="{x(1):.1f}" y2="{bottom}" stroke="black" '
               'stroke-width="1.5"/>')
    for i, r in enumerate(rows):
        y = TOP + ROW_H * i
        mid = y + ROW_H / 2
        met = r.met()
        color = MET if met == "yes" else MISSED if "no" in met else INFO
        out.append(f'<text x="{LEFT - 8}" y="{mid + 4:.1f}" text-anchor="end">{escape(r.key)}</text>')
        x0, x1 = sorted((x(1), x(r.ratio)))
        out.append(f'<rect x="{x0:.1f}" y="{y + 5}" width="{max(x1 - x0, 1.5):.1f}" height="{ROW_H - 10}" '
                   f'fill="{color}"><title>{escape(r.title)}: {r.ratio:.2f}</title></rect>')
        out.append(f'<text x="{x(r.ratio) + (4 if r.ratio >= 1 else -4):.1f}" y="{mid + 4:.1f}" '
                   f'text-anchor="{"start" if r.ratio >= 1 else "end"}" fill="#222">{r.ratio:.2f}</text>')
        if r.target_ratio:
            xt = x(r.target_ratio)
            out.append(f'<line x1="{xt:.1f}" y1="{y + 1}" x2="{xt:.1f}" y2="{y + ROW_H - 1}" stroke="black" '
                       f'stroke-width="3"><title>target ≤ {r.target_ratio:g}</title></line>')
        if r.floor_median:
            xf, s = x(r.floor_median / r.theirs_median), 5
            out.append(f'<polygon points="{xf:.1f},{mid - s:.1f} {xf + s:.1f},{mid:.1f} {xf:.1f},{mid + s:.1f} '
                       f'{xf - s:.1f},{mid:.1f}" fill="white" stroke="#1f4e9a" stroke-width="1.5">'
                       f'<title>floor / competitor {r.floor_median / r.theirs_median:.2f}</title></polygon>')
    ly = bottom + 36
    legend = [(MET, "target met"), (MISSED, "target not met"), (INFO, "no target (info, scaling)")]
    lx = 10
    for c, t in legend:
        out.append(f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{c}"/>'
                   f'<text x="{lx + 16}" y="{ly}">{t}</text>')
        lx += 30 + 7 * len(t)
    out.append(f'<line x1="{lx + 6}" y1="{ly - 11}" x2="{lx + 6}" y2="{ly + 3}" stroke="black" stroke-width="3"/>'
               f'<text x="{lx + 14}" y="{ly}">target</text>')
    lx += 70
    out.append(f'<polygon points="{lx + 5},{ly - 10} {lx + 10},{ly - 5} {lx + 5},{ly} {lx},{ly - 5}" fill="white" '
               f'stroke="#1f4e9a" stroke-width="1.5"/><text x="{lx + 16}" y="{ly}">floor / competitor (engine calls '
               'alone)</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
