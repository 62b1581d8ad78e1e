"""`nox -s workflows -- TAG`: the GitHub workflows executed here with act, against local stand-ins."""
