"""The audit domain: the Cluster facade, observations, moves, storage and the checks' helpers."""
