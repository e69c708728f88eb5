"""The HTML results page: a table and an inline SVG chart per experiment (no scripts, no CDN)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
from markupsafe import Markup

from shopwindow.stats.results import NOT_ENOUGH, Arm, Experiment, Thresholds, chance_text, p_text
from shopwindow.stats.store import NO_SPLIT

CHART_WIDTH = 560
LABEL_WIDTH = 96
PLOT_WIDTH = 380
ROW = 30

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>shopwindow · experiment results</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1280px;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin:2rem 0 .2rem}
.meta{color:#666;font-size:.9rem}
table{border-collapse:collapse;margin:.6rem 0;font-variant-numeric:tabular-nums}
th,td{padding:.25rem .6rem;border-bottom:1px solid #e3e3e3;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
.control{background:#f6f6f6}th{white-space:normal;vertical-align:bottom}td.verdict{white-space:normal;text-align:left;min-width:8rem}.scroll{overflow-x:auto}.good{color:#0a7d32}.bad{color:#b3261e}.wait{color:#8a6d00}
form.filter{margin:1rem 0}form.filter input{margin-right:.6rem}
svg{display:block;margin:.4rem 0 1rem}
</style>
</head>
<body>
<h1>Experiment results</h1>
<p class="meta">{{ cohort }} · {{ level }} confidence · lift and significance shown from {{ min_visitors }} visitors and 5 conversions per variant</p>
<form class="filter" method="get">
<label>since <input type="date" name="since" value="{{ since or '' }}"></label>
<label>rule <input name="rule" value="{{ rule or '' }}" size="18"></label>
<button>Show</button>
</form>
{% if not experiments %}<p>No exposures counted yet.</p>{% endif %}
{% for e in experiments %}
<section>
<h2>{{ e.rule }}</h2>
<p class="meta">{% if e.placement %}{{ e.placement }} · {{ e.where }}{% else %}no longer in the rules{% endif %}{% if e.control %} · control: {% if e.control_kind == "holdout" %}the holdout{% else %}{{ e.control }}, the first variant{% endif %}{% endif %}{% if e.control and not e.enough_data %} · <span class="wait">not enough data yet</span>{% endif %}</p>
{{ e.chart }}
<div class="scroll"><table>
<thead><tr><th>variant</th><th>visitors</th><th>exposures</th><th>clicks</th><th>conversions</th><th>conv. rate</th><th>revenue / visitor</th>{% if e.control %}<th>lift vs control</th><th>{{ level }} CI</th><th>p-value</th><th>P(beats)</th><th></th>{% endif %}</tr></thead>
<tbody>
{% for a in e.arms %}
<tr{% if a.control %} class="control"{% endif %}>
<td>{{ a.name }}</td><td>{{ a.visitors }}</td><td>{{ a.exposures }}</td><td>{{ a.clicks }}</td><td>{{ a.conversions }}</td>
<td>{{ a.rate }}</td><td>{{ a.rpv }}</td>
{% if e.control %}<td>{{ a.lift }}</td><td>{{ a.ci }}</td><td>{{ a.p }}</td><td>{{ a.beat }}</td><td class="verdict {{ a.tone }}">{{ a.verdict }}</td>{% endif %}
</tr>
{% endfor %}
</tbody>
</table></div>
</section>
{% endfor %}
</body>
</html>
"""

_CHART = """<svg xmlns="http://www.w3.org/2000/svg" width="{{ width }}" height="{{ height }}" viewBox="0 0 {{ width }} {{ height }}" role="img" aria-label="Conversion rate by variant of {{ rule }}">
<title>Conversion rate by variant of {{ rule }}, with {{ level }} intervals</title>
{% if control_x is not none %}<line x1="{{ control_x }}" y1="2" x2="{{ control_x }}" y2="{{ height - 18 }}" stroke="#999" stroke-dasharray="4 3"/>{% endif %}
{% for b in bars %}
<text x="{{ label_width - 8 }}" y="{{ b.y + 15 }}" text-anchor="end" font-size="13">{{ b.name }}</text>
<rect x="{{ label_width }}" y="{{ b.y + 4 }}" width="{{ b.width }}" height="16" fill="{{ '#9aa5b1' if b.control else '#2f6fdf' }}"/>
<line x1="{{ b.low }}" y1="{{ b.y + 12 }}" x2="{{ b.high }}" y2="{{ b.y + 12 }}" stroke="#1d1d1f" stroke-width="1.5"/>
<line x1="{{ b.low }}" y1="{{ b.y + 7 }}" x2="{{ b.low }}" y2="{{ b.y + 17 }}" stroke="#1d1d1f"/>
<line x1="{{ b.high }}" y1="{{ b.y + 7 }}" x2="{{ b.high }}" y2="{{ b.y + 17 }}" stroke="#1d1d1f"/>
<text x="{{ b.high + 6 }}" y="{{ b.y + 16 }}" font-size="12" fill="#444">{{ b.label }}</text>
{% endfor %}
<text x="{{ label_width }}" y="{{ height - 4 }}" font-size="11" fill="#666">0%</text>
<text x="{{ label_width + plot_width }}" y="{{ height - 4 }}" font-size="11" fill="#666" text-anchor="end">{{ top }}</text>
</svg>"""

