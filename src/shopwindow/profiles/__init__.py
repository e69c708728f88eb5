"""Customer profiles, by layer: model, store, backends, service, staff view."""
