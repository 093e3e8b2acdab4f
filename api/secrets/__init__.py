"""SecretStore adapters: provider tokens and Google refresh tokens, write-only and encrypted."""
