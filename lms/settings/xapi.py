"""xAPI (lms.xapi, docs/xapi.md): the learning record store statements are sent to. With no XAPI_LRS_URL nothing is
queued at all."""

from .env import env

# The LRS's xAPI endpoint, e.g. https://lrs.example/xAPI/ (statements go to <endpoint>/statements).
XAPI_LRS_URL: str = env.str("XAPI_LRS_URL", default="")
XAPI_LRS_USERNAME: str = env.str("XAPI_LRS_USERNAME", default="")
XAPI_LRS_PASSWORD: str = env.str("XAPI_LRS_PASSWORD", default="")
# Statements sent in one POST.
XAPI_BATCH_SIZE: int = env.int("XAPI_BATCH_SIZE", default=100)
