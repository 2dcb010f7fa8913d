from django.db import connection, transaction

from portal.rls.db import app_entry_point, rls_bypass


class RowLevelSecurityMiddleware:
    """On PostgreSQL, runs the rest of the request (after PracticeMiddleware) in one transaction.

    The practice the request resolves (request.practice, the practice scope) then reaches the
    database as one transaction-local setting, sent before the first query by portal.rls.db's
    execute wrapper. No request starts with the bypass on; the operator's Django admin
    (deliberately cross-practice, staff only) turns it on in process_view. A 5xx response
    rolls the transaction back, as ATOMIC_REQUESTS would. On SQLite (no RLS; a transaction
    there takes the write lock) the transaction is left out.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with app_entry_point():
            if connection.vendor != "postgresql":
                return self._respond(request)
            with transaction.atomic():
                response = self._respond(request)
                if response.status_code >= 500:
                    transaction.set_rollback(True)
                return response

    def _respond(self, request):
        request._rls_operator = None
        try:
            return self.get_response(request)
        finally:
            if request._rls_operator is not None:
                request._rls_operator.__exit__(None, None, None)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        user = getattr(request, "user", None)
        if (
            match is not None
            and "admin" in match.namespaces
            and user is not None
            and user.is_active
            and user.is_staff
        ):
            # Operator tools: the admin's CrossPracticeAdmin lists every practice's rows.
            request._rls_operator = rls_bypass()
            request._rls_operator.__enter__()
        return None
