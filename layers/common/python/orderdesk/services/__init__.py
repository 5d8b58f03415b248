"""Use cases. Routes, workflow steps and queue consumers call these and nothing below them."""
