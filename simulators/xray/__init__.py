"""X-ray simulation: polychromatic radiography and CT with exact ray tracing and filtered back-projection."""
