"""Outbound Guard: stops sensitive customer data from leaving by mail or chat."""

__version__ = "0.1.0"
