"""The client's own pages under /p/<slug>/my/ (namespace "my"): no client id in the URL."""

from care.routes import plans as plan_routes
from care.routes import sessions as session_routes
from feedback.my_urls import urlpatterns as checkin_patterns
from portal.exports.my_urls import urlpatterns as own_data_patterns

app_name = "my"

urlpatterns = [*plan_routes.client_patterns, *session_routes.client_patterns]
urlpatterns += checkin_patterns  # the client's check-in pages (feedback/my_urls.py)
urlpatterns += own_data_patterns  # the client's own data (portal/exports/my_urls.py)
