"""Generation backends: one small class each over `backends.base.Backend`."""
