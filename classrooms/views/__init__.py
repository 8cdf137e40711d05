"""HTTP views of live sessions, one module per area (each with its own `urlpatterns`)."""
