"""The paper's published per-image results (Marivani et al., ICIP 2020), as in its slides.

Two tables (``/work/shared/docs/seed-slides.md``, "Experimental results"): CAVE 640 nm at
x4 and x8 (7 test scenes) and RGB-NIR at x2 and x4 (8 test images), PSNR (dB) and SSIM
for SRFBN, DJF, CoISTA, LMCSC and the proposed network. The slides' row labels are mapped
to the names our datasets give the test images (``Scene.name``): CAVE scene folders, and
``<category>/<id>`` for RGB-NIR, where the slides' ``u-`` is ``urban`` and ``o-`` is
``oldbuilding`` (the categories of ``/work/shared/data/README.md``'s test split).

The published ``Average`` rows are kept as published. Three of them do not equal the mean
of their per-image rows (beyond rounding): CoISTA CAVE x8 SSIM (mean 0.9606, published
0.9615), CoISTA RGB-NIR x2 SSIM (mean 0.9822, published 0.9959: u-0050's 0.8837 is likely
a typo), and LMCSC RGB-NIR x2 / x4 PSNR (means 38.75 / 34.30, published 38.74 / 34.28).
"""

from __future__ import annotations

#: the paper's methods, in the order of its tables
PAPER_MODELS = ("srfbn", "djf", "coista", "lmcsc", "proposed")
#: how the tables title them
PAPER_TITLES = {"srfbn": "SRFBN", "djf": "DJF", "coista": "CoISTA", "lmcsc": "LMCSC",
                "proposed": "Proposed"}
#: our model names (``model.name``) -> the paper's method they reproduce. "Proposed" is the
#: paper's network, ``jointsr_paper`` (free form, k=64, K=7, no skip); ``jointsr``, our fast
#: CPU recipe (factorised, k=32, K=5, learned skip), reproduces no row of the paper.
OUR_MODEL_TO_PAPER = {"srfbn": "srfbn", "djf": "djf", "coista": "coista", "lmcsc": "lmcsc",
                      "jointsr_paper": "proposed"}
#: how a report titles each of our models (the row a reader sees); others go by their name
MODEL_TITLES = {"bicubic": "Bicubic", "srfbn": "SRFBN", "srfbn_s": "SRFBN-S", "djf": "DJF",
                "coista": "CoISTA", "lmcsc": "LMCSC", "jointsr_paper": "Proposed (jointsr_paper)",
                "jointsr": "JointSR-fast (ours, CPU recipe)"}


def model_title(model: str) -> str:
    """The row title of our ``model`` in a report: the paper's name for the methods it
    reproduces, "JointSR-fast (ours, CPU recipe)" for the fast recipe."""
    return MODEL_TITLES.get(model, model)

#: slide row label -> our test image name
CAVE_NAMES = {
    "Chart toy": "chart_and_stuffed_toy",
    "Egyptian": "egyptian_statue",
    "Feathers": "feathers",
    "Glass tiles": "glass_tiles",
    "Jelly beans": "jelly_beans",
    "Oil Paintings": "oil_painting",
    "Paints": "paints",
}
RGBNIR_NAMES = {
    "u-0004": "urban/0004",
    "u-0006": "urban/0006",
    "u-0017": "urban/0017",
    "o-0018": "oldbuilding/0018",
    "u-0020": "urban/0020",
    "u-0026": "urban/0026",
    "o-0030": "oldbuilding/0030",
    "u-0050": "urban/0050",
}

