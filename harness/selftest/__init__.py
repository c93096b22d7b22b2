"""The self-test: defect profiles, random topologies, the runner and the detection matrix."""
