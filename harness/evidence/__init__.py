"""Evidence of a run: records, manifest, Allure extras and the plots."""
