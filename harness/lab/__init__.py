"""The embedded lab cluster: a Hyper-V failover cluster model behind the probe seam."""
