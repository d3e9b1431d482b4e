"""Scheduling: which unit runs each op when, per layer, with a list scheduler and CP-SAT.

* ``problem.py``: the solver-neutral problem of one segment (tasks, modes, capacities) and a
  checker;
* ``graph.py``: the entry function as segments (one per layer and phase) of costed tasks;
* ``bounds.py``: critical-path and work lower bounds;
* ``list_scheduler.py``: the greedy critical-path list scheduler (baseline and warm start);
* ``cpsat.py``: the OR-Tools CP-SAT model (PHAZE's scheduling ILP with interval variables);
* ``solve.py``: each distinct segment solved once, the function's schedule composed.

    from backends.schedule.solve import schedule_function
    plan = schedule_function(fn, load_target("acceltran-server"), time_limit=10.0)
"""
