"""What the studies' figures share: a figure drawn without a display, and its finish (labels,
grid, legend, saved at 120 dpi). A study script puts ``experiments/`` on the path to import it::

    sys.path.insert(0, str(Path(__file__).resolve().parents[N]))
    from _plots import finish, new_figure
"""

from __future__ import annotations

from pathlib import Path


def new_figure(size: tuple[float, float] = (7, 4.5)):
    """A figure and its one axis, drawn off-screen (Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)


def finish(figure, axis, path: Path, *, xlabel: str, ylabel: str, title: str) -> None:
    """Label, grid and legend ``axis``, save ``figure`` to ``path`` and say so."""
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    print(f"wrote {path}")
