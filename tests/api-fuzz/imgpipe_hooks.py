"""Schemathesis hooks for the metadata API (loaded by tests/api-fuzz/run.sh).

`cursor` is opaque and HMAC-signed: only the API makes valid ones, and any other string is
refused with a 400 by design (a forged cursor must never restart a listing silently). A generated
cursor is therefore schema-valid but always rejected, which the positive-data check would report;
generated cases go without one. Pagination is covered by the API's own tests
(tests/tests/api.rs) and by the gallery's browser test.
"""

import schemathesis


@schemathesis.hook
def map_query(ctx, query):
    if query:
        query.pop("cursor", None)
    return query
