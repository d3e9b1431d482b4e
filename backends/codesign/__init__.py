"""Co-design search: the hardware, the model's shape and the plan searched together.

A design space (``space.py``; the file format in ``space_file.py``; TOML files in
``spaces/``) names a hardware template, the
parameters to search (template keys, ``model.*`` shape knobs, ``plan.*`` pass options), the
constraints, the objectives and reference designs. One candidate (``evaluate.py``) is a
target built from the template (``design.py``), a model shape (``shape.py``), the space's
pass pipeline (``plan.py``: only the stages whose pass exists; ``measure.py``: DynaProp's
sparsity measured on the real model for ``measured=$SPARSITY``) and a simulation. The search
(``search.py``) asks Optuna (NSGA-II, or TPE for one objective) for generations of
candidates and evaluates them in-process or on Ray workers; ``pareto.py`` gives the front,
the best design, the comparison with the references and the plot. A space with a
``cluster`` (``cluster.py``; built-in ``cluster-shape``) trains each candidate shape on
that cluster, planned by the placement search.

    space = load_space("acceltran")
    outcome = run_search(space, toolchain, SearchSettings(trials=200, seed=0, workers=2))
    front = pareto_front(outcome.results, space.objectives)

The toolchain (model import and pass pipeline) comes from the layer above:
``tandem.codesign.ModelToolchain``; ``tandem codesign`` writes the results files.
"""

from backends.codesign.cluster import Placement
from backends.codesign.design import area_of, build_target, design_data, target_toml
from backends.codesign.evaluate import METRICS, Evaluator, Result, Toolchain, candidate_key
from backends.codesign.pareto import (
    best_design,
    dominates,
    front_dominates,
    pareto_front,
    pareto_png,
    ratios,
)
from backends.codesign.search import Outcome, SearchSettings, run_search
from backends.codesign.space import (
    SPACES_DIR,
    Param,
    Reference,
    Space,
    load_space,
    space_names,
)
from backends.codesign.space_file import OBJECTIVES

__all__ = [
    "METRICS",
    "OBJECTIVES",
    "SPACES_DIR",
    "Evaluator",
    "Outcome",
    "Param",
    "Placement",
    "Reference",
    "Result",
    "SearchSettings",
    "Space",
    "Toolchain",
    "area_of",
    "best_design",
    "build_target",
    "candidate_key",
    "design_data",
    "dominates",
    "front_dominates",
    "load_space",
    "pareto_front",
    "pareto_png",
    "ratios",
    "run_search",
    "space_names",
    "target_toml",
]
