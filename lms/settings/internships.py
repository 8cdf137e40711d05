"""Internships: how long a logbook file's signed link lives, how often one address may ask for a sign-in link."""

from .env import env

# How long a logbook file's signed URL stays valid (seconds).
INTERNSHIP_FILE_URL_MAX_AGE: int = env.int("INTERNSHIP_FILE_URL_MAX_AGE", default=300)
# Supervisors' "email me a sign-in link" requests one address may make per minute before a 429.
INTERNSHIP_SIGN_IN_RATE: int = env.int("INTERNSHIP_SIGN_IN_RATE", default=10)
