"""First contact with a real cluster: capture every read probe's raw answer, replay it offline."""
