"""The Flask web platform: a thin layer over :mod:`vipkb` (arrives with the web issues)."""
