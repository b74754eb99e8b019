"""The live socket's close codes (4000-4999 are the application's own); docs/protocol.md lists them."""

UNAUTHORIZED = 4401
# Not invited to the session, or no longer: access was taken away.
FORBIDDEN = 4403
NOT_FOUND = 4404
# The client did not read fast enough; it resumes by last_seq.
SLOW_CLIENT = 4408
# The person's roles changed: reconnect for a fresh snapshot and permissions.
ROLES_CHANGED = 4409
FLOODING = 4429

# Why a socket whose person's standing changed is closed, by close code.
CLOSE_REASONS = {
    UNAUTHORIZED: "your join link was revoked",
    FORBIDDEN: "no longer invited",
    ROLES_CHANGED: "your roles changed: reconnect",
}
