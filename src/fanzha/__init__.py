"""fanzha — the platform an anti-telecom-fraud centre runs on."""

__version__ = "0.1.0"
