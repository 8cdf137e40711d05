"""HTTP views of live sessions, one module per area; their routes are all in classrooms/urls.py."""
