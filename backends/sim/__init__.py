"""Pieces of the simulator (``backends/simulator.py``): memory lifetimes and terminal text."""
