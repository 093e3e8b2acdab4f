"""Provider adapters: one module per cloud billing API."""