_LOGIN = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="robots" content="noindex"><title>shopwindow · results</title>
<style>body{font:15px/1.45 system-ui,sans-serif;margin:4rem auto;max-width:28rem;padding:0 1rem}input{width:100%;margin:.4rem 0 1rem;padding:.4rem}</style></head>
<body>
<h1>Experiment results</h1>
{% if message %}<p role="alert">{{ message }}</p>{% endif %}
<form method="post">
<label for="token">Stats token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<button>Open the report</button>
</form>
</body>
</html>
"""

_env = jinja2.Environment(
    loader=jinja2.DictLoader({"page.html": _PAGE, "chart.svg": _CHART, "login.html": _LOGIN}),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class Bar:
    name: str
    y: int
    width: float
    low: float
    high: float
    label: str
    control: bool


def chart(e: Experiment, thresholds: Thresholds) -> str:
    """Conversion rate of each arm as a bar with its interval; a dashed line at the control."""
    top = max((a.conversion_high for a in e.arms), default=0.0)
    top = max(top, 0.01)

    def x(value: float) -> float:
        return round(LABEL_WIDTH + value / top * PLOT_WIDTH, 1)

    bars = [
        Bar(
            name=_name(a.variant),
            y=i * ROW,
            width=round(a.conversion_rate / top * PLOT_WIDTH, 1),
            low=x(a.conversion_low),
            high=x(a.conversion_high),
            label=f"{a.conversion_rate:.1%}",
            control=a.is_control,
        )
        for i, a in enumerate(e.arms)
    ]
    control = next((a for a in e.arms if a.is_control), None)
    return _env.get_template("chart.svg").render(
        width=CHART_WIDTH,
        height=len(bars) * ROW + 20,
        rule=e.rule,
        level=f"{thresholds.confidence:.0%}",
        bars=bars,
        label_width=LABEL_WIDTH,
        plot_width=PLOT_WIDTH,
        control_x=x(control.conversion_rate) if control is not None else None,
        top=f"{top:.1%}",
    )


def page(
    experiments: Sequence[Experiment],
    thresholds: Thresholds,
    since: str | None,
    rule: str | None,
) -> str:
    shown = [
        {
            "rule": e.rule,
            "placement": e.placement,
            "where": e.where,
            "control": e.control,
            "control_kind": e.control_kind,
            "enough_data": e.enough_data,
            "chart": Markup(chart(e, thresholds)),
            "arms": [_row(a) for a in e.arms],
        }
        for e in experiments
    ]
    cohort = f"visitors first exposed since {since}" if since else "all visitors"
    return _env.get_template("page.html").render(
        experiments=shown,
        cohort=cohort,
        level=f"{thresholds.confidence:.0%}",
        min_visitors=thresholds.min_visitors,
        since=since,
        rule=rule,
    )


def login(message: str | None = None) -> str:
    return _env.get_template("login.html").render(message=message)


def _row(a: Arm) -> dict[str, Any]:
    t = a.totals
    v = a.versus
    tone = ""
    if a.verdict == "better than control":
        tone = "good"
    elif a.verdict == "worse than control":
        tone = "bad"
    elif a.verdict == NOT_ENOUGH:
        tone = "wait"
    lift = ci = p = beat = ""
    if v is not None:
        lift = f"{v.lift:+.1%}" if v.lift is not None else f"{v.difference:+.2%} pts"
        if v.lift_low is not None and v.lift_high is not None:
            ci = f"{v.lift_low:+.1%} to {v.lift_high:+.1%}"
        p = p_text(v.p_value)
        beat = chance_text(v.beat_probability)
    return {
        "name": _name(t.variant),
        "control": a.is_control,
        "visitors": t.visitors,
        "exposures": t.exposures,
        "clicks": t.clicks,
        "conversions": t.converters,
        "rate": f"{a.conversion_rate:.2%}",
        "rpv": f"{a.revenue_per_visitor:.2f}",
        "lift": lift,
        "ci": ci,
        "p": p,
        "beat": beat,
        "verdict": a.verdict if a.verdict and a.verdict != "control" else "",
        "tone": tone,
    }


def _name(variant: str) -> str:
    return "(all)" if variant == NO_SPLIT else variant
