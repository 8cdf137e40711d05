"""Signing in: failed attempts throttled (django-axes), TOTP for those who turn it on (django-otp), password rules.

Both the site's sign-in and Wagtail's admin go through the one sign-in page (/<lang>/accounts/login/; /admin/login/
leads there), so one throttle and one code prompt cover both."""

from datetime import timedelta

from .env import env

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out account or address before the password is even checked.
    "lms.accounts.backends.SignInThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# After this many failed sign-ins, the account (whatever address it is tried from) and the address (whatever
# account it tries) are each locked out for LOGIN_COOLOFF_MINUTES. A success clears the account's failures.
AXES_FAILURE_LIMIT: int = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "lms.accounts.views.locked_out"
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "lms.accounts.backends.throttled_username"
# Behind the reverse proxy the server (uvicorn --proxy-headers) already puts the client's address in REMOTE_ADDR.
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]
# Sign-ins are recorded for the lockout only, not as an access log of every success.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False

# TOTP (django-otp): the issuer name an authenticator app shows beside the account.
OTP_TOTP_ISSUER: str = env.str("OTP_TOTP_ISSUER", default="Corridor")
# Wrong codes allowed on one pending sign-in before it must start again with the password.
LOGIN_CODE_ATTEMPTS: int = env.int("LOGIN_CODE_ATTEMPTS", default=5)
