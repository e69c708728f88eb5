"""shopwindow: landing-page personalization at the edge."""

__version__ = "0.1.0"
