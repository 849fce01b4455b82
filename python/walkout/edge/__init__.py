"""The edge supervisor: cameras, model, per-frame pipeline and publishing for one edge box."""
