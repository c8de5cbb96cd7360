"""Clinic triage and reminder bot."""

__version__ = "0.1.0"
