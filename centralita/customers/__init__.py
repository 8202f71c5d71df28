"""Customer profiles, their identities across channels, identity resolution and merge."""
