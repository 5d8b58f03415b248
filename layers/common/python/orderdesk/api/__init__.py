"""HTTP concerns shared by app.py: auth, error mapping, route registry, OpenAPI, presenters."""
