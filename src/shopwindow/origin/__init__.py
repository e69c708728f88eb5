"""Origin mode: the shop's own site behind shopwindow, personalized on the way."""
