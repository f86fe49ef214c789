"""The picture of `/ioc stats` (issue 14): a PNG of the numbers the core computed for the asker (bot.domain.
StatsTrends: only what they may see), drawn with matplotlib's Agg backend (no display), at most 200 KB.

Drawing takes a few hundred milliseconds: adapters call `stats_png` through `asyncio.to_thread`, off the event
loop. Every label is drawn as text (`usetex` off, math text off), so a tag or an organization's name is shown
literally, never interpreted.
"""

from __future__ import annotations

import io

from bot.domain import StatsTrends

MAX_BYTES = 200 * 1024
TITLE = "Coalition indicators"


def _literal(text: str, width: int = 28) -> str:
    """A label shown as written: matplotlib's math text starts at `$`, so it is escaped; long ones are cut."""
    text = text if len(text) <= width else text[: width - 1] + "…"
    return text.replace("$", r"\$")


def stats_png(trends: StatsTrends, *, dpi: int = 100) -> bytes:
    """The chart as PNG bytes: submissions and approvals per week, top tags, contributions per organization,
    and the median time to a decision in the title."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 6.5), dpi=dpi, layout="constrained")
    grid = figure.add_gridspec(2, 2, height_ratios=(1.1, 1))
    weekly = figure.add_subplot(grid[0, :])
    tags = figure.add_subplot(grid[1, 0])
    orgs = figure.add_subplot(grid[1, 1])
    median = trends.median_decision_hours
    figure.suptitle(TITLE + (f" · median time to a decision {median:.1f} h" if median is not None else ""),
                    fontsize=13)
    labels = [start.strftime("%d %b") for start in trends.week_starts]
    positions = range(len(labels))
    weekly.bar([p - 0.2 for p in positions], trends.submitted, width=0.4, label="submitted", color="#4c72b0")
    weekly.bar([p + 0.2 for p in positions], trends.approved, width=0.4, label="approved", color="#55a868")
    weekly.set_xticks(list(positions), labels, fontsize=8)
    weekly.set_title("Per week", fontsize=10)
    weekly.legend(fontsize=8)
    for axis, pairs, title in ((tags, trends.top_tags, "Top tags"),
                               (orgs, trends.by_organization, "Contributions per organization")):
        names = [_literal(name) for name, _ in reversed(pairs)]
        axis.barh(range(len(names)), [n for _, n in reversed(pairs)], color="#8172b2")
        axis.set_yticks(range(len(names)), names, fontsize=8)
        axis.set_title(title, fontsize=10)
        if not pairs:
            axis.text(0.5, 0.5, "nothing yet", ha="center", va="center", transform=axis.transAxes)
    for axis in (weekly, tags, orgs):
        axis.tick_params(labelsize=8)
        for label in axis.get_xticklabels() + axis.get_yticklabels():
            label.set_usetex(False)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=dpi, metadata={"Software": None})
    data = out.getvalue()
    if len(data) > MAX_BYTES and dpi > 50:
        return stats_png(trends, dpi=dpi * 3 // 4)
    return data


__all__ = ["MAX_BYTES", "stats_png"]
