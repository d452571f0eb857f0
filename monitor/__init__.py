"""The heart of qualiphone: the canonical call record, the store, the answer-time core."""