# The slides' rows: label | for each of PAPER_MODELS: PSNR, SSIM at the first scale, then
# PSNR, SSIM at the second scale (x4 then x8 for CAVE, x2 then x4 for RGB-NIR).
_CAVE_ROWS = """
Chart toy     | 33.43 0.9838 27.90 0.8736 37.86 0.9935 32.89 0.9733 36.58 0.9914 33.18 0.9768 40.31 0.9965 34.35 0.9805 40.96 0.9978 34.89 0.9833
Egyptian      | 40.04 0.9822 35.50 0.9755 45.69 0.9922 41.58 0.9850 45.91 0.9961 43.46 0.9906 48.79 0.9981 43.90 0.9966 49.55 0.9991 44.60 0.9967
Feathers      | 35.53 0.9873 30.14 0.9718 40.13 0.9939 31.50 0.9396 39.62 0.9937 32.04 0.9432 41.48 0.9962 36.81 0.9875 42.05 0.9975 37.65 0.9904
Glass tiles   | 29.53 0.9676 23.72 0.9002 34.97 0.9915 29.53 0.9685 33.99 0.9907 27.96 0.9390 34.65 0.9939 30.20 0.9724 36.11 0.9959 30.85 0.9818
Jelly beans   | 32.97 0.9845 25.80 0.9243 39.16 0.9885 30.14 0.9503 38.92 0.9956 30.69 0.9585 39.75 0.9966 34.70 0.9888 41.10 0.9983 34.78 0.9898
Oil Paintings | 32.68 0.9182 31.07 0.9258 37.76 0.9805 35.12 0.9492 37.26 0.9690 35.99 0.9482 39.14 0.9910 36.27 0.9759 39.01 0.9917 35.73 0.9724
Paints        | 36.06 0.9907 28.03 0.9653 39.36 0.9944 31.86 0.9553 38.40 0.9949 33.05 0.9679 38.98 0.9966 35.06 0.9910 40.61 0.9981 35.49 0.9937
Average       | 34.32 0.9735 28.88 0.9338 39.28 0.9906 33.23 0.9602 38.67 0.9902 33.77 0.9615 40.44 0.9955 35.90 0.9847 41.34 0.9969 36.28 0.9869
"""
_RGBNIR_ROWS = """
u-0004        | 35.36 0.9974 29.01 0.9787 34.50 0.9964 31.02 0.9784 35.83 0.9968 31.56 0.9835 37.36 0.9977 33.75 0.9869 38.13 0.9986 34.28 0.9931
u-0006        | 41.08 0.9970 33.73 0.9702 41.52 0.9975 36.04 0.9894 42.40 0.9976 37.21 0.9871 43.60 0.9982 38.74 0.9912 43.98 0.9988 39.83 0.9943
u-0017        | 38.19 0.9950 32.91 0.9725 38.65 0.9961 34.18 0.9815 39.13 0.9953 34.87 0.9777 40.87 0.9967 36.16 0.9828 41.49 0.9978 36.92 0.9874
o-0018        | 36.47 0.9971 28.88 0.9740 34.78 0.9960 30.72 0.9888 37.54 0.9975 32.35 0.9867 39.21 0.9982 34.17 0.9902 41.82 0.9991 36.60 0.9949
u-0020        | 37.50 0.9969 31.44 0.9807 37.35 0.9973 33.60 0.9915 39.00 0.9974 34.75 0.9887 40.98 0.9980 36.95 0.9900 42.14 0.9987 37.56 0.9943
u-0026        | 31.00 0.9782 29.10 0.9702 33.15 0.9939 29.21 0.9397 34.11 0.9944 29.94 0.9708 35.60 0.9963 31.03 0.9784 36.75 0.9978 31.91 0.9843
o-0030        | 35.57 0.9944 29.45 0.9583 35.67 0.9944 31.27 0.9345 36.90 0.9946 32.28 0.9709 38.29 0.9961 33.56 0.9780 39.30 0.9974 33.95 0.9824
u-0050        | 37.06 0.9966 29.89 0.9762 32.60 0.9928 28.58 0.9616 33.53 0.8837 29.42 0.9705 34.11 0.9948 30.04 0.9772 34.85 0.9967 30.47 0.9796
Average       | 36.53 0.9941 30.55 0.9726 36.03 0.9955 31.83 0.9707 37.30 0.9959 32.80 0.9795 38.74 0.9970 34.28 0.9843 39.81 0.9981 35.19 0.9888
"""

Table = dict[str, dict[str, dict[str, float]]]  # paper model -> image (or "mean") -> metric


def _parse(rows: str, names: dict[str, str], scales: tuple[int, int]) -> dict[int, Table]:
    tables: dict[int, Table] = {scale: {model: {} for model in PAPER_MODELS} for scale in scales}
    for line in rows.strip().splitlines():
        label, numbers = (part.strip() for part in line.split("|"))
        values = [float(v) for v in numbers.split()]
        if len(values) != 4 * len(PAPER_MODELS):
            raise ValueError(f"paper row {label!r} has {len(values)} values, expected 20")
        image = "mean" if label == "Average" else names[label]
        for m, model in enumerate(PAPER_MODELS):
            for s, scale in enumerate(scales):
                psnr, ssim = values[4 * m + 2 * s: 4 * m + 2 * s + 2]
                tables[scale][model][image] = {"psnr": psnr, "ssim": ssim}
    return tables


#: (data, scale) -> paper model -> image name (or "mean": the published average) -> metrics
PAPER_RESULTS: dict[tuple[str, int], Table] = {
    **{("cave", s): t for s, t in _parse(_CAVE_ROWS, CAVE_NAMES, (4, 8)).items()},
    **{("rgbnir", s): t for s, t in _parse(_RGBNIR_ROWS, RGBNIR_NAMES, (2, 4)).items()},
}


def paper_table(data: str, scale: int) -> Table | None:
    """The paper's per-image table for one task, or None when the paper has none."""
    return PAPER_RESULTS.get((data, int(scale)))


def paper_result(data: str, scale: int, model: str) -> dict[str, dict[str, float]] | None:
    """The paper's numbers for the method our ``model`` reproduces (None if not in the paper)."""
    table = paper_table(data, scale)
    paper_model = OUR_MODEL_TO_PAPER.get(model)
    return None if table is None or paper_model is None else table[paper_model]
