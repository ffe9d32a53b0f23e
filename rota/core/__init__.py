"""The domain: value objects, the state machine, the ordering contract. No I/O here."""
