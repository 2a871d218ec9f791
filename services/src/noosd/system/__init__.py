"""org.noos.System1: version, models and caller identity of the running noos."""
