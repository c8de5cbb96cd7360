"""The test suite (a package, so `tests` never resolves to a dependency's stray tests folder)."""
