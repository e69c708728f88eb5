"""The placements: each answers its own routes and installs its own hooks."""
