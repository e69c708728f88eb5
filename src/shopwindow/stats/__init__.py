"""Experiments: exposures, events, attribution and results."""
