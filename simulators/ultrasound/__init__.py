"""Ultrasound simulation: scatterers from tissue tables, linear-array pulse-echo RF, delay-and-sum B-mode."""
