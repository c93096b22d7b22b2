"""Drivers: the probe seam, run_probe(name, params, node), over WinRM or in-process."""
