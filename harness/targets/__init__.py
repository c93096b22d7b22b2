"""Targets: the one registry of target kinds, inventories, the simulated lab, the preflight."""
